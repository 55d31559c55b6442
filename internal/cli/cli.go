// Package cli is the drover command: a cobra command tree whose standard
// streams, environment and interrupt source are injected (IO), so that every
// command can run in-process in a test. cmd/drover only wires it to the
// process.
//
// Commands: drover (no arguments: the shell), drover shell, drover run
// FILE.star [ARGS...], drover version, drover completion bash|zsh|fish|powershell.
//
// To add a command, write a newXxxCommand(*app) *cobra.Command in a file of
// its own and add it in newRoot; flags shared by the commands that open a
// session (the shell and run) go in sessionOptions.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/spf13/cobra"
)

// Exit statuses returned by Main.
const (
	ExitOK          = 0   // success
	ExitFailure     = 1   // the work failed (an uncaught Starlark error, ...)
	ExitUsage       = 2   // bad command line or missing input file
	ExitInterrupted = 130 // stopped by Ctrl-C (128 + SIGINT), as shells report it
)

// IO is the environment a command runs in. The zero value means the
// process's own: os.Stdin, os.Stdout, os.Stderr, os.Getenv and SIGINT.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// Getenv looks up an environment variable ("" when unset). Nil: os.Getenv.
	Getenv func(string) string
	// Interrupt delivers Ctrl-C to the running command. Nil: the command
	// calls signal.Notify(os.Interrupt) while it runs, and stops it after.
	Interrupt <-chan os.Signal
}

// withDefaults fills the zero fields of stdio.
func (stdio IO) withDefaults() IO {
	if stdio.In == nil {
		stdio.In = os.Stdin
	}
	if stdio.Out == nil {
		stdio.Out = os.Stdout
	}
	if stdio.Err == nil {
		stdio.Err = os.Stderr
	}
	if stdio.Getenv == nil {
		stdio.Getenv = os.Getenv
	}
	return stdio
}

// exitError is an error that sets Main's exit status. A nil err means the
// message was already printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode makes an error that ends Main with code; err (may be nil) is
// printed by Main.
func exitCode(code int, err error) error { return &exitError{code: code, err: err} }

// app is what the commands share: the injected IO.
type app struct {
	io IO
}

// Main runs drover with args (without the program name) and returns the
// exit status: ExitOK, ExitFailure, ExitUsage or ExitInterrupted. Errors are
// printed on stdio.Err as "drover: MESSAGE". Cancelling ctx (the process got
// SIGTERM, say) ends the running command, which kills its jobs.
func Main(ctx context.Context, args []string, stdio IO) int {
	a := &app{io: stdio.withDefaults()}
	root := newRoot(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(a.io.Err, "drover: %v\n", ee.err)
		}
		return ee.code
	}
	// Everything else comes from cobra's parsing of the command line.
	fmt.Fprintf(a.io.Err, "drover: %v\nRun 'drover --help' for usage.\n", err)
	return ExitUsage
}

// newRoot builds the command tree.
func newRoot(a *app) *cobra.Command {
	var shellOpts shellOptions
	root := &cobra.Command{
		Use:   "drover",
		Short: "Background jobs and task farming, with Starlark",
		Long: `drover runs background jobs (Starlark expressions and functions, shell
commands) from an interactive Starlark shell or from scripts.

With no arguments, drover starts the shell (drover shell).`,
		Args:          cobra.NoArgs,
		Version:       versionLine(),
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runShell(cmd.Context(), &shellOpts)
		},
	}
	root.SetIn(a.io.In)
	root.SetOut(a.io.Out)
	root.SetErr(a.io.Err)
	root.SetVersionTemplate("{{.Version}}\n") // the same line as drover version
	shellOpts.addFlags(root)
	root.AddCommand(
		newShellCommand(a),
		newRunCommand(a),
		newVersionCommand(),
	)
	return root
}

// lockedWriter serialises writes to w (the session's prints and the job
// notices come from different goroutines).
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
