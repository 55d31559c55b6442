package netcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/fabric"
)

// Peer is another task farm's figures on the same machine and work (from
// issue 4), which drover bench prints next to its own.
type Peer struct {
	Name string `json:"name"`
	// TasksPerSecond is the throughput of trivial tasks.
	TasksPerSecond float64 `json:"tasks_per_s"`
	// RoundTripMS is the submit → result time of one trivial task.
	RoundTripMS float64 `json:"round_trip_ms"`
}

// Peers are the figures drover bench compares with.
var Peers = []Peer{
	{"ipyparallel", 290, 5.45},
	{"Dask", 499, 10.9},
	{"Celery", 391, 1.91},
	{"asynq", 5273, 1.54},
}

// BenchReport is what drover bench measured (--json prints it).
type BenchReport struct {
	Engines int `json:"engines"`
	Window  int `json:"window"`
	Tasks   int `json:"tasks"`
	// TasksPerSecond: Map of Tasks trivial tasks (noop), submitted in
	// batches, results fetched.
	TasksPerSecond float64 `json:"tasks_per_s"`
	// Round trips of one noop task at a time (Run then Result), in µs.
	Samples      int     `json:"samples"`
	RoundTripP50 float64 `json:"round_trip_p50_us"`
	RoundTripP99 float64 `json:"round_trip_p99_us"`
	// String task push/run/pull round trips, in µs.
	StringTaskP50 float64 `json:"string_task_p50_us"`
	StringTaskP99 float64 `json:"string_task_p99_us"`
	Peers         []Peer  `json:"peers"`
}

type benchOptions struct {
	tasks    int
	samples  int
	engines  int
	window   int
	json     bool
	logLevel string
}

