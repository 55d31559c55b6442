package script

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/drover-dev/drover/bgjob"
)

// jobsValue is the predeclared `jobs`: IPython's BackgroundJobManager.
type jobsValue struct {
	s *Session
}

var (
	_ starlark.Callable = (*jobsValue)(nil)
	_ starlark.Mapping  = (*jobsValue)(nil)
	_ starlark.HasAttrs = (*jobsValue)(nil)
)

func (j *jobsValue) String() string        { return "<BackgroundJobManager>" }
func (j *jobsValue) Type() string          { return "jobs" }
func (j *jobsValue) Freeze()               {}
func (j *jobsValue) Truth() starlark.Bool  { return true }
func (j *jobsValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: jobs") }
func (j *jobsValue) Name() string          { return "jobs" }

// CallInternal implements jobs(), an alias of jobs.status().
func (j *jobsValue) CallInternal(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs("jobs", args, kwargs); err != nil {
		return nil, typeError(err)
	}
	var b bytes.Buffer
	j.s.mgr.Status(&b)
	printText(thread, b.String())
	return starlark.None, nil
}

// Get implements jobs[N] and jobs[job]: KeyError for an unknown job, as in
// the seed.
func (j *jobsValue) Get(k starlark.Value) (starlark.Value, bool, error) {
	num, err := jobNum("jobs[]", k)
	if errors.Is(err, bgjob.ErrNotFound) {
		return nil, false, newError(KindKeyError, err, "%s", k)
	}
	if err != nil {
		return nil, false, err
	}
	job, err := j.s.mgr.Get(num)
	if err != nil {
		return nil, false, newError(KindKeyError, err, "%d", num)
	}
	return &jobValue{job: job, s: j.s}, true, nil
}

var jobsMethods = map[string]func(*jobsValue, *starlark.Thread, starlark.Tuple, []starlark.Tuple) (starlark.Value, error){
	"new":        (*jobsValue).new,
	"sh":         (*jobsValue).sh,
	"status":     (*jobsValue).status,
	"status_new": (*jobsValue).statusNew,
	"result":     (*jobsValue).result,
	"traceback":  (*jobsValue).traceback,
	"remove":     (*jobsValue).remove,
	"flush":      (*jobsValue).flush,
	"kill":       (*jobsValue).kill,
	"wait":       (*jobsValue).wait,
}

var jobsAttrNames = func() []string {
	names := []string{"all", "completed", "dead", "running"}
	for n := range jobsMethods {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}()

func (j *jobsValue) AttrNames() []string { return jobsAttrNames }

func (j *jobsValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "running":
		return j.list(j.s.mgr.Running()), nil
	case "completed":
		return j.list(j.s.mgr.Completed()), nil
	case "dead":
		return j.list(j.s.mgr.Dead()), nil
	case "all":
		d := starlark.NewDict(j.s.mgr.Len())
		for _, job := range j.s.mgr.Jobs() {
			d.SetKey(starlark.MakeInt(job.Num()), &jobValue{job: job, s: j.s})
		}
		return d, nil
	}
	if m, ok := jobsMethods[name]; ok {
		return starlark.NewBuiltin(name, func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return m(j, thread, args, kwargs)
		}), nil
	}
	return nil, nil
}

func (j *jobsValue) list(jobs []*bgjob.Job) *starlark.List {
	out := make([]starlark.Value, len(jobs))
	for i, job := range jobs {
		out[i] = &jobValue{job: job, s: j.s}
	}
	return starlark.NewList(out)
}

