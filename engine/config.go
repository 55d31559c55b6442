package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/drover-dev/drover/drovertype"
)

// Defaults of Config.
const (
	// DefaultStepBudget is the step budget of a Starlark run when neither the
	// engine nor the task sets one: about 4.3 billion interpreter steps. A
	// loop of ten million iterations with a small body takes 100 to 200
	// million steps; on a 2020s CPU the budget is a minute or more of pure
	// Starlark. It is a guard against runaways, not a scheduler.
	DefaultStepBudget uint64 = 1 << 32
	// DefaultMaxCallDepth bounds the nesting of Starlark calls, so that a
	// runaway recursion fails with RecursionError instead of exhausting the
	// goroutine's stack (which would crash the process).
	DefaultMaxCallDepth = 10000
	// DefaultWindow is the number of attempts an engine accepts assigned at
	// once (the running one and those queued behind it). The controller
	// keeps at most the smaller of its own window and this one assigned,
	// so the engine's default leaves the choice to the controller (whose
	// default is smaller) up to a window that hides a network round trip
	// (over NATS on loopback, 2 engine processes: 64 gives 2 to 3 times
	// the throughput of 8; see internal/netcmd's BenchmarkProcessMap).
	DefaultWindow = 64
	// DefaultMaxOutput bounds what a command task keeps of each of its
	// stdout and stderr (the rest is read and dropped).
	DefaultMaxOutput = 16 << 20
	// DefaultCacheSize is the number of compiled programs an engine keeps.
	DefaultCacheSize = 1024
)

// Config configures an engine. The zero value (or nil) is valid: every zero
// field means its documented default. New copies what it needs; later
// changes to the Config do not affect the engine.
type Config struct {
	// ID is the engine's id until a controller assigns one (Serve); it is
	// the value of `id` in the namespace and the EngineID of results.
	// Default 0.
	ID drovertype.EngineID
	// Name labels the engine in its registration (informative). Default
	// "engine".
	Name string
	// Properties are the initial properties (copied; every value must be
	// plain data, see drovertype.ValidateValue).
	Properties map[string]any
	// Registry holds the Go functions map tasks may call by name (copied
	// at New: later registrations are not seen by this engine).
	Registry *Registry
	// AllowCommands lets the engine run command tasks.
	AllowCommands bool
	// StepBudget limits the interpreter steps of each Starlark run (one
	// Execute, one string task's code, one call of a map task's function).
	// A task or call may set its own. Default DefaultStepBudget.
	StepBudget uint64
	// MaxCallDepth limits the nesting of Starlark calls. Default
	// DefaultMaxCallDepth.
	MaxCallDepth int
	// Window is the number of attempts the engine accepts assigned at once
	// (sent in its registration). Default DefaultWindow; 1 is the seed's
	// behaviour.
	Window int
	// Shell runs the shell line of a command task: Shell[0] is the program,
	// the line is appended as the last argument. Default ["/bin/sh", "-c"].
	Shell []string
	// Dir is the working directory of command tasks. Default: the
	// process's.
	Dir string
	// Env is the environment of command tasks. Default (nil): the
	// process's.
	Env []string
	// MaxOutput bounds the bytes of stdout and of stderr a command task
	// keeps. Default DefaultMaxOutput.
	MaxOutput int
	// Print receives the output of Starlark's print. Default: discarded.
	// It is called from the engine's running command, one call at a time.
	Print func(msg string)
	// CacheSize is the number of compiled programs (engine code and map
	// task functions, each) the engine keeps. Default DefaultCacheSize.
	CacheSize int
}

// Func is a Go function that map tasks call by name. args and kwargs are
// plain data (see drovertype.ValidateValue), owned by the task: the function
// must not modify them. The result must be plain data too. ctx is cancelled
// when the attempt is aborted or times out; a function that does not watch
// it keeps the engine busy until it returns. A Func registered with several
// engines (as a farm's Registry is) is called concurrently, by each engine:
// it must be safe for concurrent use.
type Func func(ctx context.Context, args []any, kwargs map[string]any) (any, error)

// Registry maps names to Go functions for map tasks. It is safe for
// concurrent use. The zero value is an empty registry.
type Registry struct {
	mu    sync.RWMutex
	funcs map[string]Func
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Register adds fn under name. The name must not be empty and not already
// registered; fn must not be nil.
func (r *Registry) Register(name string, fn Func) error {
	if name == "" {
		return fmt.Errorf("engine: register function: empty name")
	}
	if fn == nil {
		return fmt.Errorf("engine: register function %q: nil function", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.funcs[name]; dup {
		return fmt.Errorf("engine: register function %q: already registered", name)
	}
	if r.funcs == nil {
		r.funcs = make(map[string]Func)
	}
	r.funcs[name] = fn
	return nil
}

// MustRegister is Register that panics on error (for package-level setup in
// tests and main functions).
func (r *Registry) MustRegister(name string, fn Func) {
	if err := r.Register(name, fn); err != nil {
		panic(err)
	}
}

// Lookup returns the function registered under name.
func (r *Registry) Lookup(name string) (Func, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn, ok := r.funcs[name]
	return fn, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.funcs))
}

func (r *Registry) snapshot() map[string]Func {
	if r == nil {
		return map[string]Func{}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return maps.Clone(r.funcs)
}
