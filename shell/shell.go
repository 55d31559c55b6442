package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/bgjob"
	"github.com/drover-dev/drover/script"
)

// Prompts.
const (
	PS1 = ">>> " // primary prompt
	PS2 = "... " // continuation prompt (a statement needs more lines)
)

// DefaultHistoryLimit is the number of entries (statements) kept in the
// history file when Config.HistoryLimit is 0.
const DefaultHistoryLimit = 1000

// closeTimeout bounds how long Run waits, on its way out, for the session to
// kill its jobs (a command job gets SIGTERM, then SIGKILL after its grace).
const closeTimeout = 30 * time.Second

// Errors returned by Run; test with errors.Is.
var (
	// ErrStatementFailed: in non-interactive mode, at least one statement
	// raised an error (already printed on standard error).
	ErrStatementFailed = errors.New("shell: a statement failed")
	// ErrInterrupted: in non-interactive mode, Ctrl-C (SIGINT) stopped the
	// shell.
	ErrInterrupted = errors.New("shell: interrupted")
)

// Config configures Run. The zero value runs a non-interactive shell on the
// process's standard streams.
type Config struct {
	// Stdin is where input lines are read. Defaults to os.Stdin.
	Stdin io.Reader
	// Stdout receives expression values, print output and notices.
	// Defaults to os.Stdout.
	Stdout io.Writer
	// Stderr receives errors and backtraces. Defaults to os.Stderr.
	Stderr io.Writer

	// Interactive turns on line editing (prompts, history, completion,
	// notices above the prompt, the exit question). Line editing switches
	// the process's standard input (file descriptor 0) to raw mode while a
	// line is read, so set it only when Stdin is that terminal, typically
	// IsTerminal(os.Stdin) && IsTerminal(os.Stdout).
	Interactive bool

	// HistoryFile is the file where interactive statements are kept across
	// sessions; its directory is created (mode 0700) if missing. Empty: no
	// history file. Usually StateDir()/HistoryFileName.
	HistoryFile string
	// HistoryLimit is the number of statements kept in the history file;
	// 0 means DefaultHistoryLimit, a negative value is an error.
	HistoryLimit int

	// Interrupt delivers Ctrl-C. Nil: Run calls signal.Notify for
	// os.Interrupt itself and stops it before returning. Tests pass their
	// own channel.
	Interrupt <-chan os.Signal

	// Script is the template of the session's configuration (argv, the
	// task client); the shell sets its Stdout, Stderr and OnJobFinish
	// (calling Script.OnJobFinish too, if set), and, when Interactive and
	// Script.Progress is nil, its Progress: tc.map and tc.barrier typed at
	// the prompt show a progress bar (ProgressLine) when they take longer
	// than ProgressDelay.
	Script script.Config

	// ProgressDelay is how long a foreground tc.map or tc.barrier runs
	// before its progress bar appears; 0 means DefaultProgressDelay.
	ProgressDelay time.Duration

	// OnStart, if set, is called once the shell's output writers exist,
	// before the first statement runs, with the writers the session uses
	// (in interactive mode they print above the prompt without breaking
	// the line being typed). They may be used from any goroutine until Run
	// returns. drover uses them for the print output of its engines.
	OnStart func(stdout, stderr io.Writer)
}

// shell is the state of one Run.
type shell struct {
	cfg    Config
	out    io.Writer // standard output as the session and magics see it
	errw   io.Writer // standard error, likewise
	sess   *script.Session
	notify *Notifier // nil when not interactive
	// progress draws the progress bars of foreground statements; nil when
	// not interactive.
	progress *ProgressLine

	jobsNew starlark.Callable // the session's jobs.new, for %bg EXPR

	mu         sync.Mutex              // guards foreground and stopping
	foreground context.CancelCauseFunc // cancels the statement (or wait) in progress, if any
	ctrlC      bool                    // Ctrl-C interrupted the foreground statement
	stopping   bool                    // set once, when stopped is closed
	stopped    chan struct{}           // closed when the shell must end (ctx cancelled; Ctrl-C when not interactive)

	// exiting is set when the shell closes its session: from then on,
	// daemon jobs are killed without a notice.
	exiting atomic.Bool
	// historyFailed: a write to the history file failed (reported once).
	historyFailed bool
	// interruptShown: a KeyboardInterrupt was printed (used by the
	// shell's goroutine only).
	interruptShown bool
}

