package bgjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"
)

// Placeholder results, as in the seed.
const (
	resultNotCompleted = "<BackgroundJob has not completed>"
	resultDied         = "<BackgroundJob died, call jobs.traceback() for details>"
)

// Job is one background job, created by Manager.New. It is safe for
// concurrent use. A Job that was not created by a Manager (a zero Job) is not
// usable: its Kill and Wait return errors.
type Job struct {
	m       *Manager
	num     int    // set under m.mu before the job goroutine starts
	kind    Kind   // immutable
	daemon  bool   // immutable
	strform string // immutable

	// What to run (immutable): one of them, by kind.
	fn   Func
	prog Program
	cmd  *exec.Cmd

	ctx    jobCtx // the job's context; cancelled by Kill and when the job ends
	cancel context.CancelCauseFunc
	done   chan struct{} // closed after the final state is set
	state  atomic.Int32  // a State; final values are stored under m.mu

	// started is written by start before the state becomes Running; the
	// rest by the job goroutine only, before the final state is stored.
	// Readers load state first.
	started  time.Time
	ended    time.Time
	value    any
	err      error
	exitCode int
	exited   bool

	// Guarded by m.mu.
	killed  bool
	where   listID
	flushed bool

	out tailBuf // the job's output; has its own lock
}

// jobCtx is the context a job runs with: the job's cancellable context, which
// also carries the job for OutputFrom.
type jobCtx struct {
	context.Context
	j *Job
}

type outputKey struct{}

func (c *jobCtx) Value(key any) any {
	if _, ok := key.(outputKey); ok {
		return c.j
	}
	return c.Context.Value(key)
}

// OutputFrom returns, inside a function job, the writer of the job's own
// output buffer (see Job.Output); ctx is the context the job got, or one
// derived from it. Outside a job it returns io.Discard.
func OutputFrom(ctx context.Context) io.Writer {
	if j := jobOf(ctx); j != nil {
		return &j.out
	}
	return io.Discard
}

// jobOf returns the job whose context ctx is or derives from, or nil.
func jobOf(ctx context.Context) *Job {
	if ctx == nil {
		return nil
	}
	j, _ := ctx.Value(outputKey{}).(*Job)
	return j
}

// Num returns the job number.
func (j *Job) Num() int { return j.num }

// Kind returns the kind of job.
func (j *Job) Kind() Kind { return j.kind }

// Daemon reports whether the job was started with Options.Daemon.
func (j *Job) Daemon() bool { return j.daemon }

// State returns the job's current state. Unlike the manager's lists, it is
// always up to date.
func (j *Job) State() State { return State(j.state.Load()) }

// Status returns State().String(), the seed's status text.
func (j *Job) Status() string { return j.State().String() }

// Finished reports whether the job is Completed or Dead. (The seed's
// `finished` is None for a dead job; here it is true.)
func (j *Job) Finished() bool {
	s := j.State()
	return s == Completed || s == Dead
}

// Result returns the value of a Completed job (nil for a function without
// results, 0 for a command), "<BackgroundJob has not completed>" while the
// job is Created or Running, and "<BackgroundJob died, call
// jobs.traceback() for details>" when it is Dead.
func (j *Job) Result() any {
	switch j.State() {
	case Completed:
		return j.value
	case Dead:
		return resultDied
	}
	return resultNotCompleted
}

// Value returns the job's raw value and error for Go programs: (value, nil)
// when Completed, (nil, err) when Dead, (nil, nil) while unfinished. A killed
// job's error matches ErrKilled; a panic gives a *PanicError, a command that
// failed a *CommandError.
func (j *Job) Value() (any, error) {
	switch j.State() {
	case Completed:
		return j.value, nil
	case Dead:
		return nil, j.err
	}
	return nil, nil
}

// Traceback returns the text that explains why a Dead job died, "" for other
// jobs: the error text (a Starlark-style backtrace if the error has a
// Backtrace() string method), the panic value and stack for a panic, the
// exit status and the last lines of output for a command, and "job killed"
// first for a killed job.
func (j *Job) Traceback() string {
	if j.State() != Dead {
		return ""
	}
	return renderTraceback(j.err)
}

