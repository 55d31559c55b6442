package drover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/scheduler"
	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/memtransport"
)

// Config configures an in-process farm (Open). The zero value of each field
// means its documented default; Open copies what it needs.
type Config struct {
	// Engines is the number of engines started with the farm. Defaults to
	// runtime.NumCPU(); a negative value starts none (add them with
	// AddEngine).
	Engines int
	// Scheduler is the scheduling policy: "fifo" (the default: oldest
	// runnable task to the longest-idle eligible engine) or "lifo"
	// (newest task to the most recently freed engine).
	Scheduler string
	// Registry holds the Go functions map tasks may call by name; every
	// engine gets the functions registered when it starts. nil: none.
	Registry *Registry
	// FailurePenalty is how long an engine is kept out of scheduling after
	// an attempt failed on it. Defaults to 1s; negative: no penalty.
	FailurePenalty time.Duration
	// IdleTimeout is how long tasks may wait while every engine is idle
	// before they fail with TaskTimeout. Defaults to 30s; negative: never.
	IdleTimeout time.Duration
	// Window is how many attempts each engine has assigned at once (the
	// running one and those queued behind it on the engine). Defaults to
	// DefaultWindow; 1 is the seed's behaviour.
	Window int
	// Depend compiles tasks' depend constraints; nil refuses tasks with
	// depend. The Starlark one is script.CompileDepend.
	Depend DependCompiler
	// Properties[i] are the initial properties of engine i (the engines
	// Open starts get ids 0, 1, ... in order); a missing or nil entry:
	// none.
	Properties []map[string]any
	// AllowCommands lets the engines run command tasks.
	AllowCommands bool
	// StepBudget limits the interpreter steps of each Starlark run on the
	// engines. Defaults to engine.DefaultStepBudget.
	StepBudget uint64
	// Print receives the output of Starlark's print on the engines, with
	// the engine's id. nil: discarded. Called from the engines' goroutines,
	// concurrently when several engines print.
	Print func(engine EngineID, msg string)
	// Logger receives diagnostics. nil: discarded.
	Logger *slog.Logger
}

// DefaultWindow is the Window of a farm whose Config leaves it zero: the
// controller's default (see controller.DefaultWindow for the measurements).
const DefaultWindow = controller.DefaultWindow

// Farm is a task farm in this process: a controller and engines connected
// by an in-memory transport. It implements Client. Create it with Open and
// close it with Close. A Farm is safe for concurrent use.
type Farm struct {
	ctl *controller.Controller
	hub *memtransport.Hub
	cfg Config // immutable after Open

	// mu guards engines, closed and nextIdx.
	mu      sync.Mutex
	engines []*farmEngine // engines whose goroutine has not ended (also removed ones)
	closed  bool
	nextIdx int

	serveCtx  context.Context // lifetime of the engines' Serve
	stopServe context.CancelFunc
	wg        sync.WaitGroup // one count per engine's Serve goroutine

	closeOnce sync.Once
	closeErr  error
}

// farmEngine is one of the farm's engines.
type farmEngine struct {
	id      EngineID // set once registered (guarded by Farm.mu); NoEngine before
	removed bool     // stopped by RemoveEngine or a failed AddEngine (guarded by Farm.mu)
	e       *engine.Engine
	end     transport.EngineEnd
	stop    context.CancelFunc
	done    chan struct{}
}

