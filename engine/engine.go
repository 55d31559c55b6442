package engine

import (
	"context"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/drovertype"
)

// depthCheckEvery is how often (in interpreter steps) a run checks its
// call depth. A call takes at least two steps, so the depth can overshoot
// MaxCallDepth by at most half of this.
const depthCheckEvery = 8192

// Engine runs commands one at a time against its own Starlark namespace and
// properties. It is safe for concurrent use: commands from any goroutine
// (direct calls, Serve) are serialized, each waiting for the previous one.
type Engine struct {
	id            atomic.Int64
	name          string
	registry      map[string]Func
	funcNames     []string
	allowCommands bool
	stepBudget    uint64
	maxDepth      int
	window        int
	shell         []string
	dir           string
	env           []string
	maxOutput     int
	print         func(string)
	cacheSize     int

	// sem is held by the running command.
	sem chan struct{}

	// Guarded by sem.
	ns        starlark.StringDict
	nsObj     *nsObject
	propsObj  *propsObject
	thread    *starlark.Thread
	st        runState
	codeProgs map[string]*program
	funcProgs map[string]*program
	props     map[string]any
	propsVer  uint64

	// cancelMu orders the cancellation of a Starlark run (from a ctx's
	// AfterFunc) with the end of that run: a late cancellation must not hit
	// the next run.
	cancelMu sync.Mutex
	runGen   uint64

	serving atomic.Pointer[server]
}

// New returns an engine with an empty namespace (but for `id` and
// `properties`) and cfg's properties and functions. cfg may be nil.
func New(cfg *Config) (*Engine, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	e := &Engine{
		name:          cfg.Name,
		registry:      cfg.Registry.snapshot(),
		allowCommands: cfg.AllowCommands,
		stepBudget:    cfg.StepBudget,
		maxDepth:      cfg.MaxCallDepth,
		window:        cfg.Window,
		shell:         slices.Clone(cfg.Shell),
		dir:           cfg.Dir,
		env:           slices.Clone(cfg.Env),
		maxOutput:     cfg.MaxOutput,
		print:         cfg.Print,
		cacheSize:     cfg.CacheSize,
		sem:           make(chan struct{}, 1),
		ns:            make(starlark.StringDict),
		codeProgs:     make(map[string]*program),
		funcProgs:     make(map[string]*program),
		props:         make(map[string]any),
	}
	if e.name == "" {
		e.name = "engine"
	}
	if e.stepBudget == 0 {
		e.stepBudget = DefaultStepBudget
	}
	if e.maxDepth < 0 || e.window < 0 || e.maxOutput < 0 || e.cacheSize < 0 {
		return nil, fmt.Errorf("engine: new: negative MaxCallDepth, Window, MaxOutput or CacheSize in config (%d, %d, %d, %d)",
			e.maxDepth, e.window, e.maxOutput, e.cacheSize)
	}
	if e.maxDepth == 0 {
		e.maxDepth = DefaultMaxCallDepth
	}
	if e.window == 0 {
		e.window = DefaultWindow
	}
	if e.maxOutput == 0 {
		e.maxOutput = DefaultMaxOutput
	}
	if e.cacheSize == 0 {
		e.cacheSize = DefaultCacheSize
	}
	if len(e.shell) == 0 {
		e.shell = []string{"/bin/sh", "-c"}
	}
	e.funcNames = slices.Sorted(maps.Keys(e.registry))
	for k, v := range cfg.Properties {
		x, err := normalizeProp(k, v)
		if err != nil {
			return nil, fmt.Errorf("engine: new: property %q: %w", k, err)
		}
		e.props[k] = x
	}
	e.id.Store(int64(cfg.ID))
	e.nsObj = &nsObject{e: e}
	e.propsObj = &propsObject{e: e}
	e.newThread()
	e.seed()
	return e, nil
}

// ID returns the engine's id: Config.ID, or the id its controller gave it.
func (e *Engine) ID() drovertype.EngineID { return drovertype.EngineID(e.id.Load()) }

// Window returns the number of attempts the engine accepts assigned at
// once.
func (e *Engine) Window() int { return e.window }

func (e *Engine) newThread() {
	th := &starlark.Thread{
		Name:       "engine",
		Print:      func(_ *starlark.Thread, msg string) { e.printMsg(msg) },
		OnMaxSteps: e.onMaxSteps,
	}
	e.cancelMu.Lock()
	e.thread = th
	e.cancelMu.Unlock()
}

func (e *Engine) printMsg(msg string) {
	if e.print != nil {
		e.print(msg)
	}
}

// seed empties the namespace and puts back `id`, `properties` and the
// namespace object.
func (e *Engine) seed() {
	clear(e.ns)
	e.ns[nsName] = e.nsObj
	e.ns["id"] = starlark.MakeInt64(e.id.Load())
	e.ns["properties"] = e.propsObj
}

