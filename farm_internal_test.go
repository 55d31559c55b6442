package drover

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestFarmForgetsRemovedEngines: engines that were removed, or whose
// AddEngine gave up, leave nothing behind in the farm (an engine record
// holds the engine's whole namespace).
func TestFarmForgetsRemovedEngines(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f, err := Open(ctx, &Config{Engines: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	for range 5 {
		id, err := f.AddEngine(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.RemoveEngine(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	// AddEngine whose ctx ends before the engine registered: the engine is
	// not left running behind the caller's back.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.AddEngine(cctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("AddEngine(cancelled) = %v", err)
	}
	if n := f.hub.Engines(); n != 0 {
		t.Fatalf("%d engine ends still open", n)
	}
	f.wg.Wait() // every engine goroutine has ended
	f.mu.Lock()
	n := len(f.engines)
	f.mu.Unlock()
	if n != 0 {
		t.Fatalf("the farm keeps %d records of engines that are gone", n)
	}
}

// stubbornFarm opens a farm of one engine running a Go function that
// ignores its ctx; it returns once the function runs, with the task's id
// and the function's release.
func stubbornFarm(t *testing.T) (*Farm, TaskID, chan struct{}) {
	t.Helper()
	release := make(chan struct{})
	started := make(chan struct{})
	reg := NewRegistry()
	reg.MustRegister("stubborn", func(context.Context, []any, map[string]any) (any, error) {
		close(started)
		<-release
		return nil, nil
	})
	f, err := Open(t.Context(), &Config{Engines: 1, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	task, _ := NewMapTask("stubborn", nil, nil, Options{})
	id, err := f.Run(t.Context(), task)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	return f, id, release
}

// TestRemoveEngineHonoursContext: RemoveEngine waits for the engine's
// goroutine only until ctx ends (a Go function that ignores its ctx keeps
// it running).
func TestRemoveEngineHonoursContext(t *testing.T) {
	t.Parallel()
	f, id, release := stubbornFarm(t)
	defer f.Close(context.Background())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := f.RemoveEngine(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RemoveEngine = %v", err)
	}
	// The engine is gone for the controller all the same.
	if _, err := f.Result(t.Context(), id); !errors.Is(err, ErrEngineLost) {
		t.Fatalf("Result = %v", err)
	}
	if err := f.RemoveEngine(t.Context(), 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second RemoveEngine = %v", err)
	}
	close(release)
}

// TestCloseHonoursContext: Close returns when its ctx ends even if an
// engine's Go function ignores its own ctx (the engine's goroutine ends
// when the function returns).
func TestCloseHonoursContext(t *testing.T) {
	t.Parallel()
	f, _, release := stubbornFarm(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- f.Close(ctx) }()
	select {
	case err := <-closed:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close = %v", err)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatalf("Close did not return after its ctx ended: %v", <-closed)
	}
	close(release)
	f.wg.Wait()
}
