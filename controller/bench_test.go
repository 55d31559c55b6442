package controller_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport/memtransport"
)

// BenchmarkMemoryPerQueuedTask measures the heap a queued task costs the
// controller (its record, its copy of the task, the scheduler's entry):
// 100,000 trivial map tasks queued with no engine.
func BenchmarkMemoryPerQueuedTask(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	task, err := drovertype.NewMapTask("f", []any{int64(12345)}, nil, drovertype.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var perTask float64
	for b.Loop() {
		hub, err := memtransport.New(nil)
		if err != nil {
			b.Fatal(err)
		}
		c, err := controller.New(hub.Controller(), nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Start(ctx); err != nil {
			b.Fatal(err)
		}
		// Warm the loop's storage with one task, then measure.
		if _, err := c.Run(ctx, task); err != nil {
			b.Fatal(err)
		}
		if _, err := c.QueueCounts(ctx); err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range n {
			if _, err := c.Run(ctx, task); err != nil {
				b.Fatal(err)
			}
		}
		counts, err := c.QueueCounts(ctx)
		if err != nil || counts.Scheduled != n+1 {
			b.Fatalf("counts %+v, %v", counts, err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perTask = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(c)
		if err := c.Stop(ctx); err != nil {
			b.Fatal(err)
		}
		_ = hub.Controller().Close()
	}
	b.ReportMetric(perTask, "B/task")
}
