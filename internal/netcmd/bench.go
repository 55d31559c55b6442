package netcmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/fabric/embedded"
	"github.com/drover-dev/drover/transport/natstransport"
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
	// GOMAXPROCS is that of drover bench's process (the controller, its
	// NATS server and the client); EngineGOMAXPROCS that of each engine
	// process (--gomaxprocs of drover engine; 0: Go's default).
	GOMAXPROCS       int `json:"gomaxprocs"`
	EngineGOMAXPROCS int `json:"engine_gomaxprocs"`
	// TasksPerSecond: Map of Tasks trivial tasks (noop), submitted in
	// batches, results fetched.
	TasksPerSecond float64 `json:"tasks_per_s"`
	// Round trips of one noop task at a time, in µs: Run then Result
	// (two requests to the controller), and RunWait (one request: the
	// blocking run of tc.run(task, block=True)), the two alternating.
	Samples      int     `json:"samples"`
	RoundTripP50 float64 `json:"round_trip_p50_us"`
	RoundTripP99 float64 `json:"round_trip_p99_us"`
	RunWaitP50   float64 `json:"run_wait_p50_us"`
	RunWaitP99   float64 `json:"run_wait_p99_us"`
	// String task push/run/pull round trips, in µs, the same two ways.
	StringTaskP50        float64 `json:"string_task_p50_us"`
	StringTaskP99        float64 `json:"string_task_p99_us"`
	StringTaskRunWaitP50 float64 `json:"string_task_run_wait_p50_us"`
	StringTaskRunWaitP99 float64 `json:"string_task_run_wait_p99_us"`
	// Fleet: many in-process engines against one controller (nil with
	// --fleet 0).
	// NATSRequestP50 is the floor under the round trips: a bare NATS
	// request-reply between the client's TCP connection and the
	// controller's in-process one, through the same server (µs). A
	// blocking run needs two such hops (client-controller,
	// controller-engine) plus the work.
	NATSRequestP50 float64 `json:"nats_request_p50_us"`
	// NATSProcessP50 is the floor under the controller-engine hop: a bare
	// NATS request-reply between the controller's transport connection
	// (in-process) and a plain responder in another process on loopback
	// TCP (as an engine process is), through the same server (µs). It
	// costs more than NATSRequestP50, which stays within one process: the
	// other process must be woken (by the operating system) each way.
	NATSProcessP50 float64 `json:"nats_process_p50_us"`
	// NATSProcessIdleP50 is NATSProcessP50 with a pause of FloorPause
	// before each request, during which both processes idle, as between
	// the tasks of one-at-a-time round trips (where the engine waits for
	// the client and the controller). On a virtual machine, waking a
	// process that has idled costs more than one that just ran.
	NATSProcessIdleP50 float64 `json:"nats_process_idle_p50_us"`
	// TCPIdleP50 is the machine's floor without NATS: a one-byte ping-pong
	// over a loopback TCP connection between this process and another
	// (with the engines' GOMAXPROCS), both idle FloorPause before each
	// ping (µs).
	TCPIdleP50 float64      `json:"tcp_idle_p50_us"`
	Fleet      *FleetReport `json:"fleet,omitempty"`
	// Queue: the controller's memory per queued task (nil with --queued
	// 0).
	Queue *QueueReport `json:"queue,omitempty"`
	Peers []Peer       `json:"peers"`
	// Durability says where the controller kept results: "durable: ..."
	// with --durable (bench_durable.go), else in memory.
	Durability string `json:"durability"`
}

// FleetReport is the fleet measurement of drover bench: Engines engines
// in this process (each with its own in-process NATS connection to the
// embedded server, its own transport end and registration) serve one
// controller; a client over loopback TCP maps Tasks trivial tasks.
type FleetReport struct {
	Engines int `json:"engines"`
	Tasks   int `json:"tasks"`
	// RegisterSeconds is the time from the first connection to the
	// controller knowing every engine.
	RegisterSeconds float64 `json:"register_s"`
	// TasksPerSecond is the Map's throughput.
	TasksPerSecond float64 `json:"tasks_per_s"`
	// MinPerEngine and MaxPerEngine are the fewest and most tasks one
	// engine ran (the spread; Tasks/Engines each is perfectly fair).
	MinPerEngine int `json:"min_tasks_per_engine"`
	MaxPerEngine int `json:"max_tasks_per_engine"`
}