// Bench returns the drover bench command.
func Bench(stdio IO) *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the task farm over NATS on this machine",
		Long: `drover bench starts, on this machine, a controller with an embedded NATS
server on loopback (in this process, in a temporary directory) and engine
processes (drover engine, 2 by default), and measures, as a client over
loopback TCP (drover.Dial):

  - throughput: a Map of --tasks trivial Go-function tasks (noop),
    submitted in batches, results fetched;
  - round trip: one trivial task at a time, submit then result (p50, p99);
  - string task: push, run and pull of a StringTask ("y = x + 1"), one at a
    time (p50, p99).

It prints a table with the figures of other task farms measured on the
same machine with the same work (ipyparallel, Dask, Celery, asynq), or
JSON with --json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stdio := stdio.WithDefaults()
			switch {
			case o.tasks < 1:
				return usage("--tasks %d: want at least 1", o.tasks)
			case o.samples < 1:
				return usage("--samples %d: want at least 1", o.samples)
			case o.engines < 1:
				return usage("--engines %d: want at least 1", o.engines)
			case o.window < 1:
				return usage("--window %d: want at least 1", o.window)
			}
			rep, err := runBench(cmd, stdio, &o)
			if err != nil {
				return err
			}
			if o.json {
				return writeJSON(stdio.Out, rep)
			}
			return writeBench(stdio.Out, rep)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.tasks, "tasks", 100000, "number of trivial tasks for the throughput")
	f.IntVar(&o.samples, "samples", 2000, "number of one-at-a-time round trips for the latencies")
	f.IntVar(&o.engines, "engines", 2, "number of engine processes")
	f.IntVar(&o.window, "window", controller.DefaultWindow, "attempts in flight per engine (the controller's and the engines' --window)")
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.StringVar(&o.logLevel, "log-level", "warn", "log level on standard error: debug, info, warn or error")
	return cmd
}

func runBench(cmd *cobra.Command, stdio IO, o *benchOptions) (rep *BenchReport, err error) {
	ctx, stop := stdio.interruptible(cmd.Context())
	defer stop()
	log, err := newLogger(stdio.Err, o.logLevel)
	if err != nil {
		return nil, err
	}
	engCmd, _, err := cmd.Root().Find([]string{"engine"})
	if err != nil || engCmd == cmd.Root() || engCmd.Name() != "engine" {
		return nil, failure(errors.New("bench: this drover has no engine command to start engine processes with"))
	}
	exe, err := stdio.Executable()
	if err != nil {
		return nil, failure(fmt.Errorf("bench: %w", err))
	}
	dir, err := os.MkdirTemp("", "drover-bench-")
	if err != nil {
		return nil, failure(fmt.Errorf("bench: %w", err))
	}
	defer os.RemoveAll(dir)

	copts := &controllerOptions{listen: "127.0.0.1:0", data: dir, prefix: fabric.DefaultPrefix, scheduler: "fifo", window: o.window,
		failurePenalty: controller.DefaultFailurePenalty, idleTimeout: controller.DefaultIdleTimeout}
	fs, err := startEmbedded(ctx, copts, log)
	if err != nil {
		return nil, failure(err)
	}
	defer func() { err = errors.Join(err, fs.close()) }()
	cs, err := startControl(fs, copts.config(log), log)
	if err != nil {
		return nil, failure(err)
	}
	defer func() { err = errors.Join(err, cs.stop(time.Second, log)) }()

	// The engine processes: drover engine -n 1, each.
	args := append(strings.Fields(engCmd.CommandPath())[1:], "-n", "1", "--connect", fs.files[fabric.RoleEngine], "--log-level", o.logLevel,
		"--window", strconv.Itoa(o.window))
	type exit struct{ err error }
	exits := make(chan exit, o.engines)
	var procs []*os.Process
	defer func() {
		for _, p := range procs {
			_ = p.Signal(syscall.SIGTERM)
		}
		for range procs {
			if e := <-exits; e.err != nil {
				err = errors.Join(err, failure(fmt.Errorf("bench: engine process: %w", e.err)))
			}
		}
	}()
	for i := range o.engines {
		c := exec.Command(exe, append(args, "--name", "bench-"+strconv.Itoa(i))...)
		c.Env = stdio.Environ()
		c.Stdout, c.Stderr = io.Discard, stdio.Err
		dieWithParent(c)
		if err := c.Start(); err != nil {
			return nil, failure(fmt.Errorf("bench: start engine process: %w", err))
		}
		procs = append(procs, c.Process)
		go func() { exits <- exit{c.Wait()} }()
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = cs.ctl.WaitEngines(wctx, o.engines)
	cancel()
	if err != nil {
		return nil, failure(fmt.Errorf("bench: waiting for %d engines to register: %w", o.engines, err))
	}

	r, err := drover.Dial(ctx, fs.files[fabric.RoleClient])
	if err != nil {
		return nil, failure(fmt.Errorf("bench: %w", err))
	}
	defer r.Close(context.Background())
	rep = &BenchReport{Engines: o.engines, Window: o.window, Tasks: o.tasks, Samples: o.samples, Peers: Peers}
	fail := func(what string, err error) (*BenchReport, error) {
		return nil, failure(fmt.Errorf("bench: %s: %w", what, err))
	}

	// Throughput.
	noop, _ := drover.NewMapTask("noop", nil, nil, drover.Options{})
	xs := make([]any, o.tasks)
	for i := range xs {
		xs[i] = int64(i)
	}
	if _, err := r.Map(ctx, noop, xs[:min(len(xs), 1000)]); err != nil { // warm-up
		return fail("warm-up", err)
	}
	start := time.Now()
	if _, err := r.Map(ctx, noop, xs); err != nil {
		return fail("throughput", err)
	}
	rep.TasksPerSecond = float64(o.tasks) / time.Since(start).Seconds()
	if _, err := r.ClearAll(ctx); err != nil {
		return fail("clear", err)
	}

	// Round trips.
	one, _ := drover.NewMapTask("noop", []any{int64(1)}, nil, drover.Options{})
	lat, err := roundTrips(ctx, r, o.samples, func(int) *drover.Task { return one }, nil)
	if err != nil {
		return fail("round trip", err)
	}
	rep.RoundTripP50, rep.RoundTripP99 = percentile(lat, 50), percentile(lat, 99)
	lat, err = roundTrips(ctx, r, o.samples, func(i int) *drover.Task {
		st, _ := drover.NewStringTask("y = x + 1", map[string]any{"x": int64(i)}, "y", drover.Options{})
		return st
	}, func(i int, v any) error {
		tr, ok := v.(*drover.TaskResult)
		if !ok || tr.Failure != nil || tr.Results["y"] != int64(i+1) {
			return fmt.Errorf("string task %d: result %v", i, v)
		}
		return nil
	})
	if err != nil {
		return fail("string task", err)
	}
	rep.StringTaskP50, rep.StringTaskP99 = percentile(lat, 50), percentile(lat, 99)
	return rep, nil
}

// roundTrips runs n tasks one at a time (Run, then Result) and returns
// their round trips, sorted.
func roundTrips(ctx context.Context, r *drover.Remote, n int, task func(i int) *drover.Task, check func(i int, v any) error) ([]time.Duration, error) {
	for i := range min(n, 100) { // warm-up
		id, err := r.Run(ctx, task(i))
		if err != nil {
			return nil, err
		}
		if _, err := r.Result(ctx, id); err != nil {
			return nil, err
		}
	}
	lat := make([]time.Duration, n)
	for i := range n {
		t := task(i)
		start := time.Now()
		id, err := r.Run(ctx, t)
		if err != nil {
			return nil, err
		}
		v, err := r.Result(ctx, id)
		lat[i] = time.Since(start)
		if err != nil {
			return nil, err
		}
		if check != nil {
			if err := check(i, v); err != nil {
				return nil, err
			}
		}
	}
	if _, err := r.ClearAll(ctx); err != nil {
		return nil, err
	}
	slices.Sort(lat)
	return lat, nil
}

// percentile returns the p-th percentile of sorted durations, in µs.
func percentile(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, len(sorted)*p/100)
	return float64(sorted[i].Nanoseconds()) / 1e3
}

func writeBench(w io.Writer, r *BenchReport) error {
	fmt.Fprintf(w, "drover bench: controller with embedded NATS on loopback, %d engine processes, window %d\n\n", r.Engines, r.Window)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "\tdrover\t"
	for _, p := range r.Peers {
		header += p.Name + "\t"
	}
	fmt.Fprintln(tw, header)
	row := fmt.Sprintf("throughput, %s trivial tasks\t%s\t", groupDigits(int64(r.Tasks)), perSecond(r.TasksPerSecond))
	for _, p := range r.Peers {
		row += perSecond(p.TasksPerSecond) + "\t"
	}
	fmt.Fprintln(tw, row)
	row = fmt.Sprintf("round trip p50, one task\t%s\t", micros(r.RoundTripP50))
	for _, p := range r.Peers {
		row += micros(p.RoundTripMS*1000) + "\t"
	}
	fmt.Fprintln(tw, row)
	fmt.Fprintf(tw, "round trip p99, one task\t%s\t%s\n", micros(r.RoundTripP99), strings.Repeat("\t", len(r.Peers)))
	fmt.Fprintf(tw, "StringTask push/run/pull p50\t%s\t%s\n", micros(r.StringTaskP50), strings.Repeat("\t", len(r.Peers)))
	fmt.Fprintf(tw, "StringTask push/run/pull p99\t%s\t%s\n", micros(r.StringTaskP99), strings.Repeat("\t", len(r.Peers)))
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n(round trips: %s samples each; peers' figures measured on the same machine with the same work)\n", groupDigits(int64(r.Samples)))
	return err
}

func perSecond(v float64) string { return groupDigits(int64(v+0.5)) + "/s" }

// micros formats µs: "123 µs", "5.45 ms".
func micros(us float64) string {
	if us >= 1000 {
		return fmt.Sprintf("%.3g ms", us/1000)
	}
	return strconv.Itoa(int(us+0.5)) + " µs"
}

// groupDigits writes n with thousands separators: 100,000.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