// Open starts an in-process farm: a controller and cfg.Engines engines
// (nil cfg: every default), and returns once every engine has registered
// or ctx has ended (then it closes what it started and returns ctx's
// error). ctx bounds the opening only: the farm lives until Close.
func Open(ctx context.Context, cfg *Config) (*Farm, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	switch {
	case c.Engines == 0:
		c.Engines = runtime.NumCPU()
	case c.Engines < 0:
		c.Engines = 0
	}
	var policy scheduler.Policy
	switch c.Scheduler {
	case "", "fifo":
		policy = scheduler.FIFO
	case "lifo":
		policy = scheduler.LIFO
	default:
		return nil, fmt.Errorf("open farm: Config.Scheduler is %q, want \"fifo\" or \"lifo\"", c.Scheduler)
	}
	switch {
	case c.Window < 0:
		return nil, fmt.Errorf("open farm: Config.Window is %d, want >= 0", c.Window)
	case c.Window == 0:
		c.Window = DefaultWindow
	}
	if len(c.Properties) > c.Engines {
		return nil, fmt.Errorf("open farm: Config.Properties has %d entries for %d engines", len(c.Properties), c.Engines)
	}
	for i, p := range c.Properties {
		if err := drovertype.ValidateProperties(p); err != nil {
			return nil, fmt.Errorf("open farm: Config.Properties[%d]: %w", i, err)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	hub, err := memtransport.New(nil)
	if err != nil {
		return nil, fmt.Errorf("open farm: %w", err)
	}
	ctl, err := controller.New(hub.Controller(), &controller.Config{
		Policy:         policy,
		FailurePenalty: c.FailurePenalty,
		IdleTimeout:    c.IdleTimeout,
		Window:         c.Window,
		Depend:         c.Depend,
		Logger:         c.Logger,
	})
	if err != nil {
		_ = hub.Controller().Close()
		return nil, fmt.Errorf("open farm: %w", err)
	}
	f := &Farm{ctl: ctl, hub: hub, cfg: c}
	f.serveCtx, f.stopServe = context.WithCancel(context.Background())
	if err := ctl.Start(f.serveCtx); err != nil {
		f.stopServe()
		_ = hub.Controller().Close()
		return nil, fmt.Errorf("open farm: %w", err)
	}
	// One at a time, so that engine i gets id i (Properties[i] is engine
	// i's).
	for i := range c.Engines {
		var props map[string]any
		if i < len(c.Properties) {
			props = c.Properties[i]
		}
		fe, err := f.startEngine(props)
		if err == nil {
			err = f.registered(ctx, fe)
		}
		if err != nil {
			_ = f.closeNow(context.Background())
			return nil, fmt.Errorf("open farm: engine %d: %w", i, err)
		}
	}
	return f, nil
}

// startEngine creates an engine and serves it over a new hub end.
func (f *Farm) startEngine(props map[string]any) (*farmEngine, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, fmt.Errorf("add engine: %w", ErrClosed)
	}
	idx := f.nextIdx
	f.nextIdx++
	ecfg := &engine.Config{
		Name:          "local-" + strconv.Itoa(idx),
		Properties:    props,
		Registry:      f.cfg.Registry,
		AllowCommands: f.cfg.AllowCommands,
		StepBudget:    f.cfg.StepBudget,
		Window:        f.cfg.Window,
	}
	fe := &farmEngine{id: drovertype.NoEngine, done: make(chan struct{})}
	if p := f.cfg.Print; p != nil {
		ecfg.Print = func(msg string) { p(fe.e.ID(), msg) }
	}
	e, err := engine.New(ecfg)
	if err != nil {
		return nil, err
	}
	fe.e = e
	fe.end = f.hub.NewEngine()
	var ctx context.Context
	ctx, fe.stop = context.WithCancel(f.serveCtx)
	f.engines = append(f.engines, fe)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer close(fe.done)
		if err := e.Serve(ctx, fe.end); err != nil {
			f.cfg.Logger.Warn("farm: engine stopped", "engine", e.ID(), "err", err)
		}
		_ = fe.end.Close()
		fe.stop()
		f.forget(fe)
	}()
	return fe, nil
}

// forget takes fe off the farm's list of engines.
func (f *Farm) forget(fe *farmEngine) {
	f.mu.Lock()
	f.engines = slices.DeleteFunc(f.engines, func(x *farmEngine) bool { return x == fe })
	f.mu.Unlock()
}

// drop stops fe as a crash would: its transport end is closed (the
// controller finds it lost) and its Serve is cancelled; RemoveEngine no
// longer finds it. It does not wait for its goroutine (Close does).
func (f *Farm) drop(fe *farmEngine) {
	f.mu.Lock()
	fe.removed = true
	f.mu.Unlock()
	_ = fe.end.Close()
	fe.stop()
}

// AddEngine starts one more engine with properties props and waits until it
// has registered; it returns its id. If ctx ends first, the engine is
// stopped (the controller finds it lost if it had registered) and
// AddEngine returns ctx's error.
func (f *Farm) AddEngine(ctx context.Context, props map[string]any) (EngineID, error) {
	if err := drovertype.ValidateProperties(props); err != nil {
		return drovertype.NoEngine, fmt.Errorf("add engine: %w", err)
	}
	fe, err := f.startEngine(props)
	if err != nil {
		return drovertype.NoEngine, err
	}
	if err := f.registered(ctx, fe); err != nil {
		f.drop(fe)
		return drovertype.NoEngine, fmt.Errorf("add engine: %w", err)
	}
	return fe.id, nil
}

// registered waits until fe has registered and records its id.
func (f *Farm) registered(ctx context.Context, fe *farmEngine) error {
	id, err := f.ctl.WaitEngine(ctx, fe.end.Addr())
	if err != nil {
		return err
	}
	f.mu.Lock()
	fe.id = id
	f.mu.Unlock()
	return nil
}

// RemoveEngine stops engine id abruptly, as a crash would: its transport
// end is closed, so the controller finds it lost (its attempts fail with
// EngineLost, retried elsewhere when they have retries left). It waits
// until the engine's goroutine has ended, which takes as long as the
// attempt it is running needs to stop (a Go function that ignores its ctx
// runs on), or until ctx ends: then it returns ctx's error, and the engine
// is gone for the controller all the same. An id that is not one of the
// farm's running engines: ErrNotFound.
func (f *Farm) RemoveEngine(ctx context.Context, id EngineID) error {
	f.mu.Lock()
	var fe *farmEngine
	if id != drovertype.NoEngine {
		for _, x := range f.engines {
			if x.id == id && !x.removed {
				fe = x
				break
			}
		}
	}
	f.mu.Unlock()
	if fe == nil {
		return fmt.Errorf("remove engine %d: %w", id, drovertype.NewTaskError(drovertype.NotFound, "KeyError", "no engine with id "+strconv.Itoa(int(id))))
	}
	f.drop(fe)
	select {
	case <-fe.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("remove engine %d: %w", id, ctx.Err())
	}
}

