package script

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/bgjob"
	"github.com/drover-dev/drover/drovertype"
)

// Config configures a Session. The zero value is valid.
type Config struct {
	// Stdout receives print() output of the session's own code and the
	// text that jobs(), jobs.status(), jobs.flush() etc. print. Defaults
	// to os.Stdout.
	Stdout io.Writer
	// Stderr receives the "ERROR: ..." lines of the jobs object (unknown
	// job, removing a running job), as IPython's error() does. Defaults to
	// os.Stderr. Stdout and Stderr may be the same writer; the session
	// serializes its writes to them.
	Stderr io.Writer
	// OnJobFinish, if set, is called once for every job that finishes,
	// from the job's goroutine (see bgjob.Config.OnFinish).
	OnJobFinish func(*bgjob.Job)
	// Args are the script's arguments, exposed to Starlark as the list of
	// strings `argv`.
	Args []string
	// Tasks, if set, is the task farm behind the predeclared task client
	// `tc` (see docs/tasks.md); nil: no `tc`. The task constructors
	// MapTask, StringTask and CommandTask are predeclared either way.
	Tasks TaskClient
	// Progress, if set, is called by tc.map (and mapper.map, parallel
	// functions) and tc.barrier when they wait for total tasks (two or
	// more) on the session's own thread (Exec, ExecFile; never in a
	// background job); the operation reports its progress to the bar and
	// ends it. The shell uses it for a progress bar on the terminal. Nil:
	// no progress is shown.
	Progress func(title string, total int) ProgressBar
	// Help is the text that `help` and help() print; the shell gives its
	// own (magics, keys). Empty: DefaultHelp.
	Help string
}

// Session is a persistent Starlark environment: the global variables of a
// shell or of a script run, the predeclared names (jobs, catch, argv, the
// task constructors MapTask, StringTask and CommandTask, tc when the
// session has a task farm, and Python's dir, exit, quit and help), and the
// background-job manager behind jobs.
//
// A Session is safe for concurrent use. Exec and ExecFile calls are
// serialized: one runs at a time. Values obtained from the session (from
// Exec, Globals) belong to the session's code: do not mutate them while
// Exec runs.
type Session struct {
	stdout, stderr io.Writer // serialized by outMu
	outMu          sync.Mutex

	ns   *namespace
	ref  *nsRef
	mgr  *bgjob.Manager
	jobs *jobsValue

	progress func(string, int) ProgressBar // Config.Progress

	dependMu sync.Mutex
	depends  map[drovertype.Depend]error // guarded by dependMu: checked depend sources

	execMu sync.Mutex     // serializes Exec and ExecFile
	cur    *chunkInfo     // guarded by execMu: the chunk being run
	value  starlark.Value // guarded by execMu: the value of a sole expression

	modMu   sync.Mutex
	modules map[*starlark.Module]*chunkInfo // guarded by modMu
}

// NewSession returns a session with the predeclared environment (jobs,
// catch, argv) and its own bgjob.Manager, whose expression jobs are
// evaluated in Starlark. Close it to stop its jobs.
func NewSession(cfg *Config) (*Session, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	s := &Session{modules: make(map[*starlark.Module]*chunkInfo)}
	s.stdout = &lockedWriter{mu: &s.outMu, w: c.Stdout}
	s.stderr = &lockedWriter{mu: &s.outMu, w: c.Stderr}
	s.ref = &nsRef{s: s}
	mgr, err := bgjob.New(&bgjob.Config{Evaluator: &Evaluator{sess: s}, OnFinish: c.OnJobFinish})
	if err != nil {
		return nil, err
	}
	s.mgr = mgr
	s.jobs = &jobsValue{s: s}
	argv := make([]starlark.Value, len(c.Args))
	for i, a := range c.Args {
		argv[i] = starlark.String(a)
	}
	s.progress = c.Progress
	help := c.Help
	if help == "" {
		help = DefaultHelp
	}
	s.ns = &namespace{vars: starlark.StringDict{
		"jobs":        s.jobs,
		"catch":       starlark.NewBuiltin("catch", catch),
		"argv":        starlark.NewList(argv),
		"MapTask":     starlark.NewBuiltin("MapTask", s.mapTask),
		"StringTask":  starlark.NewBuiltin("StringTask", s.stringTask),
		"CommandTask": starlark.NewBuiltin("CommandTask", s.commandTask),
		"dir":         starlark.NewBuiltin("dir", s.dirBuiltin),
		"exit":        quitter{"exit"},
		"quit":        quitter{"quit"},
		"help":        &helpValue{text: help},
	}}
	if c.Tasks != nil {
		s.ns.vars["tc"] = &tcValue{s: s, c: c.Tasks}
	}
	return s, nil
}

// lockedWriter serializes writes to w with mu (shared by stdout and stderr).
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Jobs returns the session's job manager (the one behind `jobs`).
func (s *Session) Jobs() *bgjob.Manager { return s.mgr }