// Run runs the shell until the input ends (or, interactively, the user
// leaves with Ctrl-D or exit()) or ctx is cancelled, then kills the jobs
// still running and closes the session (see CloseSession). It returns nil
// on a normal end; a *script.SystemExit when a statement called exit(code)
// with a code other than 0 (its Code is the status the program should
// exit with); ErrStatementFailed or ErrInterrupted in non-interactive mode
// (see those); ctx.Err() when ctx was cancelled; otherwise an error naming
// what failed (bad Config, session or terminal set-up, reading the input).
//
// Every goroutine Run starts has ended when it returns, with one exception
// that no Go program can avoid: when the shell is stopped (ctx, or Ctrl-C
// without a terminal) while a Read of Stdin is blocked, that Read cannot be
// interrupted; the goroutine doing it ends when the Read returns (a line, the
// end of input, or the process exiting).
func Run(ctx context.Context, cfg *Config) error {
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	if c.Stdin == nil {
		c.Stdin = os.Stdin
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	if c.HistoryLimit < 0 {
		return fmt.Errorf("shell: Config.HistoryLimit %d: must not be negative", c.HistoryLimit)
	}
	if c.HistoryLimit == 0 {
		c.HistoryLimit = DefaultHistoryLimit
	}
	sh := &shell{cfg: c, stopped: make(chan struct{})}

	interrupts := c.Interrupt
	if interrupts == nil {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt)
		defer signal.Stop(ch)
		interrupts = ch
	}
	if c.Interactive {
		return sh.runInteractive(ctx, interrupts)
	}
	return sh.runBatch(ctx, interrupts)
}

// newSession starts the script session writing to out and errw.
func (sh *shell) newSession(onFinish func(*bgjob.Job)) error {
	sc := sh.cfg.Script
	sc.Stdout = sh.out
	sc.Stderr = sh.errw
	if sc.Help == "" {
		sc.Help = helpText
	}
	user := sc.OnJobFinish
	sc.OnJobFinish = func(j *bgjob.Job) {
		if onFinish != nil && !(j.Daemon() && sh.exiting.Load()) {
			onFinish(j)
		}
		if user != nil {
			user(j)
		}
	}
	if sh.progress != nil && sc.Progress == nil {
		sc.Progress = sh.progress.Start
	}
	sess, err := script.NewSession(&sc)
	if err != nil {
		return fmt.Errorf("shell: start session: %w", err)
	}
	sh.sess = sess
	if sh.cfg.OnStart != nil {
		sh.cfg.OnStart(sh.out, sh.errw)
	}
	sh.jobsNew = lookupJobsNew(sess.Globals())
	return nil
}

// closeSession kills the jobs still running and closes the session,
// reporting an error on standard error. Daemon jobs are killed silently;
// the others get a notice.
func (sh *shell) closeSession(ctx context.Context) {
	sh.exiting.Store(true)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	if err := CloseSession(cctx, sh.sess); err != nil {
		fmt.Fprintf(sh.errw, "drover: %v\n", err)
	}
}

// CloseSession kills every unfinished job of sess (daemon or not; a command
// job gets SIGTERM, then SIGKILL after its grace delay) and closes sess,
// waiting for the jobs to end. The wait for the jobs is bounded by ctx only
// as far as bgjob.Manager.Close bounds it.
func CloseSession(ctx context.Context, sess *script.Session) error {
	for _, j := range sess.Jobs().Jobs() {
		if !j.Finished() {
			_ = j.Kill() // fails only if it has just finished
		}
	}
	if err := sess.Close(ctx); err != nil {
		return fmt.Errorf("close session: %w", err)
	}
	return nil
}

