package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/shell"
)

// shellOptions are the flags of drover shell (and of drover with no
// arguments).
type shellOptions struct {
	session   sessionOptions
	stateDir  string
	noHistory bool
}

func (o *shellOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.stateDir, "state-dir", "",
		"directory for the shell's history (default $"+shell.StateDirEnv+", else $XDG_STATE_HOME/drover, else ~/.local/state/drover)")
	cmd.Flags().BoolVar(&o.noHistory, "no-history", false, "do not read or write the history file")
	o.session.addFlags(cmd)
}

func newShellCommand(a *app) *cobra.Command {
	var opts shellOptions
	cmd := &cobra.Command{
		Use:   "shell",
		Short: "Start the interactive Starlark shell",
		Long: `Start the interactive Starlark shell.

Type Starlark statements at the >>> prompt; the jobs object runs work in the
background, and %help lists the shell's magics (%bg, %jobs, %kill). A line
is printed when a background job finishes. Ctrl-C interrupts the running
statement; Ctrl-D exits, asking before it kills running jobs.

When standard input is not a terminal, the shell reads statements without
prompts and, at the end of its input, waits for the running jobs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runShell(cmd.Context(), &opts)
		},
	}
	opts.addFlags(cmd)
	return cmd
}

// runShell runs the shell with opts.
func (a *app) runShell(ctx context.Context, opts *shellOptions) error {
	interactive := isTerminal(a.io.In) && isTerminal(a.io.Out)
	history := ""
	if interactive && !opts.noHistory {
		dir := opts.stateDir
		if dir == "" {
			d, err := shell.StateDir(a.io.Getenv, os.UserHomeDir)
			if err != nil {
				fmt.Fprintf(a.io.Err, "drover: no history: %v\n", err)
			}
			dir = d
		}
		if dir != "" {
			history = filepath.Join(dir, shell.HistoryFileName)
		}
	}
	err := shell.Run(ctx, &shell.Config{
		Stdin:       a.io.In,
		Stdout:      a.io.Out,
		Stderr:      a.io.Err,
		Interactive: interactive,
		HistoryFile: history,
		Interrupt:   a.io.Interrupt,
		Script:      opts.session.config(nil),
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, shell.ErrStatementFailed):
		return exitCode(ExitFailure, nil) // the errors are already printed
	case errors.Is(err, shell.ErrInterrupted):
		return exitCode(ExitInterrupted, nil)
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return exitCode(ExitFailure, fmt.Errorf("shell stopped: %v", context.Cause(ctx)))
	default:
		return exitCode(ExitFailure, err)
	}
}

// isTerminal reports whether the stream is a terminal.
func isTerminal(s any) bool {
	f, ok := s.(*os.File)
	return ok && shell.IsTerminal(f)
}
