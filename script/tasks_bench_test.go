package script_test

import (
	"context"
	"io"
	"testing"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/drovertest"
	"github.com/drover-dev/drover/script"
)

// benchSession returns a session whose tc is a farm of two in-process
// engines (the benchmark set-up).
func benchSession(b *testing.B) *script.Session {
	b.Helper()
	farm := drovertest.NewFarm(b, &drover.Config{Engines: 2, Registry: testRegistry(&latches{}), Depend: script.CompileDepend})
	s, err := script.NewSession(&script.Config{Stdout: io.Discard, Stderr: io.Discard, Tasks: farmClient{farm}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// BenchmarkStarlarkMap10k runs, from a script, tc.map of a trivial
// Starlark function over 10,000 elements (submission, conversion, two
// engines, results in order). It reports tasks/s.
func BenchmarkStarlarkMap10k(b *testing.B) {
	benchMap(b, "def inc(x):\n    return x + 1\n", "inc")
}

// BenchmarkStarlarkMapGo10k is the same with a registered Go function.
func BenchmarkStarlarkMapGo10k(b *testing.B) {
	benchMap(b, "", `"echo"`)
}

func benchMap(b *testing.B, defs, fn string) {
	s := benchSession(b)
	ctx := context.Background()
	if err := s.ExecFile(ctx, "bench.star", []byte(defs+"data = list(range(10000))\n")); err != nil {
		b.Fatal(script.FormatError(err))
	}
	src := []byte("r = tc.map(" + fn + ", data)\nif len(r) != 10000:\n    fail('short')\ntc.clear()\n")
	tasks := 0
	for b.Loop() {
		if err := s.ExecFile(ctx, "bench.star", src); err != nil {
			b.Fatal(script.FormatError(err))
		}
		tasks += 10000
	}
	b.ReportMetric(float64(tasks)/b.Elapsed().Seconds(), "tasks/s")
}

// BenchmarkStringTaskRoundTrip: one StringTask push/run/pull from
// Starlark, waited for (latency of one task through the farm).
func BenchmarkStringTaskRoundTrip(b *testing.B) {
	s := benchSession(b)
	ctx := context.Background()
	if err := s.ExecFile(ctx, "bench.star", []byte("t = StringTask('b = a * 2', pull='b', push={'a': 21})\n")); err != nil {
		b.Fatal(script.FormatError(err))
	}
	src := []byte("tc.run(t, block=True)\n")
	n := 0
	for b.Loop() {
		if err := s.ExecFile(ctx, "bench.star", src); err != nil {
			b.Fatal(script.FormatError(err))
		}
		if n++; n%1000 == 0 {
			if err := s.ExecFile(ctx, "bench.star", []byte("tc.clear()\n")); err != nil {
				b.Fatal(err)
			}
		}
	}
}
