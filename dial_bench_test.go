package drover_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/drovertest"
)

// benchRemote is a farm of 2 in-process engines with "noop", served over
// an embedded NATS server (auth on, loopback TCP for the client) and
// reached with Dial.
func benchRemote(b *testing.B) *drover.Remote {
	return newRemote(b, &drover.Config{Engines: 2, Registry: drovertest.Registry(b, map[string]drover.Func{"noop": noop})}, nil).remote
}

// BenchmarkRemoteLatency: one trivial task at a time through the control
// API, Run then Result (two requests): the round trip a remote client
// sees, with its median and 99th percentile.
func BenchmarkRemoteLatency(b *testing.B) {
	r := benchRemote(b)
	ctx := context.Background()
	task, _ := drover.NewMapTask("noop", []any{int64(1)}, nil, drover.Options{})
	var lat []time.Duration
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		id, err := r.Run(ctx, task)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Result(ctx, id); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		if n++; n%10000 == 0 {
			if _, err := r.ClearAll(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkRemoteMap: 10,000 trivial tasks per iteration submitted in
// batches (MapAsync: one request per 10,000 tasks), then Barrier and
// ClearAll: the throughput of the control API with the in-process engines.
func BenchmarkRemoteMap(b *testing.B) {
	r := benchRemote(b)
	ctx := context.Background()
	proto, _ := drover.NewMapTask("noop", nil, nil, drover.Options{})
	const batch = 10000
	xs := make([]any, batch)
	for i := range xs {
		xs[i] = int64(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		ids, err := r.MapAsync(ctx, proto, xs)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Barrier(ctx, ids...); err != nil {
			b.Fatal(err)
		}
		if _, err := r.ClearAll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "tasks/s")
}

// BenchmarkRemoteRun: like BenchmarkRemoteMap, but one Run request per
// task (what a client that does not batch gets).
func BenchmarkRemoteRun(b *testing.B) {
	r := benchRemote(b)
	ctx := context.Background()
	task, _ := drover.NewMapTask("noop", []any{int64(1)}, nil, drover.Options{})
	const batch = 1000
	ids := make([]drover.TaskID, batch)
	b.ReportAllocs()
	for b.Loop() {
		for i := range ids {
			id, err := r.Run(ctx, task)
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = id
		}
		if err := r.Barrier(ctx, ids...); err != nil {
			b.Fatal(err)
		}
		if _, err := r.ClearAll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "tasks/s")
}

// BenchmarkRemoteMapResults: Map of 10,000 trivial tasks: batched submit,
// then the results (values back over the wire).
func BenchmarkRemoteMapResults(b *testing.B) {
	r := benchRemote(b)
	ctx := context.Background()
	proto, _ := drover.NewMapTask("noop", nil, nil, drover.Options{})
	const batch = 10000
	xs := make([]any, batch)
	for i := range xs {
		xs[i] = int64(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Map(ctx, proto, xs); err != nil {
			b.Fatal(err)
		}
		if _, err := r.ClearAll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "tasks/s")
}

// BenchmarkNATSLatency: BenchmarkRemoteLatency over the whole networked
// stack: the client, the controller and 2 engines each on their own NATS
// connection to the embedded server (auth callout, per-engine
// permissions), the engines on the NATS transport.
func BenchmarkNATSLatency(b *testing.B) {
	r := newNATSFarm(b, 2, drovertest.Registry(b, map[string]drover.Func{"noop": noop})).remote
	ctx := context.Background()
	task, _ := drover.NewMapTask("noop", []any{int64(1)}, nil, drover.Options{})
	var lat []time.Duration
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		id, err := r.Run(ctx, task)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Result(ctx, id); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		if n++; n%10000 == 0 {
			if _, err := r.ClearAll(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkNATSMap: BenchmarkRemoteMap over the whole networked stack.
func BenchmarkNATSMap(b *testing.B) {
	r := newNATSFarm(b, 2, drovertest.Registry(b, map[string]drover.Func{"noop": noop})).remote
	ctx := context.Background()
	proto, _ := drover.NewMapTask("noop", nil, nil, drover.Options{})
	const batch = 10000
	xs := make([]any, batch)
	for i := range xs {
		xs[i] = int64(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		ids, err := r.MapAsync(ctx, proto, xs)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Barrier(ctx, ids...); err != nil {
			b.Fatal(err)
		}
		if _, err := r.ClearAll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "tasks/s")
}
