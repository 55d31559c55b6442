package natstransport_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport/natstransport"
)

// benchFarm starts a server (in-process connections, or loopback TCP), a
// controller with window (0: its default) and two engines.
func benchFarm(b *testing.B, inProcess bool, window int) *farm {
	s := startServer(b, inProcess, -1)
	f := newFarm(b, s, natstransport.Config{}, &controller.Config{Window: window}, doubleRegistry(b, nil))
	f.addEngine("e1", nil, window)
	f.addEngine("e2", nil, window)
	return f
}

var conns = []struct {
	name      string
	inProcess bool
}{{"inprocess", true}, {"tcp", false}}

// BenchmarkThroughput: trivial registered Go-function map tasks through
// the farm over NATS (controller and 2 engines in this process, each on its
// own connection): submit 10,000, then wait for all of them, then clear.
func BenchmarkThroughput(b *testing.B) {
	for _, c := range conns {
		b.Run(c.name, func(b *testing.B) {
			f := benchFarm(b, c.inProcess, 0)
			runBatches(b, f, 10_000)
		})
	}
}

// BenchmarkThroughputWindow is BenchmarkThroughput for several windows
// (attempts assigned per engine at once).
func BenchmarkThroughputWindow(b *testing.B) {
	for _, c := range conns {
		for _, w := range []int{1, 2, 4, 8, 16, 32, 64} {
			b.Run(fmt.Sprintf("%s/window=%d", c.name, w), func(b *testing.B) {
				f := benchFarm(b, c.inProcess, w)
				runBatches(b, f, 10_000)
			})
		}
	}
}

func runBatches(b *testing.B, f *farm, batch int) {
	ctx := context.Background()
	task, err := drovertype.NewMapTask("double", []any{int64(1)}, nil, drovertype.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]drovertype.TaskID, batch)
	in0, out0 := f.end.Stats(), f.end.Stats()
	b.ReportAllocs()
	for b.Loop() {
		for i := range ids {
			if ids[i], err = f.ctl.Run(ctx, task); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.ctl.Barrier(ctx, ids...); err != nil {
			b.Fatal(err)
		}
		if _, err := f.ctl.ClearAll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	st := f.end.Stats()
	tasks := float64(b.N * batch)
	b.ReportMetric(tasks/b.Elapsed().Seconds(), "tasks/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/tasks, "ns/task")
	// Batching: transport messages per NATS message, each way.
	if n := st.FramesOut - out0.FramesOut; n > 0 {
		b.ReportMetric(float64(st.MsgsOut-out0.MsgsOut)/float64(n), "msgs/frame-out")
	}
	if n := st.FramesIn - in0.FramesIn; n > 0 {
		b.ReportMetric(float64(st.MsgsIn-in0.MsgsIn)/float64(n), "msgs/frame-in")
	}
}

// BenchmarkLatency: one task at a time, submit then wait for its result
// (then clear it): the round trip of a trivial task through the farm over
// NATS. Reports percentiles of the round trip.
func BenchmarkLatency(b *testing.B) {
	for _, c := range conns {
		b.Run(c.name, func(b *testing.B) {
			f := benchFarm(b, c.inProcess, 0)
			ctx := context.Background()
			task, err := drovertype.NewMapTask("double", []any{int64(21)}, nil, drovertype.Options{})
			if err != nil {
				b.Fatal(err)
			}
			var lat []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				id, err := f.ctl.Run(ctx, task)
				if err != nil {
					b.Fatal(err)
				}
				v, err := f.ctl.Result(ctx, id)
				lat = append(lat, time.Since(start))
				if err != nil || v != int64(42) {
					b.Fatalf("result %v, %v", v, err)
				}
				if _, err := f.ctl.Clear(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
			b.ReportMetric(pct(0.50), "p50-µs")
			b.ReportMetric(pct(0.90), "p90-µs")
			b.ReportMetric(pct(0.99), "p99-µs")
		})
	}
}
