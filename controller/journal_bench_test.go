package controller_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
)

func benchRegistry() *engine.Registry {
	reg := engine.NewRegistry()
	reg.MustRegister("inc", func(_ context.Context, args []any, _ map[string]any) (any, error) { return args[0].(int64) + 1, nil })
	return reg
}

// BenchmarkDurableThroughput: trivial Go-function tasks through a
// controller with a journal on a real JetStream file store and 2
// in-process engines, submitted in batches of 1,000 (RunBatch, as the
// control API's submit) and waited for with Results. One op = one task.
func BenchmarkDurableThroughput(b *testing.B) {
	dir := b.TempDir()
	s := startJS(b, dir, 0)
	f := newDurableFarmWindow(b, s, dir, benchRegistry(), 2, controller.DefaultWindow)
	ctx := context.Background()
	const batch = 1000
	tasks := make([]*drovertype.Task, batch)
	for i := range tasks {
		t, err := drovertype.NewMapTask("inc", []any{int64(i)}, nil, drovertype.Options{})
		if err != nil {
			b.Fatal(err)
		}
		tasks[i] = t
	}
	var pending [][]drovertype.TaskID
	wait := func(ids []drovertype.TaskID) {
		_, errs, err := f.c.Results(ctx, ids)
		if err != nil || errors.Join(errs...) != nil {
			b.Fatal(err, errors.Join(errs...))
		}
	}
	n := 0
	start := time.Now()
	for b.Loop() {
		if n%batch == 0 {
			ids, err := f.c.RunBatch(ctx, tasks)
			if err != nil {
				b.Fatal(err)
			}
			pending = append(pending, ids)
			if len(pending) > 4 { // keep about 5,000 tasks in flight
				wait(pending[0])
				pending = slices.Delete(pending, 0, 1)
			}
		}
		n++
	}
	for _, ids := range pending {
		wait(ids)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "tasks/s")
	if err := f.j.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDurableRoundTrip: one task at a time, Run (durable) then Result.
func BenchmarkDurableRoundTrip(b *testing.B) {
	dir := b.TempDir()
	s := startJS(b, dir, 0)
	f := newDurableFarmWindow(b, s, dir, benchRegistry(), 2, controller.DefaultWindow)
	ctx := context.Background()
	task, err := drovertype.NewMapTask("inc", []any{int64(1)}, nil, drovertype.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	for b.Loop() {
		t0 := time.Now()
		id, err := f.c.Run(ctx, task)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.c.Result(ctx, id); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkRestart1M: the time from starting the NATS server on a store
// holding 1,000,000 finished results (and 1,000 unfinished tasks) to the
// first new task accepted by a controller recovered from it. The store is
// built once (about 15-30 s); each op restarts the server, reopens the
// journal, starts a controller (which recovers) and runs one task.
func BenchmarkRestart1M(b *testing.B) {
	const results, unfinished = 1_000_000, 1000
	dir := b.TempDir()
	ctx := context.Background()
	{
		s := startJS(b, dir, 0)
		f := newDurableFarmWindow(b, s, dir, benchRegistry(), 0, 1)
		for id := drovertype.TaskID(0); id < results; id++ {
			f.j.Finished(1_000_000_000+id, int64(id), nil, false) // results of tasks of another life
			if id%10000 == 0 {
				if err := f.j.Flush(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		tasks := make([]*drovertype.Task, unfinished)
		for i := range tasks {
			tasks[i], _ = drovertype.NewMapTask("inc", []any{int64(i)}, nil, drovertype.Options{})
		}
		if _, err := f.c.RunBatch(ctx, tasks); err != nil {
			b.Fatal(err)
		}
		if err := f.j.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		f.crash()
		s.stop()
	}
	task, _ := drovertype.NewMapTask("inc", []any{int64(1)}, nil, drovertype.Options{})
	for b.Loop() {
		if os.Getenv("DROVER_BENCH_UNCLEAN") != "" {
			// As after kill -9: no stream state snapshot to start from.
			b.StopTimer()
			var snaps []string
			_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Name() == "index.db" {
					snaps = append(snaps, p)
				}
				return nil
			})
			for _, p := range snaps {
				if err := os.Remove(p); err != nil {
					b.Fatal(err)
				}
			}
			if len(snaps) == 0 {
				b.Fatal("no stream snapshot found under " + dir)
			}
			b.StartTimer()
		}
		s := startJS(b, dir, 0)
		f := newDurableFarmWindow(b, s, dir, benchRegistry(), 0, 1)
		if _, err := f.c.Run(ctx, task); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		counts, err := f.c.QueueCounts(ctx)
		if err != nil || counts.Succeeded != results || counts.Scheduled < unfinished+1 {
			b.Fatalf("recovered %+v, %v", counts, err)
		}
		f.crash()
		s.stop()
		b.StartTimer()
	}
}
