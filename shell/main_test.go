package shell

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/drover-dev/drover/script"
)

// shellModeEnv switches the test binary into a drover shell (see TestMain);
// the pty tests run it that way, as os/exec's tests re-execute themselves.
const shellModeEnv = "DROVER_SHELL_TEST_SHELL"

func TestMain(m *testing.M) {
	if os.Getenv(shellModeEnv) == "1" {
		os.Exit(shellMain())
	}
	goleak.VerifyTestMain(m)
}

// shellMain is what `drover shell` does, minus the command line.
func shellMain() int {
	history := ""
	if dir, err := StateDir(os.Getenv, os.UserHomeDir); err == nil {
		history = filepath.Join(dir, HistoryFileName)
	}
	err := Run(context.Background(), &Config{
		Interactive: IsTerminal(os.Stdin) && IsTerminal(os.Stdout),
		HistoryFile: history,
	})
	var exit *script.SystemExit
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.Code
	case errors.Is(err, ErrInterrupted):
		return 130
	case errors.Is(err, ErrStatementFailed):
		return 1
	default:
		fmt.Fprintln(os.Stderr, "drover:", err)
		return 1
	}
}