func renderTraceback(err error) string {
	var b strings.Builder
	if errors.Is(err, ErrKilled) {
		b.WriteString(ErrKilled.Error())
		b.WriteByte('\n')
	}
	var pe *PanicError
	var ce *CommandError
	var bt interface{ Backtrace() string }
	switch {
	case errors.As(err, &pe):
		b.WriteString(pe.Error())
		b.WriteString("\n\n")
		b.Write(pe.Stack)
	case errors.As(err, &ce):
		b.WriteString(ce.Error())
		if ce.Tail != "" {
			b.WriteString("\n--- last lines of output ---\n")
			b.WriteString(ce.Tail)
		}
	case errors.As(err, &bt):
		b.WriteString(bt.Backtrace())
	default:
		msg := err.Error()
		if errors.Is(err, ErrKilled) {
			msg = strings.TrimPrefix(strings.TrimPrefix(msg, ErrKilled.Error()), ": ")
		}
		b.WriteString(msg)
	}
	return strings.TrimRight(b.String(), "\n")
}

// String returns the job's string form (the seed's strform): Options.Name if
// given, else the expression text, the command line, or the function's name
// (never its arguments).
func (j *Job) String() string { return j.strform }

// Repr returns "<BackgroundJob #N: strform>".
func (j *Job) Repr() string { return "<BackgroundJob #" + itoa(j.num) + ": " + j.strform + ">" }

// Output returns the job's output so far and the number of bytes that were
// not kept: stdout and stderr of a command, what an expression printed, what
// a function wrote to OutputFrom(ctx). At most Config.OutputLimit bytes are
// kept: the most recent ones. When some were dropped, text starts with a
// "[N bytes dropped]" line. It may be called while the job runs.
func (j *Job) Output() (text string, dropped int64) {
	if j.out.limit == 0 {
		return "", 0
	}
	return j.out.text()
}

// OutputChanged returns a channel that is closed when output is next written
// to the job, so that a caller can follow the output as it comes (take the
// channel, read Output, wait on the channel or on Done, repeat). It is never
// closed if no more output comes, so wait on Done too.
func (j *Job) OutputChanged() <-chan struct{} { return j.out.changed() }

// ExitCode returns the exit status of a command job once its process has
// exited (-1 if a signal ended it); ok is false before that and for other
// kinds of jobs.
func (j *Job) ExitCode() (code int, ok bool) {
	if !j.Finished() || !j.exited {
		return 0, false
	}
	return j.exitCode, true
}

// Started returns when the job started running (zero while Created).
func (j *Job) Started() time.Time {
	if j.State() == Created {
		return time.Time{}
	}
	return j.started
}

// Ended returns when the job finished (zero while unfinished).
func (j *Job) Ended() time.Time {
	if !j.Finished() {
		return time.Time{}
	}
	return j.ended
}

// Duration returns how long the job ran: so far while Running, in total once
// finished, 0 while Created.
func (j *Job) Duration() time.Duration {
	switch j.State() {
	case Created:
		return 0
	case Running:
		return time.Since(j.started)
	}
	return j.ended.Sub(j.started)
}

// Kill asks the job to stop; it returns without waiting (use Wait). A
// function job has its context cancelled: this is cooperative, the function
// must watch ctx.Done() (a function that ignores it runs on). An expression
// job has the context given to Program.Eval cancelled. A command job's
// process group gets SIGTERM, then SIGCONT (a stopped process handles the
// SIGTERM at once) and, if its leader has not exited after Config.KillGrace,
// SIGKILL; when the leader exits, whatever is left of its process group is
// killed with SIGKILL.
//
// A job whose Kill was accepted (it was not finished) ends Dead with
// an error matching ErrKilled, whatever it returned. Killing it again is a
// no-op returning nil. Kill on a finished job returns a *JobError matching
// ErrNotRunning ("Job #3 is not running").
func (j *Job) Kill() error {
	if j.m == nil {
		return fmt.Errorf("kill job: %w: the job was not created by a Manager", ErrNotFound)
	}
	m := j.m
	m.mu.Lock()
	if j.Finished() {
		m.mu.Unlock()
		return &JobError{Num: j.num, Err: ErrNotRunning}
	}
	already := j.killed
	j.killed = true
	m.mu.Unlock()
	if !already {
		j.cancel(ErrKilled)
	}
	return nil
}

