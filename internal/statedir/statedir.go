// Package statedir finds drover's per-user state directory: where the
// shell keeps its history and the controller its connection files.
package statedir

import (
	"errors"
	"fmt"
	"path/filepath"
)

// Env is the environment variable that overrides the state directory.
const Env = "DROVER_STATE_DIR"

// ErrNoStateDir is returned by Dir when no state directory can be derived
// from the environment.
var ErrNoStateDir = errors.New("no state directory: set DROVER_STATE_DIR, XDG_STATE_HOME or HOME")

// Dir returns drover's state directory, looking variables up with getenv
// (os.Getenv in a program, a map in a test): $DROVER_STATE_DIR if set, else
// $XDG_STATE_HOME/drover, else $HOME/.local/state/drover. Relative values of
// XDG_STATE_HOME are ignored, as the XDG base directory specification says.
// homeDir supplies the home directory when HOME is unset (os.UserHomeDir in
// a program); it may be nil. The directory is not created.
//
// This is the same rule as shell.StateDir (which predates this package).
func Dir(getenv func(string) string, homeDir func() (string, error)) (string, error) {
	if d := getenv(Env); d != "" {
		return d, nil
	}
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "drover"), nil
	}
	home := getenv("HOME")
	if home == "" && homeDir != nil {
		h, err := homeDir()
		if err != nil {
			return "", fmt.Errorf("state directory: %w: %w", ErrNoStateDir, err)
		}
		home = h
	}
	if home == "" {
		return "", fmt.Errorf("state directory: %w", ErrNoStateDir)
	}
	return filepath.Join(home, ".local", "state", "drover"), nil
}
