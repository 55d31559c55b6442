package shell

import "github.com/drover-dev/drover/internal/statedir"

// StateDirEnv is the environment variable that overrides drover's state
// directory (where the shell keeps its history).
const StateDirEnv = statedir.Env

// HistoryFileName is the name of the history file in the state directory.
const HistoryFileName = "history"

// ErrNoStateDir is returned by StateDir when no state directory can be
// derived from the environment.
var ErrNoStateDir = statedir.ErrNoStateDir

// StateDir returns drover's state directory, looking variables up with
// getenv (os.Getenv in a program, a map in a test):
// $DROVER_STATE_DIR if set, else $XDG_STATE_HOME/drover, else
// $HOME/.local/state/drover. Relative values of XDG_STATE_HOME are ignored, as
// the XDG base directory specification says. homeDir supplies the home
// directory when HOME is unset (os.UserHomeDir in a program); it may be nil.
// The directory is not created. It is internal/statedir's rule, which the
// controller's connection files (package fabric) share.
func StateDir(getenv func(string) string, homeDir func() (string, error)) (string, error) {
	return statedir.Dir(getenv, homeDir)
}
