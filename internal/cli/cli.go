// Package cli is the drover command: a cobra command tree whose standard
// streams, environment and interrupt source are injected (IO), so that every
// command can run in-process in a test. cmd/drover only wires it to the
// process.
//
// Commands: drover (no arguments: the shell), drover shell, drover run
// FILE.star [ARGS...], drover version, drover completion
// bash|zsh|fish|powershell, and from package netcmd the network ones:
// drover controller, engine, status, engines and bench. drover shell and
// drover run take --connect to use a controller instead of their
// in-process farm.
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
	"sync"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/internal/netcmd"
)

// Exit statuses returned by Main.
const (
	ExitOK          = netcmd.ExitOK      // success
	ExitFailure     = netcmd.ExitFailure // the work failed (an uncaught Starlark error, a controller that could not start, ...)
	ExitUsage       = netcmd.ExitUsage   // bad command line or missing input file
	ExitInterrupted = 130                // stopped by Ctrl-C (128 + SIGINT), as shells report it
)

// IO is the environment a command runs in: standard streams, environment,
// interrupt source, and what drover engine starts. The zero value means
// the process's own (see netcmd.IO).
type IO = netcmd.IO

// exitCode makes an error that ends Main with code; err (may be nil: the
// message was already printed) is printed by Main.
func exitCode(code int, err error) error { return &netcmd.ExitError{Code: code, Err: err} }

// app is what the commands share: the injected IO.
type app struct {
	io IO
}

// Main runs drover with args (without the program name) and returns the
// exit status: ExitOK, ExitFailure, ExitUsage or ExitInterrupted. Errors are
// printed on stdio.Err as "drover: MESSAGE". Cancelling ctx (the process got
// SIGTERM, say) ends the running command, which kills its jobs.
func Main(ctx context.Context, args []string, stdio IO) int {
	a := &app{io: stdio.WithDefaults()}
	root := newRoot(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *netcmd.ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(a.io.Err, "drover: %v\n", ee.Err)
		}
		return ee.Code
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
		// The network commands; engine must stay a direct child of the
		// root: drover engine -n N starts "drover engine -n 1 ...".
		netcmd.Controller(a.io),
		netcmd.Engine(a.io),
		netcmd.Status(a.io),
		netcmd.Engines(a.io),
		netcmd.Bench(a.io),
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
