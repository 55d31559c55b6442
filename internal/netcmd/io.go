package netcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/internal/statedir"
)

// Exit statuses of the commands (the same as internal/cli's).
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // the command failed (a controller that could not start, an engine process that failed)
	ExitUsage   = 2 // bad command line
)

// IO is the environment a command runs in. The zero value means the
// process's own: os.Stdin, os.Stdout, os.Stderr, os.Getenv, SIGINT, the
// running program and its environment. A command's ctx (cobra's
// ExecuteContext) is its life: cancelling it (the process got SIGTERM)
// stops it as SIGINT does.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// Getenv looks up an environment variable ("" when unset). Nil:
	// os.Getenv. It decides the state directory (DROVER_STATE_DIR,
	// XDG_STATE_HOME, HOME) where connection files are by default.
	Getenv func(string) string
	// Interrupt delivers SIGINT to the running command. Nil: the command
	// calls signal.Notify(os.Interrupt) while it runs, and stops it after.
	Interrupt <-chan os.Signal
	// Executable returns the drover program that drover engine -n N starts
	// for each engine process (with the arguments "engine -n 1 ...", the
	// command path of the engine command). Nil: os.Executable.
	Executable func() (string, error)
	// Environ is the environment of the engine processes drover engine -n N
	// starts. Nil: os.Environ.
	Environ func() []string
	// Functions returns the Go functions an engine offers to map tasks
	// (by name). Nil: the built-in set noop, echo, sleep and fail, as the
	// in-process farm of drover shell and drover run.
	Functions func() *drover.Registry
	// MaxProcs sets how many threads run Go code at once in this process
	// (--gomaxprocs of drover engine, controller and bench) and returns
	// the previous setting, as runtime.GOMAXPROCS. Nil:
	// runtime.GOMAXPROCS. Tests that run a command inside their own
	// process give one that records instead.
	MaxProcs func(n int) int
}

// WithDefaults returns stdio with its zero fields filled in.
func (stdio IO) WithDefaults() IO {
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
	if stdio.Executable == nil {
		stdio.Executable = os.Executable
	}
	if stdio.Environ == nil {
		stdio.Environ = os.Environ
	}
	if stdio.Functions == nil {
		stdio.Functions = BuiltinFunctions
	}
	if stdio.MaxProcs == nil {
		stdio.MaxProcs = runtime.GOMAXPROCS
	}
	return stdio
}

// gomaxprocsFlag adds --gomaxprocs to cmd, into n (0: Go's default, every
// CPU the process may use; def says what not giving it means).
func gomaxprocsFlag(cmd *cobra.Command, n *int, what, def string) {
	cmd.Flags().IntVar(n, "gomaxprocs", 0, "threads running Go code at once in "+what+
		" (runtime.GOMAXPROCS; default: "+def+"; 0: Go's default, the CPUs the process may use; the GOMAXPROCS environment variable wins over the default)")
}

// cpuShare is each process's share of cpus CPUs among n processes: at
// least 1.
func cpuShare(cpus, n int) int { return max(1, cpus/max(1, n)) }

// ControllerShare is the part of the CPUs a controller's process takes
// by default: a quarter (at least 1 thread). Its loop is one goroutine,
// and its NATS server's work per message is small; fewer threads spare
// each message the wake-ups of idle ones (on the 2-CPU machine it was
// measured on, one thread was faster than two in every case: round trips,
// throughput, 100 engine processes, durable), and the rest of the machine
// is left to the engines that often share it.
const ControllerShare = 4

// gomaxprocs returns the GOMAXPROCS a command sets (0: none, Go's
// default stays): --gomaxprocs given (0: Go's default), else none when
// the environment sets GOMAXPROCS, else a share of the CPUs Go gives this
// process among n (cpuShare). For drover engine, n is -n: engines that
// fill the machine run on one thread each (an engine runs one task at a
// time, and a single thread spares it the wake-ups of idle threads on
// every message), and fewer engines than CPUs keep the spare ones for
// their garbage collector. For drover controller, n is ControllerShare.
func (stdio IO) gomaxprocs(cmd *cobra.Command, given, n int) int {
	if cmd.Flags().Changed("gomaxprocs") {
		return given
	}
	if _, ok := envGomaxprocs(stdio.Getenv); ok {
		return 0
	}
	return cpuShare(stdio.MaxProcs(0), n)
}