// watch runs until stop is closed, turning interrupts into cancellation of
// the foreground statement (and, with stopOnInterrupt, into the end of the
// shell), ctx cancellation into the end of the shell, and resizes into
// onResize.
func (sh *shell) watch(ctx context.Context, w watchers, stop <-chan struct{}) {
	done := ctx.Done()
	for {
		select {
		case <-stop:
			return
		case <-done:
			done = nil
			sh.interruptForeground(true, context.Cause(ctx))
			if w.onCancel != nil {
				w.onCancel()
			}
		case <-w.interrupts:
			sh.mu.Lock()
			sh.ctrlC = sh.foreground != nil
			sh.mu.Unlock()
			sh.interruptForeground(w.stopOnInterrupt, script.ErrKeyboardInterrupt)
		case <-w.resize:
			if w.onResize != nil {
				w.onResize()
			}
		}
	}
}

// watchers says what watch listens to and what it does.
type watchers struct {
	interrupts      <-chan os.Signal // Ctrl-C
	stopOnInterrupt bool             // Ctrl-C also ends the shell
	onCancel        func()           // called once when ctx is cancelled; may be nil
	resize          <-chan os.Signal // SIGWINCH; may be nil
	onResize        func()           // called on resize; may be nil
}

// interruptForeground cancels the running statement, if any, with cause
// (script.ErrKeyboardInterrupt for Ctrl-C). With stop, the shell is also
// told to stop (non-interactive Ctrl-C, ctx cancelled).
func (sh *shell) interruptForeground(stop bool, cause error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.foreground != nil {
		sh.foreground(cause)
	}
	if stop && !sh.stopping {
		sh.stopping = true
		close(sh.stopped)
	}
}

// execute runs one chunk of source in the session, prints the value of a
// sole expression (not None) on out and an error's backtrace on errw (for
// Ctrl-C, ending with "KeyboardInterrupt", as Python). It reports whether
// the chunk ran without error and, when it called exit() or quit(), the
// request to leave (its message, if any, is printed on errw).
func (sh *shell) execute(ctx context.Context, src string) (ok bool, exit *script.SystemExit) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if !sh.setForeground(cancel) {
		return false, nil
	}
	v, isExpr, err := sh.sess.Exec(rctx, "<stdin>", src)
	sh.setForeground(nil)
	sh.mu.Lock()
	ctrlC := sh.ctrlC
	sh.ctrlC = false
	sh.mu.Unlock()
	if errors.As(err, &exit) {
		if exit.Msg != "" {
			fmt.Fprintln(sh.errw, exit.Msg)
		}
		return true, exit
	}
	if err != nil {
		if ctrlC && sh.cfg.Interactive {
			// The terminal echoed ^C where the cursor was.
			io.WriteString(sh.errw, "\n")
		}
		fmt.Fprintln(sh.errw, strings.TrimRight(script.FormatError(err), "\n"))
		sh.interruptShown = errors.Is(err, script.ErrKeyboardInterrupt)
		return false, nil
	}
	if isExpr && v != nil && v != starlark.None {
		fmt.Fprintln(sh.out, v.String())
	}
	return true, nil
}

// exitErr is what Run returns when the user left with exit(code): nil for
// status 0, else the *script.SystemExit.
func exitErr(exit *script.SystemExit) error {
	if exit == nil || exit.Code == 0 {
		return nil
	}
	return exit
}

// setForeground records cancel as the way to interrupt what the shell is
// doing now (nil: nothing). It reports false, doing nothing, when the shell
// is already stopping.
func (sh *shell) setForeground(cancel context.CancelCauseFunc) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if cancel != nil && sh.stopping {
		return false
	}
	sh.foreground = cancel
	return true
}

// isStopping reports whether the shell was told to stop.
func (sh *shell) isStopping() bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.stopping
}