// new implements jobs.new(fn, *args, kw={...}, daemon=False) and
// jobs.new("expr"[, globals[, locals]], daemon=False).
func (j *jobsValue) new(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) == 0 {
		return nil, newError(KindTypeError, bgjob.ErrInvalidArgs, "jobs.new: missing the job: a function or an expression string")
	}
	var kw starlark.Value = starlark.None
	daemon := false
	for _, kv := range kwargs {
		switch name := string(kv[0].(starlark.String)); name {
		case "kw":
			kw = kv[1]
		case "daemon":
			daemon = bool(kv[1].Truth())
		default:
			return nil, newError(KindTypeError, bgjob.ErrInvalidArgs,
				"jobs.new: unexpected keyword argument %s (pass the function's keyword arguments as kw={...})", name)
		}
	}
	var src view = j.s.ns
	if st := stateOf(thread); st != nil {
		src = st.view
	}
	c := j.s.newSnapshotter(src)
	self := &jobRef{ready: make(chan struct{})}
	target, rest := args[0], args[1:]
	var job *bgjob.Job
	var err error
	switch t := target.(type) {
	case starlark.String:
		if kw != starlark.None {
			return nil, newError(KindTypeError, bgjob.ErrInvalidArgs, "jobs.new: kw= is for function jobs, not expression jobs")
		}
		if len(rest) > 2 {
			return nil, newError(KindValueError, bgjob.ErrTooManyNamespaces, "%s", bgjob.ErrTooManyNamespaces)
		}
		p := &prepared{env: starlark.StringDict{}, self: self}
		if len(rest) == 0 {
			// The caller's namespace: the globals the expression names.
			c.need(exprNames(string(t))...)
			p.view = c.view()
			p.env = starlark.StringDict(p.view)
		} else {
			for _, ns := range rest {
				if err := c.namespace(p.env, ns); err != nil {
					return nil, err
				}
			}
			p.view = c.view()
		}
		job, err = j.s.mgr.NewWith(bgjob.Options{Daemon: daemon}, string(t), p)
	case starlark.Callable:
		var ckw []starlark.Tuple
		if kw != starlark.None {
			d, ok := kw.(*starlark.Dict)
			if !ok {
				return nil, newError(KindTypeError, bgjob.ErrInvalidArgs, "jobs.new: kw must be a dict, not %s", kw.Type())
			}
			for _, it := range d.Items() {
				if _, ok := it[0].(starlark.String); !ok {
					return nil, newError(KindTypeError, bgjob.ErrInvalidArgs, "jobs.new: kw keys must be strings, not %s", it[0].Type())
				}
				ckw = append(ckw, starlark.Tuple{it[0], c.copy(it[1])})
			}
		}
		cargs := make(starlark.Tuple, len(rest))
		for i, a := range rest {
			cargs[i] = c.copy(a)
		}
		fn := c.copy(t)
		vw := c.view()
		job, err = j.s.mgr.NewWith(bgjob.Options{Daemon: daemon, Name: t.String()},
			j.s.funcJob(fn, cargs, ckw, vw, self))
	default:
		return nil, newError(KindTypeError, bgjob.ErrInvalidArgs, "%s", bgjob.ErrInvalidArgs)
	}
	if err != nil {
		return nil, newJobError(err)
	}
	self.job = job
	close(self.ready)
	return &jobValue{job: job, s: j.s}, nil
}

// newJobError gives an error of Manager.NewWith its kind. A command that
// cannot be found or run is a FileNotFoundError or PermissionError, as
// Python's subprocess raises, with a message naming the command.
func newJobError(err error) error {
	var e *Error
	var xe *exec.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, bgjob.ErrTooManyNamespaces):
		return newError(KindValueError, err, "%s", err)
	case errors.Is(err, bgjob.ErrInvalidArgs):
		return newError(KindTypeError, err, "%s", err)
	case errors.As(err, &xe):
		switch {
		case errors.Is(xe.Err, exec.ErrNotFound), errors.Is(xe.Err, fs.ErrNotExist):
			return newError(KindFileNotFoundError, err, "jobs.sh: command not found: %s", xe.Name)
		case errors.Is(xe.Err, exec.ErrDot):
			return newError(KindPermissionError, err, "jobs.sh: %s: refusing to run a command found relative to the current directory (give its path: ./%s)", xe.Name, xe.Name)
		case errors.Is(xe.Err, fs.ErrPermission):
			return newError(KindPermissionError, err, "jobs.sh: %s: permission denied", xe.Name)
		}
		return newError(KindOSError, err, "jobs.sh: %s: %v", xe.Name, xe.Err)
	}
	return newError(KindError, err, "%s", err)
}

