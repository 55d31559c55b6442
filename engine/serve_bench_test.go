package engine_test

import (
	"context"
	"sync"
	"testing"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/memtransport"
)

// benchServe measures tasks per second through Serve: n engines on one
// memtransport hub, driven by a minimal controller loop (this goroutine)
// that keeps each engine's window full. One iteration is one task.
func benchServe(b *testing.B, n, window int, task *drovertype.Task) {
	reg := engine.NewRegistry()
	reg.MustRegister("double", func(_ context.Context, args []any, _ map[string]any) (any, error) {
		return args[0].(int64) * 2, nil
	})
	hub, _ := memtransport.New(nil)
	ctrl := hub.Controller()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range n {
		e, err := engine.New(&engine.Config{Registry: reg, Window: window})
		if err != nil {
			b.Fatal(err)
		}
		end := hub.NewEngine()
		wg.Go(func() { e.Serve(ctx, end) })
	}
	defer func() {
		cancel()
		wg.Wait()
		ctrl.Close()
	}()
	var addrs []string
	for len(addrs) < n {
		msgs, err := ctrl.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range msgs {
			if m.Register != nil {
				addrs = append(addrs, m.From)
			}
		}
	}
	var next transport.AttemptID
	assignN := func(addr string, k int) {
		msgs := make([]transport.ToEngine, k)
		for i := range msgs {
			next++
			msgs[i] = transport.ToEngine{Assign: &transport.Assign{Attempt: next, TaskID: drovertype.TaskID(next), Task: task}}
		}
		if err := ctrl.Send(ctx, addr, msgs...); err != nil {
			b.Fatal(err)
		}
	}
	for _, a := range addrs {
		assignN(a, window)
	}
	var buf []transport.FromEngine
	refill := map[string]int{}
	for b.Loop() {
		for len(buf) == 0 {
			for a, k := range refill {
				assignN(a, k)
				delete(refill, a)
			}
			msgs, err := ctrl.Recv(ctx)
			if err != nil {
				b.Fatal(err)
			}
			buf = msgs
		}
		m := buf[0]
		buf = buf[1:]
		if m.Outcome == nil || m.Outcome.Err != nil {
			b.Fatalf("unexpected message %+v", m)
		}
		refill[m.From]++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}

func BenchmarkServeGo(b *testing.B) {
	task := &drovertype.Task{Kind: drovertype.MapTask, FuncName: "double", Args: []any{int64(21)}}
	for _, tc := range []struct {
		name    string
		engines int
		window  int
	}{{"1engine/window1", 1, 1}, {"1engine/window8", 1, 8}, {"2engines/window8", 2, 8}, {"2engines/window32", 2, 32}} {
		b.Run(tc.name, func(b *testing.B) { benchServe(b, tc.engines, tc.window, task) })
	}
}

func BenchmarkServeStarlark(b *testing.B) {
	task := &drovertype.Task{Kind: drovertype.MapTask, FuncName: "double", FuncSource: "def double(x):\n    return 2 * x\n", Args: []any{int64(21)}}
	b.Run("2engines/window8", func(b *testing.B) { benchServe(b, 2, 8, task) })
}

func BenchmarkServeString(b *testing.B) {
	task := &drovertype.Task{Kind: drovertype.StringTask, Code: "b = a * 2", Push: map[string]any{"a": int64(21)}, Pull: []string{"b"}}
	b.Run("2engines/window8", func(b *testing.B) { benchServe(b, 2, 8, task) })
}

// BenchmarkServeRoundTrip: one task at a time through Serve over the
// memtransport: Assign, then wait for its Outcome. The engine's own part
// of a task's round trip (its goroutine hand-offs included).
func BenchmarkServeRoundTrip(b *testing.B) {
	reg := engine.NewRegistry()
	reg.MustRegister("double", func(_ context.Context, args []any, _ map[string]any) (any, error) {
		return args[0].(int64) * 2, nil
	})
	hub, _ := memtransport.New(nil)
	ctrl := hub.Controller()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	e, err := engine.New(&engine.Config{Registry: reg})
	if err != nil {
		b.Fatal(err)
	}
	end := hub.NewEngine()
	wg.Go(func() { e.Serve(ctx, end) })
	defer func() {
		cancel()
		wg.Wait()
		ctrl.Close()
	}()
	var addr string
	for addr == "" {
		msgs, err := ctrl.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range msgs {
			if m.Register != nil {
				addr = m.From
			}
		}
	}
	task := &drovertype.Task{Kind: drovertype.MapTask, FuncName: "double", Args: []any{int64(21)}}
	var next transport.AttemptID
	for b.Loop() {
		next++
		if err := ctrl.Send(ctx, addr, transport.ToEngine{Assign: &transport.Assign{Attempt: next, TaskID: drovertype.TaskID(next), Task: task}}); err != nil {
			b.Fatal(err)
		}
		for done := false; !done; {
			msgs, err := ctrl.Recv(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for _, m := range msgs {
				done = done || m.Outcome != nil && m.Outcome.Attempt == next
			}
		}
	}
}
