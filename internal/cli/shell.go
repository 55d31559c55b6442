package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/script"
	"github.com/drover-dev/drover/shell"
)

// shellOptions are the flags of drover shell (and of drover with no
// arguments).
type shellOptions struct {
	session       sessionOptions
	stateDir      string
	noHistory     bool
	progressDelay time.Duration
}

func (o *shellOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.stateDir, "state-dir", "",
		"directory for the shell's history (default $"+shell.StateDirEnv+", else $XDG_STATE_HOME/drover, else ~/.local/state/drover)")
	cmd.Flags().BoolVar(&o.noHistory, "no-history", false, "do not read or write the history file")
	cmd.Flags().DurationVar(&o.progressDelay, "progress-delay", shell.DefaultProgressDelay, "how long a tc.map or tc.barrier at the prompt runs before its progress bar appears")
	_ = cmd.Flags().MarkHidden("progress-delay") // for tests
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
is printed when a background job finishes. tc is a task farm of --engines
in-process engines (see docs/tasks.md); a tc.map or tc.barrier that takes more
than half a second shows a progress bar. Ctrl-C interrupts the running
statement; Ctrl-D exits, asking before it kills running jobs (the task farm
stops with the shell).

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
	if err := opts.session.farm.check(); err != nil {
		return exitCode(ExitUsage, fmt.Errorf("shell: %w", err))
	}
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
	engineOut := &engineOutput{}
	farm, err := opts.session.farm.openFarm(ctx, a.io, a.io.Functions(), engineOut)
	if err != nil {
		return exitCode(ExitFailure, fmt.Errorf("shell: start the task farm: %w", err))
	}
	err = shell.Run(ctx, &shell.Config{
		Stdin:         a.io.In,
		Stdout:        a.io.Out,
		Stderr:        a.io.Err,
		Interactive:   interactive,
		HistoryFile:   history,
		Interrupt:     a.io.Interrupt,
		Script:        opts.session.config(nil, farm),
		ProgressDelay: opts.progressDelay,
		OnStart:       func(stdout, _ io.Writer) { engineOut.set(stdout) },
	})
	engineOut.set(nil)
	if cerr := closeFarm(farm); cerr != nil {
		fmt.Fprintf(a.io.Err, "drover: %v\n", cerr)
	}
	var exit *script.SystemExit
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit):
		return exitCode(exit.Code, nil) // exit(code)
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
