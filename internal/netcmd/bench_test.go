package netcmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/fabric"
)

// childIO is an IO whose engine processes are this test binary in drover
// mode.
func childIO(out, errw *strings.Builder) IO {
	return IO{
		In: strings.NewReader(""), Out: out, Err: errw, Getenv: noEnv, Interrupt: make(chan os.Signal),
		Environ: func() []string { return append(os.Environ(), modeEnv+"=1") },
	}
}

// TestBenchCommand: drover bench runs its three measurements with engine
// processes and reports them, as a table and as JSON.
func TestBenchCommand(t *testing.T) {
	t.Parallel()
	var out, errb strings.Builder
	root := testRoot(childIO(&out, &errb))
	root.SetArgs([]string{"bench", "--tasks", "2000", "--samples", "50", "--json"})
	if err := root.ExecuteContext(waitCtx(t, 60*time.Second)); err != nil {
		t.Fatalf("bench: %v\n%s", err, errb.String())
	}
	var rep BenchReport
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out.String())
	}
	if rep.Engines != 2 || rep.Tasks != 2000 || rep.Samples != 50 || rep.TasksPerSecond <= 0 ||
		rep.RoundTripP50 <= 0 || rep.RoundTripP99 < rep.RoundTripP50 || rep.StringTaskP50 <= 0 || len(rep.Peers) != 4 {
		t.Errorf("bench report %+v", rep)
	}
	var tab strings.Builder
	if err := writeBench(&tab, &rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"throughput, 2,000 trivial tasks", "ipyparallel", "5.45 ms", "5,273/s", "StringTask push/run/pull p50"} {
		if !strings.Contains(tab.String(), want) {
			t.Errorf("table does not say %q:\n%s", want, tab.String())
		}
	}
}

func TestBenchFormat(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		got, want string
	}{
		{groupDigits(0), "0"}, {groupDigits(999), "999"}, {groupDigits(1000), "1,000"}, {groupDigits(1234567), "1,234,567"},
		{micros(149.6), "150 µs"}, {micros(5450), "5.45 ms"}, {micros(10900), "10.9 ms"},
		{perSecond(5273.2), "5,273/s"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if p := percentile([]time.Duration{time.Microsecond, 2 * time.Microsecond, 3 * time.Microsecond, 4 * time.Microsecond}, 50); p != 3 {
		t.Errorf("percentile 50 = %v, want 3", p)
	}
}

// processFarm is a controller in this process (embedded NATS) with
// engine processes (this test binary as drover engine), and a client
// dialled over loopback TCP, for benchmarks.
func processFarm(b *testing.B, engines int) *drover.Remote {
	b.Helper()
	window := controller.DefaultWindow
	if w := os.Getenv("DROVER_BENCH_WINDOW"); w != "" {
		window, _ = strconv.Atoi(w)
	}
	dir := b.TempDir()
	ctx := waitCtx(b, 60*time.Second)
	log, _ := newLogger(os.Stderr, "warn")
	o := &controllerOptions{listen: "127.0.0.1:0", data: dir, prefix: fabric.DefaultPrefix, scheduler: "fifo", window: window}
	fs, err := startEmbedded(ctx, o, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = fs.close() })
	cs, err := startControl(fs, o.config(log), log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cs.stop(time.Second, log) })
	for range engines {
		startProc(b, dir, "engine", "--connect", filepath.Join(dir, fabric.FileName(fabric.RoleEngine)), "--log-level", "warn", "--window", strconv.Itoa(window))
	}
	if err := cs.ctl.WaitEngines(ctx, engines); err != nil {
		b.Fatal(err)
	}
	r, err := drover.Dial(ctx, fs.files[fabric.RoleClient])
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

// BenchmarkProcessMap: Map of 10,000 noop tasks over 2 engine processes
// through the control API (batched submit, results fetched): the
// throughput drover bench reports. Issue 4's target: >= 50,000 tasks/s.
func BenchmarkProcessMap(b *testing.B) {
	r := processFarm(b, 2)
	ctx := context.Background()
	proto, _ := drover.NewMapTask("noop", nil, nil, drover.Options{})
	const batch = 10000
	xs := make([]any, batch)
	for i := range xs {
		xs[i] = int64(i)
	}
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

// BenchmarkProcessRoundTrip: one noop task at a time (Run, Result) over 2
// engine processes. Issue 4's targets: p50 <= 150 µs, p99 <= 1 ms.
func BenchmarkProcessRoundTrip(b *testing.B) {
	r := processFarm(b, 2)
	ctx := context.Background()
	task, _ := drover.NewMapTask("noop", []any{int64(1)}, nil, drover.Options{})
	var lat []time.Duration
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
		if len(lat)%10000 == 0 {
			if _, err := r.ClearAll(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	slices.Sort(lat)
	b.ReportMetric(percentile(lat, 50), "p50-µs")
	b.ReportMetric(percentile(lat, 99), "p99-µs")
}

// BenchmarkProcessStringTask: a StringTask push/run/pull round trip over
// 2 engine processes. Issue 4's target: p50 <= 250 µs.
func BenchmarkProcessStringTask(b *testing.B) {
	r := processFarm(b, 2)
	ctx := context.Background()
	task, _ := drover.NewStringTask("y = x + 1", map[string]any{"x": int64(41)}, "y", drover.Options{})
	var lat []time.Duration
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
		if len(lat)%10000 == 0 {
			if _, err := r.ClearAll(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	slices.Sort(lat)
	b.ReportMetric(percentile(lat, 50), "p50-µs")
	b.ReportMetric(percentile(lat, 99), "p99-µs")
}

func BenchmarkProcessHops(b *testing.B) {
	r := processFarm(b, 2)
	ctx := context.Background()
	task, _ := drover.NewMapTask("noop", []any{int64(1)}, nil, drover.Options{})
	b.Run("counts", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.QueueCounts(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("run", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.Run(ctx, task); err != nil {
				b.Fatal(err)
			}
		}
		r.ClearAll(ctx)
	})
	id, _ := r.Run(ctx, task)
	r.Result(ctx, id)
	b.Run("result-done", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.Result(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("poll-done", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := r.Poll(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	nc := r.NATS()
	sub, _ := nc.Subscribe("echo.x", func(m *nats.Msg) { m.Respond(m.Data) })
	defer sub.Unsubscribe()
	b.Run("nats-echo-same-conn", func(b *testing.B) {
		for b.Loop() {
			if _, err := nc.Request("echo.x", []byte("hi"), time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
}
