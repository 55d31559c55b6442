package controller_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
)

// TestClosedWhileWaiting: a request the loop had not served when the
// controller stopped fails with ErrClosed, whatever the method (none
// returns a zero value with a nil error), and its error names the
// operation.
func TestClosedWhileWaiting(t *testing.T) {
	for _, tc := range []struct {
		name   string
		call   func(ctx context.Context, c *controller.Controller) error
		prefix string
	}{
		{"Result", func(ctx context.Context, c *controller.Controller) error { _, err := c.Result(ctx, 0); return err }, "result: task 0: "},
		{"Poll", func(ctx context.Context, c *controller.Controller) error { _, _, err := c.Poll(ctx, 0); return err }, "poll: task 0: "},
		{"Results", func(ctx context.Context, c *controller.Controller) error {
			_, _, err := c.Results(ctx, []TaskID{0})
			return err
		}, "results: "},
		{"Barrier", func(ctx context.Context, c *controller.Controller) error { return c.Barrier(ctx, 0) }, "barrier: "},
		{"Abort", func(ctx context.Context, c *controller.Controller) error { return c.Abort(ctx, 0) }, "abort: task 0: "},
		{"Spin", func(ctx context.Context, c *controller.Controller) error { _, err := c.Spin(ctx); return err }, "spin: "},
		{"QueueStatus", func(ctx context.Context, c *controller.Controller) error { _, err := c.QueueStatus(ctx); return err }, "queue status: "},
		{"QueueCounts", func(ctx context.Context, c *controller.Controller) error { _, err := c.QueueCounts(ctx); return err }, "queue status: "},
		{"Clear", func(ctx context.Context, c *controller.Controller) error { _, err := c.Clear(ctx, 0); return err }, "clear: "},
		{"ClearAll", func(ctx context.Context, c *controller.Controller) error { _, err := c.ClearAll(ctx); return err }, "clear: "},
		{"Engines", func(ctx context.Context, c *controller.Controller) error { _, err := c.Engines(ctx); return err }, "engines: "},
		{"WaitEngines", func(ctx context.Context, c *controller.Controller) error { return c.WaitEngines(ctx, 1) }, "wait for 1 engines: "},
		{"Call", func(ctx context.Context, c *controller.Controller) error {
			_, err := c.Call(ctx, 0, transport.Call{Op: transport.OpKeys})
			return err
		}, "keys on engine 0: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				hub := newHub(t)
				c, err := controller.New(hub.Controller(), nil)
				if err != nil {
					t.Fatal(err)
				}
				errc := make(chan error, 1)
				go func() { errc <- tc.call(context.Background(), c) }()
				synctest.Wait() // the request is queued: the loop is not started
				if err := c.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
				err = <-errc
				if !errors.Is(err, drovertype.ErrClosed) || err.Error() != tc.prefix+"controller closed" {
					t.Fatalf("%s = %v, want %q (ErrClosed)", tc.name, err, tc.prefix+"controller closed")
				}
			})
		})
	}
}

// TestGivenUpRequestsHaveNoEffect: a request whose caller's ctx ended
// before the loop served it is dropped (the caller got ctx's error: the farm
// must not be affected).
func TestGivenUpRequestsHaveNoEffect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newHub(t)
		c, err := controller.New(hub.Controller(), &controller.Config{IdleTimeout: -1})
		if err != nil {
			t.Fatal(err)
		}
		id, err := c.Run(context.Background(), mapTask(t, "f", drovertype.Options{}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- c.Abort(ctx, id) }()
		synctest.Wait() // queued, not served: the loop is not started
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Abort = %v", err)
		}
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer c.Stop(context.Background())
		_, done, err := c.Poll(context.Background(), id)
		if done || err != nil {
			t.Fatalf("Poll = done %v, %v: the abort its caller gave up took effect", done, err)
		}
	})
}

// TestCallCopiesValues: Call hands the engine a copy of the call's values
// and names; a caller that gave up waiting may reuse them at once.
func TestCallCopiesValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, nil)
		e := f.engine(nil, 1)
		values := map[string]any{"x": []any{int64(1)}}
		names := []string{"a", "b"}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := f.c.Call(ctx, e.id, transport.Call{Op: transport.OpPush, Values: values, Names: names})
			errc <- err
		}()
		m := e.next()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Call = %v", err)
		}
		values["x"].([]any)[0] = int64(2)
		values["y"] = int64(3)
		names[0] = "z"
		if m.Call == nil || len(m.Call.Values) != 1 || m.Call.Values["x"].([]any)[0] != int64(1) || m.Call.Names[0] != "a" {
			t.Fatalf("the engine sees the caller's later changes: %+v", m.Call)
		}
	})
}

// emptyBatches is a fault-injecting transport end: every other Recv returns
// an empty batch without error.
type emptyBatches struct {
	transport.ControllerEnd
	n int // Recv calls (the pump is the only caller)
}

func (e *emptyBatches) Recv(ctx context.Context) ([]transport.FromEngine, error) {
	if e.n++; e.n%2 == 1 {
		return nil, nil
	}
	return e.ControllerEnd.Recv(ctx)
}

// TestEmptyBatchIsNotTransportDown: an empty batch from the transport is
// not taken for a broken transport (which would lose every engine).
func TestEmptyBatchIsNotTransportDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newHub(t)
		c, err := controller.New(&emptyBatches{ControllerEnd: hub.Controller()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer c.Stop(context.Background())
		f := &farm{t: t, hub: hub, c: c}
		e := f.engine(nil, 1)
		id := f.run(mapTask(t, "f", drovertype.Options{}))
		e.succeed(e.assignOf(id), int64(1))
		if v, err := f.result(id); v != int64(1) || err != nil {
			t.Fatalf("Result = %v, %v", v, err)
		}
		if infos, err := c.Engines(context.Background()); err != nil || len(infos) != 1 {
			t.Fatalf("Engines = %+v, %v", infos, err)
		}
	})
}

// TestResultsCopiesIDs: a caller that gave up waiting may reuse its ids at
// once; the loop, which completes the request later, has its own copy (the
// race detector checks).
func TestResultsCopiesIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, nil)
		e := f.engine(nil, 2)
		ids := []TaskID{f.run(mapTask(t, "f", drovertype.Options{})), f.run(mapTask(t, "f", drovertype.Options{}))}
		a0, a1 := e.assignOf(ids[0]), e.assignOf(ids[1])
		for _, wait := range []func(ctx context.Context) error{
			func(ctx context.Context) error { _, _, err := f.c.Results(ctx, ids); return err },
			func(ctx context.Context) error { return f.c.Barrier(ctx, ids...) },
		} {
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- wait(ctx) }()
			synctest.Wait()
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Fatalf("wait = %v", err)
			}
		}
		done := make(chan struct{})
		go func() { // the caller reuses its slice
			defer close(done)
			for i := range 100 {
				ids[0], ids[1] = TaskID(i), TaskID(i)
			}
		}()
		e.succeed(a0, int64(1))
		e.succeed(a1, int64(2))
		synctest.Wait()
		<-done
	})
}