// envGomaxprocs returns the GOMAXPROCS the environment sets, when Go
// takes it (a positive integer; Go ignores any other value).
func envGomaxprocs(getenv func(string) string) (int, bool) {
	n, err := strconv.Atoi(getenv("GOMAXPROCS"))
	return n, err == nil && n > 0
}

// checkGomaxprocs checks a --gomaxprocs value.
func checkGomaxprocs(n int) error {
	if n < 0 {
		return usage("--gomaxprocs %d: want 0 (Go's default) or more", n)
	}
	return nil
}

// applyGomaxprocs sets this process's GOMAXPROCS to n unless n is 0
// (Go's default) or already the setting.
func (stdio IO) applyGomaxprocs(n int) {
	if n > 0 && n != stdio.MaxProcs(0) {
		stdio.MaxProcs(n)
	}
}

// stateDir is the directory of the connection files of the controller
// started by this user.
func (stdio IO) stateDir() (string, error) { return statedir.Dir(stdio.Getenv, os.UserHomeDir) }

// interruptible returns a ctx that ends with parent or at the first
// SIGINT (see stopSignals), and its stop function, which must be called.
func (stdio IO) interruptible(parent context.Context) (context.Context, context.CancelFunc) {
	s := stdio.stopSignals(parent)
	return s.ctx, s.stop
}

// stopping is how a long-running command (controller, engine) is asked to
// stop: ctx ends at the first request (parent ends: SIGTERM, see
// cmd/drover; or a first SIGINT: stop gracefully), now is closed at the
// next SIGINT (stop at once: a user pressing Ctrl-C again does not want to
// wait; more SIGTERMs change nothing, see cmd/drover).
type stopping struct {
	ctx  context.Context
	now  <-chan struct{}
	stop context.CancelFunc // must be called; ends the signal handling
}

// stopSignals watches stdio.Interrupt, or, when it is nil, the process's
// SIGINT, unless the process ignores it (a background job of a
// non-interactive shell: it stays ignored).
func (stdio IO) stopSignals(parent context.Context) *stopping {
	ctx, cancel := context.WithCancelCause(parent)
	ch := stdio.Interrupt
	var sig chan os.Signal
	if ch == nil {
		sig = make(chan os.Signal, 1)
		if !signal.Ignored(os.Interrupt) {
			signal.Notify(sig, os.Interrupt)
		}
		ch = sig
	}
	now := make(chan struct{})
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case s := <-ch:
			cancel(fmt.Errorf("got %v", s))
		case <-ctx.Done(): // parent ended (SIGTERM via main, a test)
		case <-done:
			return
		}
		select {
		case <-ch:
			close(now)
		case <-done:
		}
	}()
	return &stopping{ctx: ctx, now: now, stop: func() {
		close(done)
		<-stopped
		if sig != nil {
			signal.Stop(sig)
		}
		cancel(nil)
	}}
}

// ExitError is an error that sets the exit status of the command that
// returns it (internal/cli's Main maps it with ExitCode). A nil Err means
// the message was already printed.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// failure wraps err as an ExitError with ExitFailure.
func failure(err error) error { return &ExitError{Code: ExitFailure, Err: err} }

// usage makes a usage error (ExitUsage).
func usage(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// ExitCode returns the exit status for err as the commands of this
// package mean it: ExitOK for nil, an ExitError's code, else ExitUsage
// (cobra's errors are about the command line).
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitUsage
}

// newLogger returns the slog logger of a command: text on w, at level.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "info", "":
		l = slog.LevelInfo
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return nil, usage("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
