package netcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/fabric"
)

// childIO is an IO whose engine processes are this test binary in drover
// mode.
func childIO(out, errw *strings.Builder) IO {
	return IO{
		In: strings.NewReader(""), Out: out, Err: errw, Getenv: noEnv, Interrupt: make(chan os.Signal), MaxProcs: keepMaxProcs,
		Environ: func() []string { return append(os.Environ(), modeEnv+"=1") },
	}
}

// TestBenchCommand: drover bench runs its three measurements with engine
// processes and reports them, as a table and as JSON.
func TestBenchCommand(t *testing.T) {
	t.Parallel()
	var out, errb strings.Builder
	root := testRoot(childIO(&out, &errb))
	root.SetArgs([]string{"bench", "--tasks", "2000", "--samples", "50", "--fleet", "20", "--queued", "2000", "--json"})
	if err := root.ExecuteContext(waitCtx(t, 60*time.Second)); err != nil {
		t.Fatalf("bench: %v\n%s", err, errb.String())
	}
	var rep BenchReport
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out.String())
	}
	if rep.Engines != 2 || rep.Tasks != 2000 || rep.Samples != 50 || rep.TasksPerSecond <= 0 ||
		rep.RoundTripP50 <= 0 || rep.RoundTripP99 < rep.RoundTripP50 || rep.StringTaskP50 <= 0 || len(rep.Peers) != 4 ||
		rep.NATSRequestP50 <= 0 || rep.NATSProcessP50 <= 0 || rep.NATSProcessIdleP50 <= 0 || rep.TCPIdleP50 <= 0 || rep.GOMAXPROCS != runtime.GOMAXPROCS(0) || rep.EngineGOMAXPROCS != cpuShare(runtime.GOMAXPROCS(0), 2) {
		t.Errorf("bench report %+v", rep)
	}
	if f := rep.Fleet; f == nil || f.Engines != 20 || f.Tasks != 400 || f.TasksPerSecond <= 0 || f.MinPerEngine > f.MaxPerEngine || f.MaxPerEngine < 20 {
		t.Errorf("bench fleet report %+v", rep.Fleet)
	}
	if q := rep.Queue; q == nil || q.Tasks != 2000 {
		t.Errorf("bench queue report %+v", rep.Queue)
	}
	var tab strings.Builder
	if err := writeBench(&tab, &rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"throughput, 2,000 trivial tasks", "ipyparallel", "5.45 ms", "5,273/s", "StringTask push/run/pull p50",
		"20 engines: tasks per engine, min-max", fmt.Sprintf("%d in each engine process", cpuShare(runtime.GOMAXPROCS(0), 2)), "controller memory per queued task (2,000)",
		"floor: bare NATS request-reply p50, controller to another process", "floor: the same, both processes idle 200µs before each request",
		"floor: TCP ping-pong p50 between processes idle 200µs, no NATS"} {
		if !strings.Contains(tab.String(), want) {
			t.Errorf("table does not say %q:\n%s", want, tab.String())
		}
	}
}

