package engine

import (
	"context"
	"sync"
	"time"
)

// attemptCtx is the context of an attempt run by Serve: a cheap stand-in
// for context.WithCancelCause. It is not registered with its parent (Serve
// cancels the running attempt itself when it stops), its Done channel is
// made only if someone asks for it, and a Starlark run hooks its thread's
// cancellation into it directly instead of through context.AfterFunc. It
// keeps its cause itself (context.Cause cannot see it; see causeOf).
type attemptCtx struct {
	parent context.Context

	mu      sync.Mutex
	done    chan struct{}
	err     error
	cause   error
	hookE   *Engine // a Starlark run to cancel, and its generation
	hookGen uint64
	after   []func()
}

type attemptKey struct{}

func newAttemptCtx(parent context.Context) *attemptCtx { return &attemptCtx{parent: parent} }

func (c *attemptCtx) Deadline() (time.Time, bool) { return c.parent.Deadline() }

func (c *attemptCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		}
	}
	return c.done
}

func (c *attemptCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *attemptCtx) Value(key any) any {
	if key == (attemptKey{}) {
		return c
	}
	return c.parent.Value(key)
}

// AfterFunc lets context.AfterFunc and derived contexts
// (context.WithTimeout) watch c without a goroutine.
func (c *attemptCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	i := len(c.after)
	c.after = append(c.after, f)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.err != nil || i >= len(c.after) || c.after[i] == nil {
			return false
		}
		c.after[i] = nil
		return true
	}
}

// cancel cancels c with cause (nil: context.Canceled).
func (c *attemptCtx) cancel(cause error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = context.Canceled
	if cause == nil {
		cause = context.Canceled
	}
	c.cause = cause
	if c.done != nil {
		close(c.done)
	}
	e, gen := c.hookE, c.hookGen
	after := c.after
	c.after = nil
	c.mu.Unlock()
	if e != nil {
		e.cancelRun(gen)
	}
	for _, f := range after {
		if f != nil {
			go f()
		}
	}
}

// hook makes cancel stop the engine's Starlark run of generation gen; it
// reports false if c is already cancelled.
func (c *attemptCtx) hook(e *Engine, gen uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return false
	}
	c.hookE, c.hookGen = e, gen
	return true
}

func (c *attemptCtx) unhook() {
	c.mu.Lock()
	c.hookE = nil
	c.mu.Unlock()
}

// causeOf returns the cause of ctx's cancellation: context.Cause, unless
// the cancellation came from an attemptCtx (ctx itself or an ancestor),
// whose cause context.Cause cannot see.
func causeOf(ctx context.Context) error {
	cause := context.Cause(ctx)
	if ac, ok := ctx.Value(attemptKey{}).(*attemptCtx); ok {
		ac.mu.Lock()
		acCause := ac.cause
		ac.mu.Unlock()
		if acCause != nil && (cause == nil || cause == context.Canceled) {
			return acCause
		}
	}
	return cause
}