// Close stops the farm gracefully: no more requests, the running attempts
// end (their results are delivered to waiting callers), then the engines
// shut down. If ctx ends first, everything stops at once and Close returns
// ctx's error. Close returns when every goroutine of the farm has ended,
// or when ctx ends: an engine running a Go function that ignores its ctx
// then ends in the background, when the function returns. Closing twice is
// safe (the second Close returns the first one's error).
func (f *Farm) Close(ctx context.Context) error {
	f.closeOnce.Do(func() {
		err := f.ctl.Stop(ctx)
		f.closeErr = errors.Join(err, f.closeNow(ctx))
	})
	return f.closeErr
}

// closeNow stops the controller (if still running) and the engines, and
// waits for the engines' goroutines until ctx ends.
func (f *Farm) closeNow(ctx context.Context) error {
	now, cancel := context.WithCancel(context.Background())
	cancel()
	_ = f.ctl.Stop(now) // no-op if already stopped
	f.mu.Lock()
	f.closed = true
	engines := slices.Clone(f.engines)
	f.mu.Unlock()
	f.stopServe()
	var err error
	for _, fe := range engines {
		select {
		case <-fe.done:
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("close farm: engine %d still running: %w", fe.e.ID(), ctx.Err())
			}
		}
	}
	return errors.Join(err, f.hub.Controller().Close())
}

// Controller returns the farm's controller.
func (f *Farm) Controller() *controller.Controller { return f.ctl }

// Run implements Client.
func (f *Farm) Run(ctx context.Context, t *Task) (TaskID, error) { return f.ctl.Run(ctx, t) }

// RunWait implements Client.
func (f *Farm) RunWait(ctx context.Context, t *Task) (TaskID, any, error) {
	id, err := f.ctl.Run(ctx, t)
	if err != nil {
		return drovertype.NoTask, nil, err
	}
	v, err := f.ctl.Result(ctx, id)
	return id, v, err
}

// Result implements Client.
func (f *Farm) Result(ctx context.Context, id TaskID) (any, error) { return f.ctl.Result(ctx, id) }

// Poll implements Client.
func (f *Farm) Poll(ctx context.Context, id TaskID) (any, bool, error) { return f.ctl.Poll(ctx, id) }

// Results implements Client.
func (f *Farm) Results(ctx context.Context, ids []TaskID) ([]any, []error, error) {
	return f.ctl.Results(ctx, ids)
}

// Abort implements Client.
func (f *Farm) Abort(ctx context.Context, id TaskID) error { return f.ctl.Abort(ctx, id) }

// Barrier implements Client.
func (f *Farm) Barrier(ctx context.Context, ids ...TaskID) error { return f.ctl.Barrier(ctx, ids...) }

// Spin implements Client.
func (f *Farm) Spin(ctx context.Context) (bool, error) { return f.ctl.Spin(ctx) }

// QueueStatus implements Client.
func (f *Farm) QueueStatus(ctx context.Context) (QueueStatus, error) { return f.ctl.QueueStatus(ctx) }

// QueueCounts implements Client.
func (f *Farm) QueueCounts(ctx context.Context) (QueueCounts, error) { return f.ctl.QueueCounts(ctx) }

// Clear implements Client.
func (f *Farm) Clear(ctx context.Context, ids ...TaskID) (int, error) {
	return f.ctl.Clear(ctx, ids...)
}

// ClearAll implements Client.
func (f *Farm) ClearAll(ctx context.Context) (int, error) { return f.ctl.ClearAll(ctx) }

// Map implements Client.
func (f *Farm) Map(ctx context.Context, proto *Task, seqs ...[]any) ([]any, error) {
	return mapSync(ctx, f.ctl, proto, seqs)
}

// MapAsync implements Client.
func (f *Farm) MapAsync(ctx context.Context, proto *Task, seqs ...[]any) ([]TaskID, error) {
	return mapAsync(ctx, f.ctl, proto, seqs)
}

// Parallel implements Client.
func (f *Farm) Parallel(proto *Task) func(ctx context.Context, seqs ...[]any) ([]any, error) {
	return func(ctx context.Context, seqs ...[]any) ([]any, error) { return f.Map(ctx, proto, seqs...) }
}

// Engines implements Client.
func (f *Farm) Engines(ctx context.Context) ([]EngineInfo, error) { return f.ctl.Engines(ctx) }

// Engine implements Client.
func (f *Farm) Engine(id EngineID) EngineClient { return engineClient{c: f.ctl, id: id} }

var _ Client = (*Farm)(nil)