// TestBenchEchoResponder: the hidden responder mode of the NATS floor
// between processes wants its subject, and a connection file that exists.
func TestBenchEchoResponder(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "drover-controller.json")
	_, err := runCmd(t, "bench", "--echo-responder", file)
	if ExitCode(err) != ExitUsage || err == nil || !strings.Contains(err.Error(), "--echo-responder needs --echo-subject") {
		t.Errorf("without --echo-subject: %v (status %d); want a usage error", err, ExitCode(err))
	}
	_, err = runCmd(t, "bench", "--echo-responder", file, "--echo-subject", "drover.bench.echo.x")
	if ExitCode(err) != ExitFailure || err == nil || !strings.Contains(err.Error(), "echo responder") || !strings.Contains(err.Error(), file) {
		t.Errorf("missing connection file: %v (status %d); want a failure naming it", err, ExitCode(err))
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
		{bytesPer(412.4), "412 B"}, {bytesPer(1536), "1.5 KiB"},
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
// dialled over loopback TCP, for benchmarks. window is the controller's
// and the engines' window (0: their defaults).
func processFarm(b *testing.B, engines, window int) *drover.Remote {
	b.Helper()
	if window == 0 {
		window = controller.DefaultWindow
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
		startProc(b, dir, "engine", "--connect", filepath.Join(dir, fabric.FileName(fabric.RoleEngine)), "--log-level", "warn",
			"--window", strconv.Itoa(window))
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

// benchWindows are the windows the throughput benchmarks try: the
// default, and a large one.
var benchWindows = []int{0, 64}

func windowName(w int) string {
	if w == 0 {
		return "window=default"
	}
	return "window=" + strconv.Itoa(w)
}

// BenchmarkProcessMap: Map of 10,000 noop tasks over 2 engine processes
// through the control API (batched submit, results fetched): the
// throughput drover bench reports. Issue 4's target: >= 50,000 tasks/s.
// It also reports the time to submit (MapAsync) and to fetch the results.
func BenchmarkProcessMap(b *testing.B) {
	for _, w := range benchWindows {
		b.Run(windowName(w), func(b *testing.B) {
			r := processFarm(b, 2, w)
			ctx := context.Background()
			proto, _ := drover.NewMapTask("noop", nil, nil, drover.Options{})
			const batch = 10000
			xs := make([]any, batch)
			for i := range xs {
				xs[i] = int64(i)
			}
			var sub, res time.Duration
			for b.Loop() {
				t0 := time.Now()
				ids, err := r.MapAsync(ctx, proto, xs)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, _, err := r.Results(ctx, ids); err != nil {
					b.Fatal(err)
				}
				sub += t1.Sub(t0)
				res += time.Since(t1)
				if _, err := r.ClearAll(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "tasks/s")
			b.ReportMetric(float64(sub.Microseconds())/float64(b.N*batch), "submit-µs/task")
			b.ReportMetric(float64(res.Microseconds())/float64(b.N*batch), "results-µs/task")
		})
	}
}

// roundTripBench measures one task at a time (Run, Result) over 2 engine
// processes.
func roundTripBench(b *testing.B, task *drover.Task) {
	r := processFarm(b, 2, 0)
	ctx := context.Background()
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

// BenchmarkProcessRoundTrip: one noop task at a time (Run, Result) over 2
// engine processes. Issue 4's targets: p50 <= 150 µs, p99 <= 1 ms.
func BenchmarkProcessRoundTrip(b *testing.B) {
	task, _ := drover.NewMapTask("noop", []any{int64(1)}, nil, drover.Options{})
	roundTripBench(b, task)
}

// BenchmarkProcessStringTask: a StringTask push/run/pull round trip over
// 2 engine processes. Issue 4's target: p50 <= 250 µs.
func BenchmarkProcessStringTask(b *testing.B) {
	task, _ := drover.NewStringTask("y = x + 1", map[string]any{"x": int64(41)}, "y", drover.Options{})
	roundTripBench(b, task)
}

// BenchmarkProcessRequest: the control API's own round trips, client to
// controller and back, without a task to run: a request the controller's
// loop answers (queue counts), a submit, a result and a poll of a task
// that has finished. The parts of a task's round trip.
func BenchmarkProcessRequest(b *testing.B) {
	r := processFarm(b, 2, 0)
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
		var ids []drover.TaskID
		for b.Loop() {
			id, err := r.Run(ctx, task)
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, id)
		}
		if err := r.Barrier(ctx, ids...); err != nil {
			b.Fatal(err)
		}
		if _, err := r.ClearAll(ctx); err != nil {
			b.Fatal(err)
		}
	})
	id, err := r.Run(ctx, task)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.Result(ctx, id); err != nil {
		b.Fatal(err)
	}
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
}

// BenchmarkFleet: 1,000 engines in this process (each with its own
// in-process NATS connection) registered with one controller, and a Map
// of 20 noop tasks per engine from a client over TCP. Issue 4: tasks
// spread fairly; min and max tasks per engine are reported.
func BenchmarkFleet(b *testing.B) {
	log, _ := newLogger(os.Stderr, "warn")
	const n = 1000
	var last *FleetReport
	for b.Loop() {
		rep, err := benchFleet(waitCtx(b, 120*time.Second), n, 20*n, 0, log)
		if err != nil {
			b.Fatal(err)
		}
		last = rep
	}
	b.ReportMetric(last.RegisterSeconds, "register-s")
	b.ReportMetric(last.TasksPerSecond, "tasks/s")
	b.ReportMetric(float64(last.MinPerEngine), "min-tasks/engine")
	b.ReportMetric(float64(last.MaxPerEngine), "max-tasks/engine")
}

// BenchmarkQueueMemory: the controller's memory per queued task, 100,000
// noop tasks submitted through the control API to a controller with no
// engine. Issue 4's target: <= 1 KiB.
func BenchmarkQueueMemory(b *testing.B) {
	log, _ := newLogger(os.Stderr, "warn")
	var last *QueueReport
	for b.Loop() {
		rep, err := benchQueue(waitCtx(b, 120*time.Second), 100000, log)
		if err != nil {
			b.Fatal(err)
		}
		last = rep
	}
	b.ReportMetric(last.BytesPerTask, "B/queued-task")
}

// TestTCPFloorEchoDies: when the TCP echo process of the bench's floor
// exits before printing its address, the bench says so, with its exit
// status, rather than dial nothing.
func TestTCPFloorEchoDies(t *testing.T) {
	t.Parallel()
	exe, err := exec.LookPath("false")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	_, err = tcpFloor(waitCtx(t, 30*time.Second), childIO(&out, &errb).WithDefaults(), exe, nil, 1, 10)
	if err == nil || !strings.Contains(err.Error(), "exited before printing its address") || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("tcpFloor with an echo that exits: %v", err)
	}
}
