package drover_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/drovertest"
)

func noop(ctx context.Context, args []any, kwargs map[string]any) (any, error) { return args[0], nil }

// benchFarm opens a farm of 2 engines with the function "noop".
func benchFarm(b *testing.B, window int) *drover.Farm {
	return drovertest.NewFarm(b, &drover.Config{
		Engines:  2,
		Window:   window,
		Registry: drovertest.Registry(b, map[string]drover.Func{"noop": noop}),
	})
}

// runBatches submits batch copies of task, waits for them, clears their
// results, and reports tasks/s.
func runBatches(b *testing.B, f *drover.Farm, task *drover.Task, batch int) {
	ctx := context.Background()
	ids := make([]drover.TaskID, batch)
	b.ReportAllocs()
	for b.Loop() {
		for i := range ids {
			id, err := f.Run(ctx, task)
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = id
		}
		if err := f.Barrier(ctx, ids...); err != nil {
			b.Fatal(err)
		}
		if _, err := f.ClearAll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "tasks/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/task")
}

// BenchmarkFarmGoFunc: trivial registered Go-function map tasks through the
// whole farm (2 in-process engines): submit 10,000, then wait for them.
func BenchmarkFarmGoFunc(b *testing.B) {
	f := benchFarm(b, 0)
	task, _ := drover.NewMapTask("noop", []any{int64(1)}, nil, drover.Options{})
	runBatches(b, f, task, 10000)
}

// BenchmarkFarmWindow measures the throughput of BenchmarkFarmGoFunc for
// several windows (attempts assigned per engine at once); it chose
// DefaultWindow.
func BenchmarkFarmWindow(b *testing.B) {
	for _, w := range []int{1, 2, 4, 8, 16, 64} {
		b.Run(fmt.Sprintf("window=%d", w), func(b *testing.B) {
			f := benchFarm(b, w)
			task, _ := drover.NewMapTask("noop", []any{int64(1)}, nil, drover.Options{})
			runBatches(b, f, task, 10000)
		})
	}
}

// BenchmarkFarmGoFuncLatency: one task at a time, Run then Result: the
// round trip of a trivial task through the farm.
func BenchmarkFarmGoFuncLatency(b *testing.B) {
	f := benchFarm(b, 0)
	ctx := context.Background()
	task, _ := drover.NewMapTask("noop", []any{int64(1)}, nil, drover.Options{})
	b.ReportAllocs()
	for b.Loop() {
		id, err := f.Run(ctx, task)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Result(ctx, id); err != nil {
			b.Fatal(err)
		}
		if _, err := f.Clear(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFarmStarlarkMap: trivial Starlark map tasks (the function is
// shipped as source; engines compile it once and cache it), 2 engines,
// submit 10,000 then wait.
func BenchmarkFarmStarlarkMap(b *testing.B) {
	f := benchFarm(b, 0)
	task, err := drover.NewStarlarkMapTask("def inc(x):\n    return x + 1\n", "inc", []any{int64(1)}, nil, drover.Options{})
	if err != nil {
		b.Fatal(err)
	}
	runBatches(b, f, task, 10000)
}

// BenchmarkFarmStringTaskRoundTrip: one string task at a time (push a
// value, run code, pull the result), Run then Result.
func BenchmarkFarmStringTaskRoundTrip(b *testing.B) {
	f := benchFarm(b, 0)
	ctx := context.Background()
	task, err := drover.NewStringTask("b = a * 2", map[string]any{"a": int64(21)}, "b", drover.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		id, err := f.Run(ctx, task)
		if err != nil {
			b.Fatal(err)
		}
		v, err := f.Result(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if v.(*drover.TaskResult).Results["b"] != int64(42) {
			b.Fatalf("result %v", v)
		}
		if _, err := f.Clear(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFarmStringTasks: string tasks, submit 10,000 then wait.
func BenchmarkFarmStringTasks(b *testing.B) {
	f := benchFarm(b, 0)
	task, err := drover.NewStringTask("b = a * 2", map[string]any{"a": int64(21)}, "b", drover.Options{})
	if err != nil {
		b.Fatal(err)
	}
	runBatches(b, f, task, 10000)
}
