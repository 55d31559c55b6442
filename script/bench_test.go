package script

import (
	"context"
	"io"
	"testing"

	"go.starlark.net/starlark"
)

// BenchmarkExprJob measures one expression job through bgjob with the
// Starlark evaluator: create (compile), run on its own goroutine and
// thread, complete, wait. Target: <= 30 µs/job.
func BenchmarkExprJob(b *testing.B) {
	ts := newTestSession(b, nil)
	m := ts.Jobs()
	ctx := context.Background()
	n := 0
	for b.Loop() {
		j, err := m.New("1+2")
		if err != nil {
			b.Fatal(err)
		}
		if err := j.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		if n++; n%1024 == 0 {
			m.Flush(io.Discard) // keep the job table small, as a user would
		}
	}
}

// BenchmarkJobsNewStarlark measures the same from Starlark:
// jobs.new("1+2").wait(), including the snapshot of the caller's
// namespace and the Starlark call overhead.
func BenchmarkJobsNewStarlark(b *testing.B) {
	ts := newTestSession(b, nil)
	ts.exec(b, `
def one():
    j = jobs.new("1+2")
    j.wait()
    return j.result
n = [0]
def flush_sometimes():
    n[0] += 1
    if n[0] % 1024 == 0:
        capture(jobs.flush)
`)
	g := ts.Globals()
	one, flush := g["one"], g["flush_sometimes"]
	th := ts.newThread(context.Background(), "bench", io.Discard, io.Discard, ts.ns, nil)
	for b.Loop() {
		v, err := starlark.Call(th, one, nil, nil)
		if err != nil || v.String() != "3" {
			b.Fatalf("one() = %v, %v", v, err)
		}
		if _, err := starlark.Call(th, flush, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFuncJobStarlark measures a Starlark function job:
// jobs.new(f, 1).wait().
func BenchmarkFuncJobStarlark(b *testing.B) {
	ts := newTestSession(b, nil)
	ts.exec(b, `
def f(x):
    return x + 1
def one():
    j = jobs.new(f, 1)
    j.wait()
    return j.result
`)
	one := ts.Globals()["one"]
	th := ts.newThread(context.Background(), "bench", io.Discard, io.Discard, ts.ns, nil)
	n := 0
	for b.Loop() {
		if _, err := starlark.Call(th, one, nil, nil); err != nil {
			b.Fatal(err)
		}
		if n++; n%1024 == 0 {
			ts.Jobs().Flush(io.Discard)
		}
	}
}

// BenchmarkGlobalRead measures a function reading a global through the
// session namespace (the price of Python-like late binding).
func BenchmarkGlobalRead(b *testing.B) {
	ts := newTestSession(b, nil)
	ts.exec(b, `
g = 1
def loop():
    t = 0
    for i in range(1000):
        t += g
    return t
`)
	loop := ts.Globals()["loop"]
	th := ts.newThread(context.Background(), "bench", io.Discard, io.Discard, ts.ns, nil)
	for b.Loop() {
		if _, err := starlark.Call(th, loop, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLocalReadBaseline(b *testing.B) {
	ts := newTestSession(b, nil)
	ts.exec(b, `
def loop():
    t = 0
    g = 1
    for i in range(1000):
        t += g
    return t
`)
	loop := ts.Globals()["loop"]
	th := ts.newThread(context.Background(), "bench", io.Discard, io.Discard, ts.ns, nil)
	for b.Loop() {
		if _, err := starlark.Call(th, loop, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJobsWaitAll measures jobs.wait() from Starlark when 10,000 jobs
// have finished: the cost of finding the jobs to wait
// for (bgjob.Manager.WaitAll scans only the running list).
func BenchmarkJobsWaitAll(b *testing.B) {
	ts := newTestSession(b, nil)
	m := ts.Jobs()
	for range 10000 {
		if _, err := m.New("1"); err != nil {
			b.Fatal(err)
		}
	}
	if err := m.WaitAll(context.Background()); err != nil {
		b.Fatal(err)
	}
	ts.exec(b, "jobs.status()") // the finished jobs leave the running list
	wait := ts.Globals()["jobs"].(*jobsValue)
	fn, _ := wait.Attr("wait")
	th := ts.newThread(context.Background(), "bench", io.Discard, io.Discard, ts.ns, nil)
	for b.Loop() {
		if v, err := starlark.Call(th, fn, nil, nil); err != nil || v != starlark.True {
			b.Fatalf("jobs.wait() = %v, %v", v, err)
		}
	}
}