// Globals returns a copy of the session's global variables, predeclared
// names included.
func (s *Session) Globals() starlark.StringDict { return s.ns.copy() }

// Close closes the job manager: see bgjob.Manager.Close.
func (s *Session) Close(ctx context.Context) error { return s.mgr.Close(ctx) }

// Exec runs a chunk of source typed at a REPL in the session's globals.
// Global variables persist across chunks with Python's semantics: a
// function reads the current value of a global when it runs, whichever
// chunk defined it. If the chunk is a single expression statement, Exec
// returns its value with isExpr true and, when the value is not None, sets
// the global `_` to it; otherwise it returns None, false. Cancelling ctx
// interrupts the chunk promptly, even a busy loop, and a jobs.wait() in it;
// cancelled with the cause ErrKeyboardInterrupt (Ctrl-C), it returns a
// KeyboardInterrupt error. exit() or quit() in the chunk return a
// *SystemExit. Assignments made before an error persist.
func (s *Session) Exec(ctx context.Context, filename, src string) (v starlark.Value, isExpr bool, err error) {
	return s.exec(ctx, filename, src, true)
}

// ExecFile runs a whole file (drover run) in the session's globals, with the
// same predeclared names as Exec. Values of expression statements are
// discarded. Cancelling ctx interrupts it (see Exec for Ctrl-C and exit()).
func (s *Session) ExecFile(ctx context.Context, filename string, src []byte) error {
	_, _, err := s.exec(ctx, filename, src, false)
	return err
}

func (s *Session) exec(ctx context.Context, filename string, src any, repl bool) (starlark.Value, bool, error) {
	if ctx == nil {
		return nil, false, errors.New("script: Exec: nil context")
	}
	s.execMu.Lock()
	defer s.execMu.Unlock()
	f, info, sole, err := compileChunk(filename, src, s.ns, repl)
	if err != nil {
		return nil, false, err
	}
	s.cur, s.value = info, nil
	defer func() { s.cur, s.value = nil, nil }()
	thread := s.newThread(ctx, "main", s.stdout, s.stderr, s.ns, nil)
	stateOf(thread).foreground = true
	release := cancelOn(ctx, thread)
	err = starlark.ExecREPLChunk(f, thread, starlark.StringDict{nsName: s.ref})
	release()
	if err != nil {
		return nil, false, keyboardInterrupt(ctx, err)
	}
	if !sole {
		return starlark.None, false, nil
	}
	v := s.value
	if v == nil {
		v = starlark.None
	}
	if v != starlark.None {
		s.ns.set("_", v)
	}
	return v, true, nil
}

// registerModule records that module m was compiled from the chunk being
// run. It is called by the chunk's first statement, on the Exec thread.
func (s *Session) registerModule(m *starlark.Module) {
	if s.cur == nil {
		return
	}
	s.modMu.Lock()
	s.modules[m] = s.cur
	s.modMu.Unlock()
}

// moduleInfo returns what the rewrite recorded about module m, or nil.
func (s *Session) moduleInfo(m *starlark.Module) *chunkInfo {
	if s == nil {
		return nil
	}
	s.modMu.Lock()
	defer s.modMu.Unlock()
	return s.modules[m]
}

// threadState is what drover's built-ins need to know about the thread
// calling them.
type threadState struct {
	ctx  context.Context // cancelled when the thread's work is interrupted
	view view            // what reads of global names see
	errw io.Writer       // where "ERROR: ..." lines go
	self *jobRef         // the job this thread runs, or nil
	// foreground: the session's own thread (Exec, ExecFile), whose waits
	// may show a progress bar; a job's thread never does.
	foreground bool
}

// jobRef is a job as seen from inside it: job is set, then ready closed,
// once Manager.NewWith has returned.
type jobRef struct {
	ready chan struct{}
	job   *bgjob.Job
}

func (r *jobRef) get() *bgjob.Job {
	if r == nil {
		return nil
	}
	<-r.ready
	return r.job
}

const stateKey = "drover.script.state"

func stateOf(t *starlark.Thread) *threadState {
	st, _ := t.Local(stateKey).(*threadState)
	return st
}

// newThread returns a thread whose print writes to out.
func (s *Session) newThread(ctx context.Context, name string, out, errw io.Writer, vw view, self *jobRef) *starlark.Thread {
	t := &starlark.Thread{
		Name: name,
		Print: func(_ *starlark.Thread, msg string) {
			io.WriteString(out, msg+"\n")
		},
	}
	t.SetLocal(stateKey, &threadState{ctx: ctx, view: vw, errw: errw, self: self})
	return t
}

// cancelOn cancels t when ctx is done, until release is called; release
// returns once no cancellation is in progress.
func cancelOn(ctx context.Context, t *starlark.Thread) (release func()) {
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		reason := "interrupted"
		if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
			reason = c.Error()
		}
		t.Cancel(reason)
		close(fired)
	})
	return func() {
		if !stop() {
			<-fired
		}
	}
}
