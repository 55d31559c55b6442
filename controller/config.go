package controller

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/scheduler"
)

// Defaults of Config's fields.
const (
	// DefaultFailurePenalty is how long an engine is kept out of scheduling
	// after an attempt failed on it (the seed's failurePenalty).
	DefaultFailurePenalty = time.Second
	// DefaultIdleTimeout is how long tasks may stay queued while every
	// engine is idle before they fail with TaskTimeout (the seed's timeout).
	DefaultIdleTimeout = 30 * time.Second
	// DefaultWindow is how many attempts the controller keeps assigned to
	// one engine at once (running plus queued on the engine). Measured with
	// package drover's BenchmarkFarmWindow (trivial Go-function tasks, 2
	// in-process engines, 2 cores): window 1 (the seed) ~4.5 µs/task, 2
	// ~3.6, 4 ~2.8, 8 ~2.35, 16 ~2.3-3.4, 64 ~2.4-4.3 (noisier: long
	// queues on engines). 8 is where the gain stops; a larger window also
	// ties more tasks to one engine ahead of time.
	DefaultWindow = 8
)

// DependCompiler compiles a task's depend constraint into a predicate over
// an engine's properties. The predicate is called by the controller's loop
// only (never concurrently with itself) with the controller's cached copy of
// an engine's properties, which it must not modify or keep; it must return
// false for any error (the seed: an exception in depend means "not on this
// engine"). The compiler itself is called from the goroutines that call
// Run, possibly concurrently. Package script provides the Starlark one
// (script.CompileDepend).
type DependCompiler func(*drovertype.Depend) (func(props map[string]any) bool, error)

// Config configures a Controller. The zero value of each field means its
// documented default; New copies the Config, so changing it afterwards has
// no effect.
type Config struct {
	// Policy is the scheduling policy: scheduler.FIFO (the zero value and
	// the seed's default: oldest runnable task to the longest-idle eligible
	// engine) or scheduler.LIFO (newest task to the most recently freed
	// engine).
	Policy scheduler.Policy

	// NewScheduler, when not nil, makes the scheduler instead of
	// scheduler.New(Policy, eligible): a custom policy. eligible is the
	// controller's eligibility function (see package scheduler).
	NewScheduler func(eligible scheduler.Eligible) (scheduler.Scheduler, error)

	// FailurePenalty is how long an engine is kept out of scheduling after
	// an attempt failed on it (the seed's failurePenalty). Defaults to
	// DefaultFailurePenalty; a negative value means no penalty (the engine
	// is readmitted at once, after the failed task was requeued, as the
	// seed's tests do with failurePenalty = 0).
	FailurePenalty time.Duration

	// IdleTimeout is how long tasks may stay queued while at least one
	// engine is registered and every engine is idle (so no engine can take
	// them) before every queued task fails with the seed's TaskTimeout
	// "task 3 failed to execute due to unmet dependencies for 30 seconds".
	// The countdown restarts at every scheduling event, as the seed's
	// checkIdle. Defaults to DefaultIdleTimeout; a negative value disables
	// it (tasks wait for an eligible engine for ever).
	IdleTimeout time.Duration

	// Window is how many attempts the controller keeps assigned to one
	// engine at once (the one running plus those queued behind it on the
	// engine), capped by the window the engine registers with. 1 is the
	// seed's behaviour (an engine gets its next task when it reports the
	// previous one); a larger window hides the controller-engine round trip.
	// Defaults to DefaultWindow; must be >= 0.
	Window int

	// Depend compiles tasks' depend constraints. When nil, a task (or
	// recovery task) with a depend constraint is refused by Run with an
	// error of kind InvalidArgument.
	Depend DependCompiler

	// Journal, when not nil, keeps the controller's state durable (package
	// journal: in JetStream): Run returns an id only once the task is
	// durable, results are written as tasks finish, and Start recovers the
	// unfinished tasks (queued again, in id order), the id counter and the
	// result counts; the results of tasks finished before a restart are
	// read from the journal by Result, Poll and Results. With a journal,
	// Run before Start is refused. nil (the default) keeps everything in
	// memory.
	Journal Journal

	// Logger receives the controller's diagnostics (engines registering and
	// leaving, messages that make no sense). Defaults to a logger that
	// discards everything.
	Logger *slog.Logger
}

// withDefaults returns a copy of cfg (nil: all defaults) with defaults
// filled in, or an error naming the invalid field.
func withDefaults(cfg *Config) (Config, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Policy != scheduler.FIFO && c.Policy != scheduler.LIFO {
		return c, fmt.Errorf("new controller: Config.Policy is %v, want scheduler.FIFO or scheduler.LIFO", c.Policy)
	}
	switch {
	case c.FailurePenalty == 0:
		c.FailurePenalty = DefaultFailurePenalty
	case c.FailurePenalty < 0:
		c.FailurePenalty = 0
	}
	switch {
	case c.IdleTimeout == 0:
		c.IdleTimeout = DefaultIdleTimeout
	case c.IdleTimeout < 0:
		c.IdleTimeout = -1
	}
	switch {
	case c.Window < 0:
		return c, fmt.Errorf("new controller: Config.Window is %d, want >= 0", c.Window)
	case c.Window == 0:
		c.Window = DefaultWindow
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
