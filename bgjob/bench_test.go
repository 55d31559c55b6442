//go:build unix

package bgjob_test

import (
	"context"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/drover-dev/drover/bgjob"
)

// flushEvery bounds the memory of the job benchmarks: every finished job
// stays registered until a Flush, and listed in the report lists until a
// StatusNew. The benchmarks do both, as a shell user would.
const flushEvery = 4096

func flush(m *bgjob.Manager) {
	m.Flush(io.Discard)
	m.StatusNew(io.Discard)
}

// cpuTime returns the CPU time (user and system) this process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per op since start: unlike ns/op it does not
// grow when other processes compete for the machine.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

func benchJobs(b *testing.B, target any, args ...any) {
	m := newManager(b, nil)
	ctx := context.Background()
	n := 0
	b.ReportAllocs()
	start := cpuTime(b)
	defer reportCPU(b, start)
	for b.Loop() {
		j, err := m.New(target, args...)
		if err != nil {
			b.Fatal(err)
		}
		if err := j.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		if n++; n%flushEvery == 0 {
			flush(m)
		}
	}
	for _, j := range m.Dead() {
		b.Fatalf("%s died: %s", j.Repr(), j.Traceback())
	}
}

// BenchmarkFuncJob: create, run and complete one Func job, waited for.
func BenchmarkFuncJob(b *testing.B) {
	benchJobs(b, bgjob.Func(func(context.Context) (any, error) { return 1, nil }))
}

// BenchmarkReflectFuncJob: the same with a plain Go function bound to two
// arguments through reflect.
func BenchmarkReflectFuncJob(b *testing.B) {
	benchJobs(b, addInts, 1, 2)
}

// BenchmarkExprJob: compile, run and complete one expression job with the
// trivial test evaluator (package script benchmarks the Starlark one).
func BenchmarkExprJob(b *testing.B) {
	benchJobs(b, "1+2")
}

// BenchmarkFuncJobParallel: jobs created and waited for from every P at
// once, in one manager.
func BenchmarkFuncJobParallel(b *testing.B) {
	m := newManager(b, nil)
	f := bgjob.Func(func(context.Context) (any, error) { return 1, nil })
	b.ReportAllocs()
	start := cpuTime(b)
	defer reportCPU(b, start)
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			j, err := m.New(f)
			if err != nil {
				b.Error(err)
				return
			}
			_ = j.Wait(context.Background())
			if n++; n%flushEvery == 0 {
				flush(m)
			}
		}
	})
}

// BenchmarkStatus10k: Status over 10,000 finished jobs.
func BenchmarkStatus10k(b *testing.B) {
	m := newManager(b, nil)
	f := func() {}
	for range 10_000 {
		if _, err := m.New(f); err != nil {
			b.Fatal(err)
		}
	}
	if err := m.WaitAll(context.Background()); err != nil {
		b.Fatal(err)
	}
	m.Status(io.Discard) // the first update moves them all
	b.ReportAllocs()
	start := cpuTime(b)
	defer reportCPU(b, start)
	for b.Loop() {
		m.Status(io.Discard)
	}
}