// lock waits for the engine to be free (or for ctx to end).
func (e *Engine) lock(ctx context.Context) error {
	select {
	case e.sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case e.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return e.interrupted(ctx)
	}
}

func (e *Engine) unlock() { <-e.sem }

// onMaxSteps enforces the step budget and the call depth (it is called every
// depthCheckEvery steps).
func (e *Engine) onMaxSteps(th *starlark.Thread) {
	switch {
	case th.Steps >= e.st.budget:
		e.st.overBudget = true
		th.Cancel(msgStepBudgetPrefix)
	case th.CallStackDepth() > e.maxDepth:
		e.st.tooDeep = true
		th.Cancel(msgRecursionExceeded)
	default:
		th.SetMaxExecutionSteps(min(e.st.budget, th.Steps+depthCheckEvery))
	}
}

// runStarlark runs fn on the engine's thread with a step budget (0: the
// engine's), cancelled when ctx ends. Errors of fn are converted with
// starlarkError; a panic becomes a GoPanic failure. The engine must be
// locked.
func (e *Engine) runStarlark(ctx context.Context, budget uint64, fn func(th *starlark.Thread) error) (terr *drovertype.TaskError) {
	if ctx.Err() != nil {
		return e.interrupted(ctx)
	}
	if budget == 0 {
		budget = e.stepBudget
	}
	th := e.thread
	e.st = runState{budget: budget}
	th.Uncancel()
	th.Steps = 0
	th.SetMaxExecutionSteps(min(budget, depthCheckEvery))
	if ac, ok := ctx.(*attemptCtx); ok {
		e.cancelMu.Lock()
		gen := e.runGen
		e.cancelMu.Unlock()
		if !ac.hook(e, gen) {
			return e.interrupted(ctx)
		}
		defer func() {
			ac.unhook()
			e.endRun()
		}()
	} else if ctx.Done() != nil {
		e.cancelMu.Lock()
		gen := e.runGen
		e.cancelMu.Unlock()
		stop := context.AfterFunc(ctx, func() { e.cancelRun(gen) })
		defer func() {
			stop()
			e.endRun()
		}()
	}
	defer func() {
		if r := recover(); r != nil {
			e.newThread() // the old one may be in a bad state
			terr = panicError(r, debug.Stack())
			terr.EngineID = e.ID()
		}
	}()
	if err := fn(th); err != nil {
		if te, ok := err.(*drovertype.TaskError); ok {
			return te
		}
		return e.starlarkError(ctx, err, &e.st)
	}
	return nil
}

// cancelRun cancels the Starlark run of generation gen, if it is still
// running.
func (e *Engine) cancelRun(gen uint64) {
	e.cancelMu.Lock()
	if e.runGen == gen {
		e.thread.Cancel("cancelled")
	}
	e.cancelMu.Unlock()
}

// endRun ends the current generation: a late cancelRun does nothing.
func (e *Engine) endRun() {
	e.cancelMu.Lock()
	e.runGen++
	e.cancelMu.Unlock()
}

// panicError is the failure of a recovered panic.
func panicError(r any, stack []byte) *drovertype.TaskError {
	te := drovertype.NewTaskError(drovertype.TaskFailed, typeGoPanic, fmt.Sprint(r))
	te.Traceback = string(stack)
	if err, ok := r.(error); ok {
		te.Cause = err
	}
	return te
}

func nameError(name string) *drovertype.TaskError {
	return drovertype.NewTaskError(drovertype.TaskFailed, typeNameError, "name '"+name+"' is not defined")
}

func typeError(msg string) *drovertype.TaskError {
	return drovertype.NewTaskError(drovertype.TaskFailed, typeTypeError, msg)
}

func keyError(name string) *drovertype.TaskError {
	return drovertype.NewTaskError(drovertype.NotFound, typeKeyError, pyRepr(name))
}

// pyRepr quotes s as Python's repr of a str does (single quotes unless s
// holds one and no double quote).
func pyRepr(s string) string {
	q := strconv.Quote(s)
	inner := q[1 : len(q)-1]
	if !containsByte(s, '\'') || containsByte(s, '"') {
		// 'text' with ' escaped and " unescaped
		out := make([]byte, 0, len(inner)+2)
		out = append(out, '\'')
		for i := 0; i < len(inner); i++ {
			switch {
			case inner[i] == '\\' && i+1 < len(inner) && inner[i+1] == '"':
				out = append(out, '"')
				i++
			case inner[i] == '\'':
				out = append(out, '\\', '\'')
			default:
				out = append(out, inner[i])
			}
		}
		return string(append(out, '\''))
	}
	return q
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}
