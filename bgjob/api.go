package bgjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"syscall"
	"time"
)

// State is the state of a job. Its values match IPython's stat_*_c
// constants. A job returned by Manager.New is already Running: Created is
// the state of a zero Job (and of a job between its registration and its
// start, inside New). It is a plain value, safe to copy and share.
type State int

// Job states.
const (
	Dead      State = -1
	Created   State = 0
	Running   State = 1
	Completed State = 2
)

// String returns the status text IPython prints for the state.
func (s State) String() string {
	switch s {
	case Dead:
		return "Dead (Exception), call jobs.traceback() for details"
	case Created:
		return "Created"
	case Running:
		return "Running"
	case Completed:
		return "Completed"
	}
	return "State(" + itoa(int(s)) + ")"
}

// Kind is the kind of a job. It is a plain value, safe to copy and share.
type Kind int

// Job kinds.
const (
	FuncJob Kind = iota
	ExprJob
	CommandJob
)

// String returns "function", "expression" or "command".
func (k Kind) String() string {
	switch k {
	case FuncJob:
		return "function"
	case ExprJob:
		return "expression"
	case CommandJob:
		return "command"
	}
	return "Kind(" + itoa(int(k)) + ")"
}

// Func is the canonical function job. ctx is cancelled when the job is
// killed (Kill, or Close of its manager), with context.Cause ErrKilled; the
// function should return promptly then: killing a function job is
// cooperative. ctx is also cancelled when the function returns. OutputFrom(ctx) is the job's
// output writer. The job's goroutine calls it once.
type Func func(ctx context.Context) (any, error)

// Evaluator compiles expressions for expression jobs. Package script
// implements it with Starlark. An Evaluator must be safe for concurrent use:
// Compile is called by whatever goroutine calls Manager.New, possibly many at
// once.
type Evaluator interface {
	// Compile compiles expr in the given namespaces (0, 1 or 2, already
	// checked by New). A syntax error is returned here so that New fails
	// before a job number is taken.
	Compile(expr string, namespaces []any) (Program, error)
}

// Program is a compiled expression. Each job calls its Program's Eval once,
// from the job's goroutine.
type Program interface {
	// Eval runs it; print output goes to out; cancelling ctx must stop it
	// promptly.
	Eval(ctx context.Context, out io.Writer) (any, error)
}

// Cmd describes a command job. Exactly one of Argv and Shell must be set;
// Shell runs with /bin/sh -c. Dir and Env are as in os/exec.Cmd (nil Env:
// the current environment), except that an Argv command given by name is
// looked up in Env's PATH when Env sets one (os/exec would use drover's). The command's stdin is /dev/null; its stdout and
// stderr both go to the job's output. New copies what it needs, so the Cmd
// may be reused or changed afterwards. A plain value: not safe for concurrent
// use while it is being changed.
type Cmd struct {
	Argv  []string
	Shell string
	Dir   string
	Env   []string
}

// Options are per-job options for Manager.NewWith. A plain value.
type Options struct {
	// Daemon jobs are not waited for by WaitAll and are killed at once by
	// Close.
	Daemon bool
	// Name overrides the job's string form (Job.String).
	Name string
}

// Config configures a Manager. The zero value is valid. New copies it; later
// changes to the caller's Config have no effect. A plain value.
type Config struct {
	// Evaluator compiles expression jobs; nil: expression jobs are refused
	// with ErrNoEvaluator.
	Evaluator Evaluator
	// OutputLimit is the number of bytes of output kept per job (the most
	// recent ones); 0 means 1 MiB, a negative value is an error.
	OutputLimit int
	// KillGrace is the delay between SIGTERM and SIGKILL when a command
	// job is killed; 0 means 2s, a negative value is an error.
	KillGrace time.Duration
	// OnFinish, if set, is called once per job after its final state is
	// visible and Done is closed, from the job's goroutine; it must not
	// block long, and must not call Close (which waits for it). A shell uses
	// it to announce finished jobs. A panic in it is not recovered.
	OnFinish func(*Job)
}

// Defaults for Config fields left zero.
const (
	DefaultOutputLimit = 1 << 20
	DefaultKillGrace   = 2 * time.Second
)

// Errors. Errors returned by this package are or wrap these; test with
// errors.Is.
var (
	// ErrNotFound: no job with that number (never created, or flushed).
	// The error is a *JobError whose text is the seed's "Job #7 not found".
	ErrNotFound = errors.New("job not found")
	// ErrStillRunning: Remove of a running job; a *JobError whose text is
	// "Job #3 is still running, it can not be removed.".
	ErrStillRunning = errors.New("job is still running")
	// ErrNotRunning: Kill of a finished job; a *JobError whose text is
	// "Job #3 is not running".
	ErrNotRunning = errors.New("job is not running")
	// ErrInvalidArgs: New got a target it cannot run, or args that do not
	// fit it. The text starts with the seed's "invalid args for new job".
	ErrInvalidArgs = errors.New("invalid args for new job")
	// ErrTooManyNamespaces: an expression job with 3 or more args. New
	// returns this error itself, so the text is exactly the seed's.
	ErrTooManyNamespaces = errors.New("Expression jobs take at most 2 args (globals,locals)")
	// ErrNoEvaluator: an expression job on a Manager without Evaluator.
	ErrNoEvaluator = errors.New("no evaluator configured for expression jobs")
	// ErrKilled: the error of a job that was killed (Job.Value, and what
	// its traceback says).
	ErrKilled = errors.New("job killed")
	// ErrClosed: New on a closed Manager.
	ErrClosed = errors.New("job manager is closed")
	// ErrNotCallable: a function target that is a nil func. Such errors
	// also match ErrInvalidArgs.
	ErrNotCallable = errors.New("target is not callable")
	// ErrWaitSelf: a job waiting for itself (Job.Wait or Manager.Wait with
	// the job's own context), which would never return.
	ErrWaitSelf = errors.New("a job cannot wait for itself")
)

// JobError is the error of an operation on a job number that is unknown
// (ErrNotFound) or in the wrong state (ErrStillRunning, ErrNotRunning). Its
// text is the seed's. Errors here are immutable once returned.
type JobError struct {
	Num int   // the job number
	Err error // ErrNotFound, ErrStillRunning or ErrNotRunning
}

func (e *JobError) Error() string {
	n := itoa(e.Num)
	switch e.Err {
	case ErrNotFound:
		return "Job #" + n + " not found"
	case ErrStillRunning:
		return "Job #" + n + " is still running, it can not be removed."
	case ErrNotRunning:
		return "Job #" + n + " is not running"
	}
	return "Job #" + n + ": " + e.Err.Error()
}

// Unwrap returns Err.
func (e *JobError) Unwrap() error { return e.Err }

// PanicError is the error of a job whose function or expression panicked.
// It is not changed once returned: safe for concurrent use.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the stack of the panicking goroutine
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns Value if it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// CommandError is the error of a command job that did not exit with status 0.
// It is not changed once returned: safe for concurrent use.
type CommandError struct {
	Cmd    string         // the command line (Job.String)
	Code   int            // exit status; -1 if ended by a signal
	Signal syscall.Signal // the signal that ended it, or 0
	Tail   string         // the last lines of its output
}

func (e *CommandError) Error() string {
	if e.Signal != 0 {
		return "command terminated by signal: " + e.Signal.String()
	}
	return "command exited with status " + itoa(e.Code)
}

func itoa(i int) string { return strconv.Itoa(i) }