// Wait waits until the job has finished, whatever its final state, and
// returns nil; or returns an error wrapping ctx.Err() if ctx ends first.
// Called by the job itself (ctx is, or derives from, the job's own context)
// it returns an error matching ErrWaitSelf at once rather than never.
func (j *Job) Wait(ctx context.Context) error {
	if j.done == nil {
		return fmt.Errorf("wait for job: %w: the job was not created by a Manager", ErrNotFound)
	}
	select {
	case <-j.done:
		return nil
	default:
	}
	if jobOf(ctx) == j {
		return fmt.Errorf("wait for job #%d: %w", j.num, ErrWaitSelf)
	}
	select {
	case <-j.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for job #%d: %w", j.num, ctx.Err())
	}
}

// Done returns a channel that is closed when the job has finished (nil for a
// zero Job).
func (j *Job) Done() <-chan struct{} { return j.done }

// errGoexit is the error of a function job whose goroutine was ended by
// runtime.Goexit (for instance t.FailNow called inside the job).
var errGoexit = errors.New("job goroutine exited through runtime.Goexit")

// errJobReturned is the cause of the end of a job's context when the job
// returns without having been killed.
var errJobReturned = errors.New("job returned")

// errNotStarted is the cause recorded for a job killed before its goroutine
// called it.
var errNotStarted = errors.New("killed before it ran")

// start marks the job Running and starts its goroutine. The job is Running
// from here, before its goroutine is scheduled, as IPython's Thread.start()
// returns once the thread runs: a caller of New never sees it Created.
func (j *Job) start() {
	j.started = time.Now()
	j.state.Store(int32(Running))
	go j.run()
}

// run is the job goroutine, started by start.
func (j *Job) run() {
	m := j.m
	defer m.wg.Done()
	var (
		v      any
		err    error
		normal bool
	)
	defer func() {
		if !normal {
			if r := recover(); r != nil {
				err = &PanicError{Value: r, Stack: debug.Stack()}
			} else {
				err = errGoexit
			}
			v = nil
		}
		j.release()
		j.finish(v, err)
	}()
	ctx := &j.ctx
	if ctx.Err() != nil {
		// Killed before its goroutine got here: do not run it at all.
		err = errNotStarted
		normal = true
		return
	}
	switch j.kind {
	case FuncJob:
		v, err = j.fn(ctx)
	case ExprJob:
		v, err = j.prog.Eval(ctx, &j.out)
	case CommandJob:
		v, err = j.runCommand(ctx)
	}
	normal = true
}

// release drops what the job ran (only the job goroutine reads these), so
// that a finished job, which stays registered, does not keep its function,
// arguments, program or command alive.
func (j *Job) release() {
	j.fn, j.prog, j.cmd = nil, nil, nil
}

// finish sets the job's final state, records it for the manager's next
// update, closes Done and calls Config.OnFinish.
func (j *Job) finish(v any, err error) {
	m := j.m
	end := time.Now()
	m.mu.Lock()
	final := Completed
	if j.killed {
		if err == nil {
			err = ErrKilled
		} else {
			err = fmt.Errorf("%w: %w", ErrKilled, err)
		}
	}
	if err != nil {
		final = Dead
		j.err = err
	} else {
		j.value = v
	}
	j.ended = end
	j.state.Store(int32(final))
	m.finished(j)
	m.mu.Unlock()
	// The job has returned: end its context, as net/http ends a request's
	// when ServeHTTP returns, so that what the job tied to it (goroutines,
	// context.AfterFunc) ends too. j.killed, not ctx, says it was killed.
	j.cancel(errJobReturned)
	close(j.done)
	if f := m.cfg.OnFinish; f != nil {
		f(j)
	}
}