// QueueReport is the queue measurement of drover bench: a controller with
// no engine, Tasks trivial tasks submitted through the control API and
// left queued; BytesPerTask is the growth of the process's live heap
// (after a GC) divided by Tasks.
type QueueReport struct {
	Tasks        int     `json:"tasks"`
	BytesPerTask float64 `json:"bytes_per_task"`
}

type benchOptions struct {
	tasks    int
	samples  int
	engines  int
	window   int
	fleet    int
	queued   int
	json     bool
	logLevel string
	durable  bool // bench_durable.go
	// gomaxprocs of this process, engineGomaxprocs of the engine
	// processes.
	gomaxprocs       int
	engineGomaxprocs int
	cpus             int // GOMAXPROCS this process started with
	// echo (hidden) makes the command the responder of the NATS floor
	// between processes: it connects with the controller file echo and
	// answers on echoSubject until its standard input closes.
	echo        string
	echoSubject string
	// tcpEcho (hidden) makes the command the responder of the raw TCP
	// floor: it listens on loopback, prints its address, and echoes what
	// its one connection sends until it closes.
	tcpEcho bool
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
  - round trip: one trivial task at a time (p50, p99), measured two ways,
    alternating: "run, then result" (Run then Result: two requests to
    the controller) and "run, blocking" (RunWait, as tc.run(task,
    block=True): one request that the controller answers with the
    result);
  - string task: push, run and pull of a StringTask ("y = x + 1"), one at a
    time (p50, p99), the same two ways;
  - floors under the round trips: a bare NATS request-reply (p50) from
    the client to the controller (both in this process), and from the
    controller to a plain responder in another process (a blocking run
    makes one of each: its engine is another process), back to back and
    with both processes idle 200µs before each request, as an engine
    idles between one-at-a-time tasks (on a virtual machine, waking an
    idle process costs more);
  - fleet: --fleet engines in this process (each with a connection of its
    own to another embedded NATS server) registered with one controller,
    and a Map of 20 trivial tasks per engine: registration time,
    throughput, and the fewest and most tasks one engine ran;
  - queue: the controller's memory per queued task, with --queued tasks
    submitted to a controller with no engine (growth of the live heap).

It prints a table with the figures of other task farms measured on the
same machine with the same work (ipyparallel, Dask, Celery, asynq), or
JSON with --json.

--gomaxprocs sets GOMAXPROCS of this process (the controller, its NATS
server and the client; default: as drover controller, a quarter of the
CPUs, at least 1; the fleet measurement, whose engines run in this
process too, runs with Go's default), and
--engine-gomaxprocs the --gomaxprocs of the engine processes (default:
the environment's GOMAXPROCS if set, else this machine's CPUs shared
among them, at least 1 each, as drover engine -n gives its engine
processes).

` + benchDurableDoc,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stdio := stdio.WithDefaults()
			if o.echo != "" || o.tcpEcho {
				if err := checkGomaxprocs(o.gomaxprocs); err != nil {
					return err
				}
				stdio.applyGomaxprocs(o.gomaxprocs)
				if o.tcpEcho {
					return runTCPEcho(cmd.Context(), stdio)
				}
				return runEchoResponder(cmd.Context(), stdio, o.echo, o.echoSubject)
			}
			switch {
			case o.tasks < 1:
				return usage("--tasks %d: want at least 1", o.tasks)
			case o.samples < 1:
				return usage("--samples %d: want at least 1", o.samples)
			case o.engines < 1:
				return usage("--engines %d: want at least 1", o.engines)
			case o.window < 1:
				return usage("--window %d: want at least 1", o.window)
			case o.fleet < 0:
				return usage("--fleet %d: want 0 (skip) or more", o.fleet)
			case o.queued < 0:
				return usage("--queued %d: want 0 (skip) or more", o.queued)
			case o.engineGomaxprocs < 0:
				return usage("--engine-gomaxprocs %d: want 0 (Go's default) or more", o.engineGomaxprocs)
			}
			if err := checkGomaxprocs(o.gomaxprocs); err != nil {
				return err
			}
			o.cpus = stdio.MaxProcs(0) // before this process's own setting
			if !cmd.Flags().Changed("engine-gomaxprocs") {
				// As drover engine -n: the engines share this machine's
				// CPUs, unless the environment says how many they use.
				o.engineGomaxprocs = cpuShare(o.cpus, o.engines)
				if n, ok := envGomaxprocs(stdio.Getenv); ok {
					o.engineGomaxprocs = n
				}
			}
			// As drover controller.
			stdio.applyGomaxprocs(stdio.gomaxprocs(cmd, o.gomaxprocs, ControllerShare))
			o.applyDurable(cmd)
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
	f.IntVar(&o.window, "window", DefaultWindow, "attempts in flight per engine (the controller's and the engines' --window)")
	f.IntVar(&o.fleet, "fleet", 1000, "number of in-process engines of the fleet measurement (0: skip it)")
	f.IntVar(&o.queued, "queued", 100000, "number of tasks queued for the memory measurement (0: skip it)")
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.BoolVar(&o.durable, "durable", false, "measure a durable controller (a journal in JetStream, file storage in the temporary directory)")
	f.StringVar(&o.logLevel, "log-level", "warn", "log level on standard error: debug, info, warn or error")
	gomaxprocsFlag(cmd, &o.gomaxprocs, "this process (the controller, its NATS server and the client)", "a quarter of the CPUs, at least 1, as drover controller")
	f.IntVar(&o.engineGomaxprocs, "engine-gomaxprocs", 0, "--gomaxprocs of the engine processes (default: the environment's GOMAXPROCS if set, else the CPUs shared among --engines, at least 1 each, as drover engine -n; 0: Go's default)")
	f.StringVar(&o.echo, "echo-responder", "", "")
	f.StringVar(&o.echoSubject, "echo-subject", "", "")
	_ = f.MarkHidden("echo-responder")
	_ = f.MarkHidden("echo-subject")
	f.BoolVar(&o.tcpEcho, "tcp-echo", false, "")
	_ = f.MarkHidden("tcp-echo")
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
		failurePenalty: controller.DefaultFailurePenalty, idleTimeout: controller.DefaultIdleTimeout, durable: o.durable}
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
		"--window", strconv.Itoa(o.window), "--gomaxprocs", strconv.Itoa(o.engineGomaxprocs))
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
	rep = &BenchReport{Engines: o.engines, Window: o.window, Tasks: o.tasks, Samples: o.samples, Peers: Peers,
		GOMAXPROCS: stdio.MaxProcs(0), EngineGOMAXPROCS: o.engineGomaxprocs,
		Durability: durabilityText(cs.durability)}
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
	lat, wlat, err := roundTrips(ctx, r, o.samples, func(int) *drover.Task { return one }, nil)
	if err != nil {
		return fail("round trip", err)
	}
	rep.RoundTripP50, rep.RoundTripP99 = percentile(lat, 50), percentile(lat, 99)
	rep.RunWaitP50, rep.RunWaitP99 = percentile(wlat, 50), percentile(wlat, 99)
	lat, wlat, err = roundTrips(ctx, r, o.samples, func(i int) *drover.Task {
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
	rep.StringTaskRunWaitP50, rep.StringTaskRunWaitP99 = percentile(wlat, 50), percentile(wlat, 99)
	if rep.NATSRequestP50, err = natsFloor(ctx, r.NATS(), fs.api.Conn, fs.prefix, o.samples); err != nil {
		return fail("NATS request floor", err)
	}
	if rep.NATSProcessP50, rep.NATSProcessIdleP50, err = natsProcessFloor(ctx, stdio, exe, strings.Fields(cmd.CommandPath())[1:], o.engineGomaxprocs, fs, o.samples); err != nil {
		return fail("NATS floor between processes", err)
	}
	if rep.TCPIdleP50, err = tcpFloor(ctx, stdio, exe, strings.Fields(cmd.CommandPath())[1:], o.engineGomaxprocs, o.samples); err != nil {
		return fail("TCP floor between processes", err)
	}
	if o.fleet > 0 {
		// The fleet's engines run in this process, unlike a farm's: they
		// get the CPUs this process started with.
		prev := 0
		if o.cpus > 0 {
			prev = stdio.MaxProcs(o.cpus)
		}
		rep.Fleet, err = benchFleet(ctx, o.fleet, 20*o.fleet, o.window, log)
		if prev > 0 {
			stdio.MaxProcs(prev)
		}
		if err != nil {
			return fail("fleet", err)
		}
	}
	if o.queued > 0 {
		if rep.Queue, err = benchQueue(ctx, o.queued, log); err != nil {
			return fail("queue", err)
		}
	}
	return rep, nil
}

// benchFarm is a controller with an embedded NATS server, in this
// process, for the fleet and queue measurements.
type benchFarm struct {
	srv *embedded.Server
	fs  *fabricSetup
	cs  *control
	dir string
}

func startBenchFarm(ctx context.Context, window int, log *slog.Logger) (f *benchFarm, err error) {
	f = &benchFarm{}
	if f.dir, err = os.MkdirTemp("", "drover-bench-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = f.close(log)
		}
	}()
	o := &controllerOptions{listen: "127.0.0.1:0", data: f.dir, prefix: fabric.DefaultPrefix, scheduler: "fifo", window: window,
		failurePenalty: controller.DefaultFailurePenalty, idleTimeout: controller.DefaultIdleTimeout}
	if f.srv, err = embedded.Start(ctx, &embedded.Config{Listen: o.listen, DataDir: f.dir, Prefix: o.prefix, Logger: log}); err != nil {
		return nil, err
	}
	conn, err := f.srv.ConnectController(ctx, &fabric.ConnectOptions{Name: "drover-bench-transport", Logger: log})
	if err != nil {
		return nil, err
	}
	files := map[fabric.Role]string{}
	for _, r := range []fabric.Role{fabric.RoleController, fabric.RoleEngine, fabric.RoleClient} {
		files[r] = f.srv.File(r)
	}
	f.fs = &fabricSetup{
		id: f.srv.ID(), prefix: f.srv.Prefix(), urls: f.srv.URLs(), files: files, transport: conn, api: f.srv.Conn(), embedded: true,
		close: func() error { conn.Close(); return nil },
	}
	if f.cs, err = startControl(f.fs, o.config(log), log); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *benchFarm) close(log *slog.Logger) error {
	var errs []error
	if f.cs != nil {
		errs = append(errs, f.cs.stop(time.Second, log))
	}
	if f.fs != nil {
		errs = append(errs, f.fs.close())
	}
	if f.srv != nil {
		errs = append(errs, f.srv.Shutdown(context.Background()))
	}
	errs = append(errs, os.RemoveAll(f.dir))
	return errors.Join(errs...)
}

// benchFleet registers n engines in this process with one controller
// (each over an in-process NATS connection of its own) and maps tasks
// trivial tasks through a client over loopback TCP.
func benchFleet(ctx context.Context, n, tasks, window int, log *slog.Logger) (rep *FleetReport, err error) {
	f, err := startBenchFarm(ctx, window, log)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, f.close(log)) }()
	sctx, stopServing := context.WithCancel(ctx)
	counts := make([]atomic.Int64, n)
	var wg sync.WaitGroup
	serveErrs := make(chan error, n)
	defer func() {
		stopServing()
		wg.Wait()
		close(serveErrs)
		for e := range serveErrs {
			err = errors.Join(err, e)
		}
	}()
	start := time.Now()
	// Connect in a few goroutines: each connection is authorized by the
	// controller's auth callout, a round trip each.
	var cwg sync.WaitGroup
	var cerr error
	var cmu sync.Mutex
	next := atomic.Int64{}
	for range min(n, 16) {
		cwg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				conn, err := fabric.Connect(ctx, f.fs.files[fabric.RoleEngine], fabric.RoleEngine,
					&fabric.ConnectOptions{Name: "drover-bench-engine-" + strconv.Itoa(i), InProcess: f.srv.NATS(), Logger: log})
				if err == nil {
					var end *natstransport.EngineEnd
					end, err = natstransport.NewEngineEnd(ctx, conn.Conn, &natstransport.Config{Key: conn.Key, Prefix: conn.Subjects.Prefix(), Logger: log})
					if err == nil {
						reg := engine.NewRegistry()
						c := &counts[i]
						reg.MustRegister("noop", func(context.Context, []any, map[string]any) (any, error) { c.Add(1); return nil, nil })
						var e *engine.Engine
						if e, err = engine.New(&engine.Config{Name: "bench-" + strconv.Itoa(i), Registry: reg, Window: window}); err == nil {
							closeConn := conn.Close
							wg.Go(func() {
								defer closeConn()
								defer end.Close()
								if err := e.Serve(sctx, end); err != nil {
									serveErrs <- err
								}
							})
							continue
						}
						_ = end.Close()
					}
					conn.Close()
				}
				cmu.Lock()
				cerr = errors.Join(cerr, fmt.Errorf("engine %d: %w", i, err))
				cmu.Unlock()
				return
			}
		})
	}
	cwg.Wait()
	if cerr != nil {
		return nil, cerr
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = f.cs.ctl.WaitEngines(wctx, n)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("waiting for %d engines to register: %w", n, err)
	}
	rep = &FleetReport{Engines: n, Tasks: tasks, RegisterSeconds: time.Since(start).Seconds()}
	r, err := drover.Dial(ctx, f.fs.files[fabric.RoleClient])
	if err != nil {
		return nil, err
	}
	defer r.Close(context.Background())
	noop, _ := drover.NewMapTask("noop", nil, nil, drover.Options{})
	xs := make([]any, tasks)
	for i := range xs {
		xs[i] = int64(i)
	}
	t0 := time.Now()
	if _, err := r.Map(ctx, noop, xs); err != nil {
		return nil, err
	}
	rep.TasksPerSecond = float64(tasks) / time.Since(t0).Seconds()
	rep.MinPerEngine, rep.MaxPerEngine = tasks, 0
	for i := range counts {
		c := int(counts[i].Load())
		rep.MinPerEngine, rep.MaxPerEngine = min(rep.MinPerEngine, c), max(rep.MaxPerEngine, c)
	}
	return rep, nil
}

// benchQueue measures the controller's memory per queued task: tasks
// trivial tasks submitted through the control API to a controller with no
// engine, the live heap (after a GC) compared before and after.
func benchQueue(ctx context.Context, tasks int, log *slog.Logger) (rep *QueueReport, err error) {
	f, err := startBenchFarm(ctx, DefaultWindow, log)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, f.close(log)) }()
	r, err := drover.Dial(ctx, f.fs.files[fabric.RoleClient])
	if err != nil {
		return nil, err
	}
	defer r.Close(context.Background())
	noop, _ := drover.NewMapTask("noop", nil, nil, drover.Options{})
	xs := make([]any, tasks)
	for i := range xs {
		xs[i] = int64(i)
	}
	if _, err := r.QueueCounts(ctx); err != nil { // warm the connections up
		return nil, err
	}
	before := liveHeap()
	if _, err := r.MapAsync(ctx, noop, xs); err != nil {
		return nil, err
	}
	after := liveHeap()
	n, err := r.QueueCounts(ctx)
	if err != nil {
		return nil, err
	}
	if n.Pending+n.Scheduled < tasks {
		return nil, fmt.Errorf("%d tasks queued (%+v), want %d", n.Pending+n.Scheduled, n, tasks)
	}
	return &QueueReport{Tasks: tasks, BytesPerTask: float64(int64(after)-int64(before)) / float64(tasks)}, nil
}

// liveHeap returns the live heap after a full GC.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// roundTrips runs 2n tasks one at a time, alternating Run then Result
// with RunWait, and returns their round trips, sorted: lat of the first
// way, wlat of the second.
func roundTrips(ctx context.Context, r *drover.Remote, n int, task func(i int) *drover.Task, check func(i int, v any) error) (lat, wlat []time.Duration, err error) {
	runResult := func(t *drover.Task) (any, error) {
		id, err := r.Run(ctx, t)
		if err != nil {
			return nil, err
		}
		return r.Result(ctx, id)
	}
	runWait := func(t *drover.Task) (any, error) {
		_, v, err := r.RunWait(ctx, t)
		return v, err
	}
	for i := range min(n, 100) { // warm-up
		for _, do := range []func(*drover.Task) (any, error){runResult, runWait} {
			if _, err := do(task(i)); err != nil {
				return nil, nil, err
			}
		}
	}
	lat, wlat = make([]time.Duration, n), make([]time.Duration, n)
	for i := range 2 * n {
		do, into := runResult, lat
		if i%2 == 1 {
			do, into = runWait, wlat
		}
		t := task(i / 2)
		start := time.Now()
		v, err := do(t)
		into[i/2] = time.Since(start)
		if err != nil {
			return nil, nil, err
		}
		if check != nil {
			if err := check(i/2, v); err != nil {
				return nil, nil, err
			}
		}
	}
	if _, err := r.ClearAll(ctx); err != nil {
		return nil, nil, err
	}
	slices.Sort(lat)
	slices.Sort(wlat)
	return lat, wlat, nil
}

// natsFloor measures n bare NATS request-replies from client (the bench's
// client connection, over TCP) to a responder on server (the
// controller's in-process API connection), on a subject of the control
// API's namespace that the controller does not serve; it returns the p50
// in µs.
func natsFloor(ctx context.Context, client, server *nats.Conn, prefix string, n int) (float64, error) {
	subject := prefix + ".api." + fabric.APIVersion + ".bench_floor"
	sub, err := server.Subscribe(subject, func(m *nats.Msg) { _ = m.Respond(m.Data) })
	if err != nil {
		return 0, err
	}
	defer sub.Unsubscribe()
	if err := server.Flush(); err != nil {
		return 0, err
	}
	lat := make([]time.Duration, 0, n)
	payload := []byte("x")
	for range n {
		start := time.Now()
		if _, err := client.RequestWithContext(ctx, subject, payload); err != nil {
			return 0, err
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	return percentile(lat, 50), nil
}

// natsProcessFloor measures n bare NATS request-replies between the
// controller's transport connection and a responder in another process
// (this command, re-executed with --echo-responder: a TCP connection of
// the controller's user answering on a subject of its own, with the
// engines' GOMAXPROCS), and returns their p50 in µs. A blocking run's controller-engine hop costs at least
// that: it crosses between processes both ways, as this does.
func natsProcessFloor(ctx context.Context, stdio IO, exe string, benchPath []string, gomaxprocs int, fs *fabricSetup, n int) (p50, idleP50 float64, err error) {
	subject := fs.prefix + ".bench.echo." + nats.NewInbox()[len(nats.InboxPrefix):]
	c := exec.Command(exe, append(benchPath, "--echo-responder", fs.files[fabric.RoleController], "--echo-subject", subject,
		"--gomaxprocs", strconv.Itoa(gomaxprocs))...)
	c.Env = stdio.Environ()
	c.Stderr = stdio.Err
	dieWithParent(c)
	in, err := c.StdinPipe()
	if err != nil {
		return 0, 0, err
	}
	out, err := c.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := c.Start(); err != nil {
		return 0, 0, fmt.Errorf("start the responder process: %w", err)
	}
	defer func() {
		_ = in.Close() // the responder's cue to exit
		if werr := c.Wait(); werr != nil {
			err = errors.Join(err, fmt.Errorf("responder process: %w", werr))
		}
	}()
	// The responder writes nothing else on its standard output: the
	// reader ends with that line (or when the process dies).
	ready := make(chan error, 1)
	go func() {
		line := make([]byte, len(echoReady))
		_, rerr := io.ReadFull(out, line)
		if rerr == nil && string(line) != echoReady {
			rerr = fmt.Errorf("responder process said %q", line)
		}
		ready <- rerr
	}()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case err := <-ready:
		if err != nil {
			return 0, 0, fmt.Errorf("responder process: %w", err)
		}
	case <-wctx.Done():
		_ = c.Process.Kill()
		<-ready
		return 0, 0, fmt.Errorf("waiting for the responder process: %w", wctx.Err())
	}
	nc := fs.transport.Conn
	payload := []byte("x")
	pause := time.NewTimer(time.Hour)
	defer pause.Stop()
	var p50s [2]float64
	for i, paced := range []bool{false, true} {
		lat := make([]time.Duration, 0, n)
		for range n {
			if paced {
				pause.Reset(FloorPause)
				select {
				case <-pause.C:
				case <-ctx.Done():
					return 0, 0, ctx.Err()
				}
			}
			start := time.Now()
			if _, err := nc.RequestWithContext(ctx, subject, payload); err != nil {
				return 0, 0, err
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		p50s[i] = percentile(lat, 50)
	}
	return p50s[0], p50s[1], nil
}

// tcpFloor measures n one-byte ping-pongs over loopback TCP between this
// process and another (this command, re-executed with --tcp-echo and
// --gomaxprocs gomaxprocs), each after a pause of FloorPause, and returns
// their p50 in µs: what this machine charges for one message and its reply
// between two processes that idled, whatever carries them.
func tcpFloor(ctx context.Context, stdio IO, exe string, benchPath []string, gomaxprocs, n int) (p50 float64, err error) {
	c := exec.Command(exe, append(benchPath, "--tcp-echo", "--gomaxprocs", strconv.Itoa(gomaxprocs))...)
	c.Env = stdio.Environ()
	c.Stderr = stdio.Err
	dieWithParent(c)
	out, err := c.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := c.Start(); err != nil {
		return 0, fmt.Errorf("start the TCP echo process: %w", err)
	}
	// The echo prints its address, then nothing: the reader ends after
	// that line (or when the process dies).
	type line struct {
		s   string
		err error
	}
	addr := make(chan line, 1)
	go func() {
		s, err := bufio.NewReader(out).ReadString('\n')
		addr <- line{strings.TrimSpace(s), err}
	}()
	var (
		conn   net.Conn
		gone   bool // its output ended: it exited
		killed bool
		a      line
	)
	defer func() {
		switch {
		case conn != nil:
			_ = conn.Close() // the echo's cue to exit
		case !gone:
			killed = c.Process.Kill() == nil
		}
		if werr := c.Wait(); werr != nil && !killed {
			err = errors.Join(err, fmt.Errorf("TCP echo process: %w", werr))
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case a = <-addr:
	case <-wctx.Done():
		killed = c.Process.Kill() == nil
		<-addr // the pipe ends with the process
		gone = true
		return 0, fmt.Errorf("waiting for the TCP echo process: %w", wctx.Err())
	}
	if a.s == "" {
		gone = true
		return 0, fmt.Errorf("TCP echo process exited before printing its address (%v)", a.err)
	}
	var d net.Dialer
	if conn, err = d.DialContext(wctx, "tcp", a.s); err != nil {
		return 0, fmt.Errorf("TCP echo process at %q: %w", a.s, err)
	}
	// A ping-pong blocked on a hung echo ends with ctx.
	defer context.AfterFunc(ctx, func() { _ = conn.Close() })()
	pause := time.NewTimer(time.Hour)
	defer pause.Stop()
	lat := make([]time.Duration, 0, n)
	b := []byte{'x'}
	for range n {
		pause.Reset(FloorPause)
		select {
		case <-pause.C:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		start := time.Now()
		if _, err := conn.Write(b); err != nil {
			return 0, errors.Join(err, ctx.Err())
		}
		if _, err := io.ReadFull(conn, b); err != nil {
			return 0, errors.Join(err, ctx.Err())
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	return percentile(lat, 50), nil
}

// tcpEchoAccept bounds the wait of drover bench --tcp-echo for its
// connection (a parent that died before connecting leaves no process
// behind for long).
const tcpEchoAccept = 30 * time.Second

// runTCPEcho is drover bench --tcp-echo: it listens on loopback, prints
// the address, and echoes what its first connection sends, one read and
// one write at a time (as an engine answers), until that connection
// closes, ctx ends, or no connection came within tcpEchoAccept.
func runTCPEcho(ctx context.Context, stdio IO) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return failure(fmt.Errorf("bench: TCP echo: %w", err))
	}
	defer ln.Close()
	if tl, ok := ln.(*net.TCPListener); ok {
		_ = tl.SetDeadline(time.Now().Add(tcpEchoAccept))
	}
	if _, err := fmt.Fprintln(stdio.Out, ln.Addr()); err != nil {
		return failure(fmt.Errorf("bench: TCP echo: %w", err))
	}
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	conn, err := ln.Accept()
	if err != nil {
		return failure(fmt.Errorf("bench: TCP echo: %w", err))
	}
	defer conn.Close()
	stopConn := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stopConn()
	b := make([]byte, 64)
	for {
		n, err := conn.Read(b)
		if err != nil {
			return nil // the bench closed it
		}
		if _, err := conn.Write(b[:n]); err != nil {
			return nil
		}
	}
}

// FloorPause is the pause before each request of the second NATS floor
// between processes (NATSProcessIdleP50): about as long as an engine
// idles between one-at-a-time tasks.
const FloorPause = 200 * time.Microsecond

// echoReady is what the responder of natsProcessFloor prints once it
// answers.
const echoReady = "ready\n"

// runEchoResponder is drover bench --echo-responder: it connects with the
// controller's connection file (ctx bounds the connecting), answers every
// request on subject with its own data, and returns when its standard
// input closes.
func runEchoResponder(ctx context.Context, stdio IO, file, subject string) error {
	if subject == "" {
		return usage("--echo-responder needs --echo-subject")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := fabric.Connect(ctx, file, fabric.RoleController, &fabric.ConnectOptions{Name: "drover-bench-echo"})
	if err != nil {
		return failure(fmt.Errorf("bench: echo responder: %w", err))
	}
	defer conn.Close()
	sub, err := conn.Conn.Subscribe(subject, func(m *nats.Msg) { _ = m.Respond(m.Data) })
	if err != nil {
		return failure(fmt.Errorf("bench: echo responder: subscribe to %s: %w", subject, err))
	}
	defer sub.Unsubscribe()
	if err := conn.Conn.FlushWithContext(ctx); err != nil {
		return failure(fmt.Errorf("bench: echo responder: %w", err))
	}
	if _, err := io.WriteString(stdio.Out, echoReady); err != nil {
		return failure(fmt.Errorf("bench: echo responder: %w", err))
	}
	_, _ = io.Copy(io.Discard, stdio.In) // until the parent closes it
	return nil
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
	engProcs := "Go's default"
	if r.EngineGOMAXPROCS > 0 {
		engProcs = strconv.Itoa(r.EngineGOMAXPROCS)
	}
	fmt.Fprintf(w, "drover bench: controller with embedded NATS on loopback, %d engine processes, window %d\n", r.Engines, r.Window)
	fmt.Fprintf(w, "GOMAXPROCS: %d in the controller's process (with the client), %s in each engine process\n\n", r.GOMAXPROCS, engProcs)
	writeBenchDurability(w, r)
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
	row = fmt.Sprintf("round trip p50, one task: run, blocking\t%s\t", micros(r.RunWaitP50))
	for _, p := range r.Peers {
		row += micros(p.RoundTripMS*1000) + "\t"
	}
	fmt.Fprintln(tw, row)
	none := strings.Repeat("\t", len(r.Peers))
	fmt.Fprintf(tw, "round trip p99, one task: run, blocking\t%s\t%s\n", micros(r.RunWaitP99), none)
	fmt.Fprintf(tw, "round trip p50, one task: run, then result\t%s\t%s\n", micros(r.RoundTripP50), none)
	fmt.Fprintf(tw, "round trip p99, one task: run, then result\t%s\t%s\n", micros(r.RoundTripP99), none)
	fmt.Fprintf(tw, "StringTask push/run/pull p50: run, blocking\t%s\t%s\n", micros(r.StringTaskRunWaitP50), none)
	fmt.Fprintf(tw, "StringTask push/run/pull p99: run, blocking\t%s\t%s\n", micros(r.StringTaskRunWaitP99), none)
	fmt.Fprintf(tw, "StringTask push/run/pull p50: run, then result\t%s\t%s\n", micros(r.StringTaskP50), none)
	fmt.Fprintf(tw, "StringTask push/run/pull p99: run, then result\t%s\t%s\n", micros(r.StringTaskP99), none)
	if r.NATSRequestP50 > 0 {
		fmt.Fprintf(tw, "floor: one bare NATS request-reply p50 (a blocking run needs 2)\t%s\t%s\n", micros(r.NATSRequestP50), none)
	}
	if r.NATSProcessP50 > 0 {
		fmt.Fprintf(tw, "floor: bare NATS request-reply p50, controller to another process\t%s\t%s\n", micros(r.NATSProcessP50), none)
	}
	if r.NATSProcessIdleP50 > 0 {
		fmt.Fprintf(tw, "floor: the same, both processes idle %v before each request\t%s\t%s\n", FloorPause, micros(r.NATSProcessIdleP50), none)
	}
	if r.TCPIdleP50 > 0 {
		fmt.Fprintf(tw, "floor: TCP ping-pong p50 between processes idle %v, no NATS\t%s\t%s\n", FloorPause, micros(r.TCPIdleP50), none)
	}
	if f := r.Fleet; f != nil {
		fmt.Fprintf(tw, "%s engines: registration\t%.3g s\t%s\n", groupDigits(int64(f.Engines)), f.RegisterSeconds, strings.Repeat("\t", len(r.Peers)))
		fmt.Fprintf(tw, "%s engines: throughput, %s trivial tasks\t%s\t%s\n", groupDigits(int64(f.Engines)), groupDigits(int64(f.Tasks)),
			perSecond(f.TasksPerSecond), strings.Repeat("\t", len(r.Peers)))
		fmt.Fprintf(tw, "%s engines: tasks per engine, min-max\t%d-%d\t%s\n", groupDigits(int64(f.Engines)), f.MinPerEngine, f.MaxPerEngine,
			strings.Repeat("\t", len(r.Peers)))
	}
	if q := r.Queue; q != nil {
		fmt.Fprintf(tw, "controller memory per queued task (%s)\t%s\t%s\n", groupDigits(int64(q.Tasks)), bytesPer(q.BytesPerTask),
			strings.Repeat("\t", len(r.Peers)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n(round trips: %s samples each way, alternating; \"run, blocking\" is one request to the controller (RunWait, tc.run(task, block=True)),\n"+
		"\"run, then result\" two (Run, Result); peers' figures measured on the same machine with the same work)\n", groupDigits(int64(r.Samples)))
	return err
}

// bytesPer formats a size in bytes: "412 B", "1.5 KiB".
func bytesPer(v float64) string {
	if v >= 1024 {
		return fmt.Sprintf("%.3g KiB", v/1024)
	}
	return strconv.Itoa(int(v+0.5)) + " B"
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
