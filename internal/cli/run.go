package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/script"
	"github.com/drover-dev/drover/shell"
)

// closeTimeout bounds the wait for the session to kill its jobs at the end
// of drover run.
const closeTimeout = 30 * time.Second

// runOptions are the flags of drover run.
type runOptions struct {
	session   sessionOptions
	noWait    bool
	statusNew bool
	progress  bool
}

func newRunCommand(a *app) *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:   "run FILE.star [ARGS...]",
		Short: "Run a Starlark script",
		Long: `Run a Starlark script in the same environment as the shell (the jobs
object and the other predeclared names); argv is [FILE.star, ARGS...].
FILE.star "-" reads the script from standard input.

The script's tc is a task farm of --engines in-process engines (see
docs/tasks.md). An uncaught error prints its Starlark backtrace on standard
error and exits with status 1. At the end of the script, drover run waits for
the running non-daemon jobs (unless --no-wait), then kills the jobs still
running and stops the task farm (tasks not finished by then are dropped: wait
for them with tc.barrier). Flags after FILE.star are passed to the script.

The script may end itself with exit(code) (or quit(code)): drover run then
waits for the jobs as at the end of the script, and exits with that status.

Exit status: 0 success, 1 uncaught error, 2 usage error or unreadable
FILE.star, 130 interrupted by Ctrl-C (which prints KeyboardInterrupt, with
the traceback, as Python), or the code given to exit().`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("run: missing FILE.star")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runScript(cmd.Context(), &opts, args)
		},
	}
	cmd.Flags().SetInterspersed(false) // flags after FILE.star belong to the script
	cmd.Flags().BoolVar(&opts.noWait, "no-wait", false, "do not wait for running jobs at the end of the script (they are killed)")
	cmd.Flags().BoolVar(&opts.statusNew, "status-new", false, "print a line on standard error as each job finishes")
	cmd.Flags().BoolVar(&opts.progress, "progress", false, "show a progress bar for a tc.map or tc.barrier that takes more than half a second, when standard output is a terminal")
	opts.session.addFlags(cmd)
	return cmd
}

// runScript is drover run; args is FILE.star and the script's arguments.
func (a *app) runScript(ctx context.Context, opts *runOptions, args []string) error {
	file := args[0]
	if err := opts.session.farm.check(); err != nil {
		return exitCode(ExitUsage, fmt.Errorf("run: %w", err))
	}
	src, err := a.readScript(file)
	if err != nil {
		return exitCode(ExitUsage, fmt.Errorf("run: %w", err))
	}

	var mu sync.Mutex // one lock for both streams keeps their order
	var out, errw io.Writer = lockedWriter{mu: &mu, w: a.io.Out}, lockedWriter{mu: &mu, w: a.io.Err}
	var progress *shell.ProgressLine
	if opts.progress && isTerminal(a.io.Out) {
		progress = shell.NewProgressLine(out, func() int { return shell.TermWidth(a.io.Out) }, 0)
		out, errw = progress.Writer(out), progress.Writer(errw)
	}
	engineOut := &engineOutput{}
	engineOut.set(out)
	defer engineOut.set(nil)
	farm, err := opts.session.farm.openFarm(ctx, a.io, a.io.Functions(), engineOut)
	if err != nil {
		return exitCode(ExitFailure, fmt.Errorf("run %s: start the task farm: %w", file, err))
	}
	defer func() {
		engineOut.set(nil)
		if err := closeFarm(farm); err != nil {
			fmt.Fprintf(errw, "drover: run %s: %v\n", file, err)
		}
	}()
	sc := opts.session.config(args, farm)
	sc.Stdout, sc.Stderr = out, errw
	if progress != nil {
		sc.Progress = progress.Start
	}
	var notifier *shell.Notifier
	if opts.statusNew {
		notifier = shell.NewNotifier(errw)
		sc.OnJobFinish = notifier.Notify
	}
	closeNotifier := func() {
		if notifier != nil {
			notifier.Close()
		}
	}
	sess, err := script.NewSession(&sc)
	if err != nil {
		closeNotifier()
		return exitCode(ExitFailure, fmt.Errorf("run %s: %w", file, err))
	}

	// Ctrl-C cancels rctx: the script (or the final wait) stops, with a
	// KeyboardInterrupt as in Python.
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var interrupted atomic.Bool
	stopWatch := a.watchInterrupt(func() {
		interrupted.Store(true)
		cancel(script.ErrKeyboardInterrupt)
	})
	defer stopWatch()

	code := ExitOK
	var exit *script.SystemExit
	reported := false // a KeyboardInterrupt was printed
	switch err := sess.ExecFile(rctx, file, src); {
	case errors.As(err, &exit):
		// exit(code): the status, after the usual wait for the jobs.
		if exit.Msg != "" {
			fmt.Fprintln(errw, exit.Msg)
		}
		code = exit.Code
	case err != nil:
		fmt.Fprintln(errw, strings.TrimRight(script.FormatError(err), "\n"))
		reported = errors.Is(err, script.ErrKeyboardInterrupt)
		code = ExitFailure
	}
	if !opts.noWait && rctx.Err() == nil {
		if err := sess.Jobs().WaitAll(rctx); err != nil && rctx.Err() == nil {
			fmt.Fprintf(errw, "drover: run %s: wait for jobs: %v\n", file, err)
			code = ExitFailure
		}
	}
	if interrupted.Load() && !reported {
		// Ctrl-C during the final wait (or as the script ended).
		fmt.Fprintln(errw, "KeyboardInterrupt")
	}
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer ccancel()
	if err := shell.CloseSession(cctx, sess); err != nil {
		fmt.Fprintf(errw, "drover: run %s: %v\n", file, err)
		code = ExitFailure
	}
	stopWatch()
	closeNotifier()
	switch {
	case interrupted.Load():
		return exitCode(ExitInterrupted, nil)
	case ctx.Err() != nil:
		return exitCode(ExitFailure, fmt.Errorf("run %s: %w", file, context.Cause(ctx)))
	case code != ExitOK:
		return exitCode(code, nil)
	}
	return nil
}

// readScript reads FILE.star, or standard input for "-".
func (a *app) readScript(file string) ([]byte, error) {
	if file == "-" {
		src, err := io.ReadAll(a.io.In)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return src, nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return nil, pathError(file, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not a Starlark file", file)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, pathError(file, err)
	}
	return src, nil
}

// pathError returns "FILE: reason" for an error of the os package about
// file (rather than "stat FILE: reason").
func pathError(file string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", file, pe.Err)
	}
	return err
}

// watchInterrupt calls onInterrupt (once) when Ctrl-C arrives, until the
// returned stop function is called; stop waits for the watcher to end.
func (a *app) watchInterrupt(onInterrupt func()) (stop func()) {
	interrupts := a.io.Interrupt
	var unnotify func()
	if interrupts == nil {
		ch := make(chan os.Signal, 1)
		if !signal.Ignored(os.Interrupt) { // (drover run ... & in a script: stays ignored)
			signal.Notify(ch, os.Interrupt)
		}
		unnotify = func() { signal.Stop(ch) }
		interrupts = ch
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-interrupts:
			onInterrupt()
		case <-quit:
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			wg.Wait()
			if unnotify != nil {
				unnotify()
			}
		})
	}
}