// sh implements jobs.sh(command, dir=None, env=None, daemon=False): a
// command job. command is a shell command line (run by /bin/sh -c) or a
// list of strings (argv, no shell). env adds to the current environment.
func (j *jobsValue) sh(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var command starlark.Value
	var dir string
	var env *starlark.Dict
	var daemon bool
	if err := starlark.UnpackArgs("jobs.sh", args, kwargs, "command", &command, "dir?", &dir, "env?", &env, "daemon?", &daemon); err != nil {
		return nil, typeError(err)
	}
	var cmd bgjob.Cmd
	switch c := command.(type) {
	case starlark.String:
		if strings.TrimSpace(string(c)) == "" {
			return nil, newError(KindValueError, bgjob.ErrInvalidArgs, "jobs.sh: empty command line")
		}
		cmd.Shell = string(c)
	case *starlark.List, starlark.Tuple:
		seq := c.(starlark.Indexable)
		for i := range seq.Len() {
			s, ok := starlark.AsString(seq.Index(i))
			if !ok {
				return nil, newError(KindTypeError, bgjob.ErrInvalidArgs, "jobs.sh: argv[%d] must be a string, not %s", i, seq.Index(i).Type())
			}
			cmd.Argv = append(cmd.Argv, s)
		}
		if len(cmd.Argv) == 0 {
			return nil, newError(KindValueError, bgjob.ErrInvalidArgs, "jobs.sh: empty argv")
		}
	default:
		return nil, newError(KindTypeError, bgjob.ErrInvalidArgs, "jobs.sh: the command must be a string or a list of strings, not %s", command.Type())
	}
	cmd.Dir = dir
	if env != nil {
		cmd.Env = os.Environ()
		for _, it := range env.Items() {
			k, ok1 := starlark.AsString(it[0])
			v, ok2 := starlark.AsString(it[1])
			if !ok1 || !ok2 {
				return nil, newError(KindTypeError, bgjob.ErrInvalidArgs, "jobs.sh: env entries must be strings, got %s: %s", it[0].Type(), it[1].Type())
			}
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	job, err := j.s.mgr.NewWith(bgjob.Options{Daemon: daemon}, cmd)
	if err != nil {
		return nil, newJobError(err)
	}
	return &jobValue{job: job, s: j.s}, nil
}

func (j *jobsValue) status(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var verbose starlark.Value // accepted and ignored, as in the seed
	if err := starlark.UnpackArgs("jobs.status", args, kwargs, "verbose?", &verbose); err != nil {
		return nil, typeError(err)
	}
	var b bytes.Buffer
	j.s.mgr.Status(&b)
	printText(thread, b.String())
	return starlark.None, nil
}

func (j *jobsValue) statusNew(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs("jobs.status_new", args, kwargs); err != nil {
		return nil, typeError(err)
	}
	var b bytes.Buffer
	reported := j.s.mgr.StatusNew(&b)
	printText(thread, b.String())
	return starlark.Bool(reported), nil
}

func (j *jobsValue) result(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key starlark.Value
	if err := starlark.UnpackArgs("jobs.result", args, kwargs, "job", &key); err != nil {
		return nil, typeError(err)
	}
	num, err := jobNum("jobs.result", key)
	if errors.Is(err, bgjob.ErrNotFound) {
		return reportError(thread, err)
	}
	if err != nil {
		return nil, err
	}
	r, err := j.s.mgr.Result(num)
	if err != nil {
		return reportError(thread, err)
	}
	return resultValue(r)
}

func (j *jobsValue) traceback(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key starlark.Value = starlark.None
	if err := starlark.UnpackArgs("jobs.traceback", args, kwargs, "job?", &key); err != nil {
		return nil, typeError(err)
	}
	var b bytes.Buffer
	if key == starlark.None {
		j.s.mgr.Tracebacks(&b)
	} else {
		num, err := jobNum("jobs.traceback", key)
		if errors.Is(err, bgjob.ErrNotFound) {
			return reportError(thread, err)
		}
		if err != nil {
			return nil, err
		}
		if err := j.s.mgr.Traceback(&b, num); err != nil {
			return reportError(thread, err)
		}
	}
	printText(thread, b.String())
	return starlark.None, nil
}

func (j *jobsValue) remove(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key starlark.Value
	if err := starlark.UnpackArgs("jobs.remove", args, kwargs, "job", &key); err != nil {
		return nil, typeError(err)
	}
	num, err := jobNum("jobs.remove", key)
	if errors.Is(err, bgjob.ErrNotFound) {
		return reportError(thread, err)
	}
	if err != nil {
		return nil, err
	}
	if err := j.s.mgr.Remove(num); err != nil {
		return reportError(thread, err)
	}
	return starlark.None, nil
}

func (j *jobsValue) flush(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs("jobs.flush", args, kwargs); err != nil {
		return nil, typeError(err)
	}
	var b bytes.Buffer
	j.s.mgr.Flush(&b)
	printText(thread, b.String())
	return starlark.None, nil
}

func (j *jobsValue) kill(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key starlark.Value
	if err := starlark.UnpackArgs("jobs.kill", args, kwargs, "job", &key); err != nil {
		return nil, typeError(err)
	}
	num, err := jobNum("jobs.kill", key)
	if errors.Is(err, bgjob.ErrNotFound) {
		return reportError(thread, err)
	}
	if err != nil {
		return nil, err
	}
	if err := j.s.mgr.Kill(num); err != nil {
		return reportError(thread, err)
	}
	return starlark.None, nil
}

// wait implements jobs.wait(job=None, timeout=None): wait for one job, or
// for every non-daemon job (but the caller's own), at most timeout
// seconds. It returns True if they finished, False on timeout; an unknown
// job prints an ERROR line and returns None.
func (j *jobsValue) wait(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key, timeout starlark.Value = starlark.None, starlark.None
	if err := starlark.UnpackArgs("jobs.wait", args, kwargs, "job?", &key, "timeout?", &timeout); err != nil {
		return nil, typeError(err)
	}
	if key == starlark.None {
		// Called in a job, ctx is (derived from) the job's own, so
		// WaitAll waits for every job but this one.
		return waitFor(thread, "jobs.wait", timeout, func(ctx context.Context, _ *bgjob.Job) error {
			return j.s.mgr.WaitAll(ctx)
		})
	}
	num, err := jobNum("jobs.wait", key)
	if errors.Is(err, bgjob.ErrNotFound) {
		return reportError(thread, err)
	}
	if err != nil {
		return nil, err
	}
	job, err := j.s.mgr.Get(num)
	if err != nil {
		return reportError(thread, err)
	}
	return waitJob(thread, "jobs.wait", job, timeout)
}

// waitJob waits for one job.
func waitJob(thread *starlark.Thread, fname string, job *bgjob.Job, timeout starlark.Value) (starlark.Value, error) {
	return waitFor(thread, fname, timeout, func(ctx context.Context, self *bgjob.Job) error {
		if job == self {
			return newError(KindValueError, nil, "%s: job #%d cannot wait for itself", fname, job.Num())
		}
		return job.Wait(ctx)
	})
}

// waitFor runs wait with the thread's context, bounded by timeout seconds
// (None: no bound). It returns True, or False when the timeout expired; an
// interruption of the thread is returned as an error.
func waitFor(thread *starlark.Thread, fname string, timeout starlark.Value, wait func(context.Context, *bgjob.Job) error) (starlark.Value, error) {
	ctx := context.Background()
	var self *bgjob.Job
	if st := stateOf(thread); st != nil {
		ctx = st.ctx
		self = st.self.get()
	}
	if timeout != starlark.None {
		secs, ok := starlark.AsFloat(timeout)
		if !ok {
			return nil, newError(KindTypeError, nil, "%s: timeout must be a number of seconds, not %s", fname, timeout.Type())
		}
		if secs < 0 || math.IsNaN(secs) {
			return nil, newError(KindValueError, nil, "%s: timeout must not be negative, got %v", fname, timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, time.Duration(min(secs, 1e9)*float64(time.Second)), errWaitTimeout)
		defer cancel()
	}
	err := wait(ctx, self)
	if err == nil {
		return starlark.True, nil
	}
	if errors.Is(context.Cause(ctx), errWaitTimeout) {
		return starlark.False, nil
	}
	var e *Error
	if errors.As(err, &e) {
		return nil, e
	}
	return nil, newError(KindCancelled, err, "%s: %v", fname, err)
}

var errWaitTimeout = errors.New("wait timed out")

// jobNum returns the job number of an int or a job. An int that no job
// can have (beyond the int32 range) gives an error that matches
// bgjob.ErrNotFound and reads as the seed's "Job #N not found", so that it
// is reported like any other unknown number; a value of another type is a
// TypeError.
func jobNum(fname string, k starlark.Value) (int, error) {
	switch k := k.(type) {
	case starlark.Int:
		n, ok := k.Int64()
		if !ok || n < math.MinInt32 || n > math.MaxInt32 {
			return 0, &noSuchJob{num: k.String()}
		}
		return int(n), nil
	case *jobValue:
		return k.job.Num(), nil
	}
	return 0, newError(KindTypeError, nil, "%s: a job must be given by number or as a job, not %s", fname, k.Type())
}

// noSuchJob is the error of a job number beyond any job's.
type noSuchJob struct{ num string }

func (e *noSuchJob) Error() string { return "Job #" + e.num + " not found" }
func (e *noSuchJob) Unwrap() error { return bgjob.ErrNotFound }

// reportError prints "ERROR: <message>" on the thread's error writer, as
// IPython's error() does, and returns None.
func reportError(thread *starlark.Thread, err error) (starlark.Value, error) {
	var w io.Writer = os.Stderr
	if st := stateOf(thread); st != nil {
		w = st.errw
	}
	io.WriteString(w, "ERROR: "+err.Error()+"\n")
	return starlark.None, nil
}

// printText prints text, which ends with a newline, where print() goes.
func printText(thread *starlark.Thread, text string) {
	if text == "" {
		return
	}
	text = strings.TrimSuffix(text, "\n")
	if thread.Print != nil {
		thread.Print(thread, text)
	} else {
		fmt.Fprintln(os.Stderr, text)
	}
}

// typeError gives an argument-unpacking error its kind.
func typeError(err error) error {
	return newError(KindTypeError, err, "%s", err)
}

// resultValue converts a job result to Starlark: Starlark values as they
// are (frozen by the job), Go values by ToStarlark.
func resultValue(r any) (starlark.Value, error) {
	v, err := ToStarlark(r)
	if err != nil {
		return nil, newError(KindTypeError, err, "job result: %v", err)
	}
	return v, nil
}

// jobValue is a job: IPython's BackgroundJob.
type jobValue struct {
	job *bgjob.Job
	s   *Session
}

var (
	_ starlark.HasAttrs   = (*jobValue)(nil)
	_ starlark.Comparable = (*jobValue)(nil)
)

// String returns the repr, "<BackgroundJob #N: strform>": Starlark uses
// String for both str() and repr(). job.strform is the seed's str(job).
func (v *jobValue) String() string        { return v.job.Repr() }
func (v *jobValue) Type() string          { return "job" }
func (v *jobValue) Freeze()               {}
func (v *jobValue) Truth() starlark.Bool  { return true }
func (v *jobValue) Hash() (uint32, error) { return uint32(v.job.Num()), nil }

func (v *jobValue) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	eq := v.job == y.(*jobValue).job
	switch op {
	case syntax.EQL:
		return eq, nil
	case syntax.NEQ:
		return !eq, nil
	}
	return false, fmt.Errorf("%s %s %s not implemented", v.Type(), op, y.Type())
}

var jobAttrNames = []string{
	"daemon", "duration", "error", "exit_code", "finished", "kill", "kind", "num", "output",
	"result", "stat_code", "status", "strform", "traceback", "wait",
}

func (v *jobValue) AttrNames() []string { return jobAttrNames }

func (v *jobValue) Attr(name string) (starlark.Value, error) {
	j := v.job
	switch name {
	case "num":
		return starlark.MakeInt(j.Num()), nil
	case "status":
		return starlark.String(j.Status()), nil
	case "stat_code":
		return starlark.MakeInt(int(j.State())), nil
	case "result":
		return resultValue(j.Result())
	case "finished":
		switch j.State() {
		case bgjob.Completed:
			return starlark.True, nil
		case bgjob.Dead:
			return starlark.None, nil
		}
		return starlark.False, nil
	case "output":
		text, _ := j.Output()
		return starlark.String(text), nil
	case "exit_code":
		if code, ok := j.ExitCode(); ok {
			return starlark.MakeInt(code), nil
		}
		return starlark.None, nil
	case "duration":
		return starlark.Float(j.Duration().Seconds()), nil
	case "strform":
		return starlark.String(j.String()), nil
	case "kind":
		return starlark.String(j.Kind().String()), nil
	case "daemon":
		return starlark.Bool(j.Daemon()), nil
	case "error":
		if _, err := j.Value(); err != nil {
			return newErrorValue(err), nil
		}
		return starlark.None, nil
	case "traceback":
		return starlark.NewBuiltin("traceback", func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackArgs("traceback", args, kwargs); err != nil {
				return nil, typeError(err)
			}
			tb := j.Traceback()
			if tb == "" {
				tb = "None"
			}
			printText(thread, tb+"\n")
			return starlark.None, nil
		}), nil
	case "kill":
		return starlark.NewBuiltin("kill", func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackArgs("kill", args, kwargs); err != nil {
				return nil, typeError(err)
			}
			if err := j.Kill(); err != nil {
				return reportError(thread, err)
			}
			return starlark.None, nil
		}), nil
	case "wait":
		return starlark.NewBuiltin("wait", func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var timeout starlark.Value = starlark.None
			if err := starlark.UnpackArgs("wait", args, kwargs, "timeout?", &timeout); err != nil {
				return nil, typeError(err)
			}
			return waitJob(thread, "wait", j, timeout)
		}), nil
	}
	return nil, nil
}
