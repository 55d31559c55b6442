package netcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/transport/natstransport"
)

// EngineReadyLine starts the line an engine process prints on its
// standard output once connected: "drover engine connected: <name> <url>".
const EngineReadyLine = "drover engine connected:"

// DefaultGrace is how long an engine that got SIGTERM or SIGINT lets its
// running task finish before it stops it and hands it back.
const DefaultGrace = 10 * time.Second

// engineOptions are drover engine's flags.
type engineOptions struct {
	connect       string
	creds         string
	prefix        string
	n             int
	props         []string
	allowCommands bool
	maxMemory     string
	name          string
	grace         time.Duration
	stepBudget    uint64
	window        int
	logLevel      string
}

// Engine returns the drover engine command.
func Engine(stdio IO) *cobra.Command {
	var o engineOptions
	cmd := &cobra.Command{
		Use:   "engine",
		Short: "Run task farm engines that connect to a controller over NATS",
		Long: `drover engine runs engines for a drover controller, as ipyparallel's ipengine:
each registers with the controller, heartbeats, runs the tasks it is given
(Starlark code and functions, the registered Go functions noop, echo,
sleep and fail, and, with --allow-commands, commands) and sends their
results.

--connect names the engine connection file the controller wrote
(drover-engine.json; default: the one in drover's state directory, of the
controller started by this user), or NATS URLs (with --creds and --prefix).

With -n N, drover engine starts N engine processes (this program with -n 1;
each a process of its own, so that a memory limit or a crash stays local)
and supervises them: it forwards SIGTERM and SIGINT to them, restarts none,
and exits when all have exited (with status 1 if any failed).

An engine survives its controller: when the controller stops or its NATS
server goes away, the engine keeps trying and registers with the next
controller on the same connection (a controller restarted on the same
--data). On SIGTERM or SIGINT it leaves gracefully: it takes no new task,
hands back those queued on it, lets the running one finish for up to
--grace (then stops it and hands it back too), and says goodbye; the
controller queues what was handed back again without using a retry.

--prop key=value sets a property (repeatable); the value is JSON when it
is valid JSON (--prop gpu=true --prop mem=16 --prop tags='["a","b"]'),
else a string (--prop host=alpha).

--max-memory SIZE (512MiB, 2G, 1GB) limits each engine process: a soft
limit for Go's garbage collector (runtime/debug.SetMemoryLimit: the engine
collects harder as it nears SIZE) and ` + hardLimitDoc + ` (the controller
then sees the engine lost, and retries its task elsewhere if it has
retries left).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stdio := stdio.WithDefaults()
			if err := o.check(); err != nil {
				return err
			}
			if o.n > 1 {
				return superviseEngines(cmd, stdio, &o)
			}
			return runEngine(cmd.Context(), stdio, &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.connect, "connect", "", "engine connection file, or NATS URLs (default: drover-engine.json in drover's state directory)")
	f.StringVar(&o.creds, "creds", "", "with NATS URLs: a credentials file (.creds, nkey seed or token; mode 0600)")
	f.StringVar(&o.prefix, "prefix", fabric.DefaultPrefix, "with NATS URLs: the controller's subject prefix")
	f.IntVarP(&o.n, "processes", "n", 1, "number of engine processes to start")
	f.StringArrayVar(&o.props, "prop", nil, "engine property key=value (repeatable; value: JSON, else a string)")
	f.BoolVar(&o.allowCommands, "allow-commands", false, "let the engine run command tasks (processes on this machine)")
	f.StringVar(&o.maxMemory, "max-memory", "", "memory limit of each engine process: soft (Go's GC), and hard on Linux (RLIMIT_AS)")
	f.StringVar(&o.name, "name", "", "the engine's name, shown by drover engines (default: host:pid; with -n, NAME-i)")
	f.DurationVar(&o.grace, "grace", DefaultGrace, "on SIGTERM or SIGINT, how long the running task may finish before it is handed back")
	f.IntVar(&o.window, "window", engine.DefaultWindow, "task attempts the engine accepts at once (the controller's --window caps it too)")
	f.Uint64Var(&o.stepBudget, "step-budget", 0, "Starlark step budget of each run (0: engine.DefaultStepBudget); tasks may set their own")
	f.StringVar(&o.logLevel, "log-level", "info", "log level on standard error: debug, info, warn or error")
	return cmd
}

func (o *engineOptions) check() error {
	switch {
	case o.n < 1:
		return usage("-n %d: want at least 1 engine process", o.n)
	case o.grace < 0:
		return usage("--grace %v: must not be negative", o.grace)
	case o.window < 1:
		return usage("--window %d: must be at least 1", o.window)
	}
	if _, err := parseProps(o.props); err != nil {
		return usage("%v", err)
	}
	if o.maxMemory != "" {
		if _, err := parseSize(o.maxMemory); err != nil {
			return usage("--max-memory: %v", err)
		}
	}
	if _, err := newLogger(io.Discard, o.logLevel); err != nil {
		return err
	}
	if fabric.IsURL(o.connect) {
		if _, err := fabric.NewSubjects(o.prefix); err != nil {
			return usage("--prefix %q: %v", o.prefix, err)
		}
	} else if o.creds != "" {
		return usage("--creds is for NATS URLs: a connection file holds its credentials")
	}
	return nil
}

// target returns what --connect designates, made absolute (a file), or
// the default connection file.
func (o *engineOptions) target(stdio IO) (string, error) {
	if fabric.IsURL(o.connect) {
		return o.connect, nil
	}
	if o.connect == "" {
		dir, err := stdio.stateDir()
		if err != nil {
			return "", fmt.Errorf("engine: %w (or give --connect)", err)
		}
		return filepath.Join(dir, fabric.FileName(fabric.RoleEngine)), nil
	}
	return filepath.Abs(o.connect)
}

// connectError explains a failure to connect.
func connectError(what, target string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: no connection file %s: is a controller running? (start one with drover controller, or give --connect)", what, target)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// runEngine runs one engine in this process until ctx ends (or SIGINT).
func runEngine(parent context.Context, stdio IO, o *engineOptions) error {
	ctx, stop := stdio.interruptible(parent)
	defer stop()
	name := o.name
	if name == "" {
		host, _ := os.Hostname()
		name = host + ":" + strconv.Itoa(os.Getpid())
	}
	log, err := newLogger(stdio.Err, o.logLevel)
	if err != nil {
		return err
	}
	log = log.With("engine", name)
	props, err := parseProps(o.props)
	if err != nil {
		return usage("%v", err)
	}
	if o.maxMemory != "" {
		size, _ := parseSize(o.maxMemory)
		debug.SetMemoryLimit(size)
		hard, err := setHardMemoryLimit(size)
		if err != nil {
			return failure(fmt.Errorf("engine: --max-memory: %w", err))
		}
		log.Info("engine: memory limit", "soft", formatSize(size), "hard_address_space", formatSize(hard))
	}
	target, err := o.target(stdio)
	if err != nil {
		return failure(err)
	}
	conn, err := fabric.Connect(ctx, target, fabric.RoleEngine, &fabric.ConnectOptions{
		Name: "drover-engine-" + name, Prefix: o.prefix, CredentialsFile: o.creds, Logger: log,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return failure(connectError("engine", target, err))
	}
	defer conn.Close()
	var eng *engine.Engine
	out := &lockedWriter{w: stdio.Out}
	eng, err = engine.New(&engine.Config{
		Name: name, Properties: props, Registry: stdio.Functions(), AllowCommands: o.allowCommands,
		StepBudget: o.stepBudget, Window: o.window,
		Print: func(msg string) { fmt.Fprintf(out, "[engine %d] %s\n", eng.ID(), msg) },
	})
	if err != nil {
		return failure(fmt.Errorf("engine: %w", err))
	}
	fmt.Fprintf(out, "%s %s %s\n", EngineReadyLine, name, conn.ConnectedUrlRedacted())
	log.Info("engine: connected", "url", conn.ConnectedUrlRedacted(), "key", conn.Key, "prefix", conn.Subjects.Prefix(),
		"allow_commands", o.allowCommands)
	err = serveLoop(ctx, eng, conn, o.grace, log)
	fmt.Fprintf(out, "drover engine %s left\n", name)
	return err
}

// serveLoop serves the controller until ctx ends, then leaves gracefully.
// When the controller shuts the engine down or goes away, it serves again
// on a new transport end: the next controller on the prefix gets the
// engine (with its namespace) back.
func serveLoop(ctx context.Context, eng *engine.Engine, conn *fabric.Conn, grace time.Duration, log *slog.Logger) error {
	const minBackoff, maxBackoff = 50 * time.Millisecond, 2 * time.Second
	backoff := minBackoff
	for ctx.Err() == nil {
		if conn.IsClosed() {
			return failure(fmt.Errorf("engine: the NATS connection is closed (were the controller's secrets renewed? use its new %s)",
				fabric.FileName(fabric.RoleEngine)))
		}
		began := time.Now()
		err := serveOnce(ctx, eng, conn, grace, log)
		if ctx.Err() != nil {
			break
		}
		log.Info("engine: the controller ended the session; waiting for it or the next one", "err", err)
		if time.Since(began) > 10*time.Second {
			backoff = minBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		backoff = min(2*backoff, maxBackoff)
	}
	return nil
}

// serveOnce serves on one transport end until the controller ends it or
// ctx ends; in the latter case it drains first.
func serveOnce(ctx context.Context, eng *engine.Engine, conn *fabric.Conn, grace time.Duration, log *slog.Logger) error {
	end, err := natstransport.NewEngineEnd(ctx, conn.Conn, &natstransport.Config{Key: conn.Key, Prefix: conn.Subjects.Prefix(), Logger: log})
	if err != nil {
		return err
	}
	defer end.Close()
	d := newDrainEnd(end)
	sctx, stopServe := context.WithCancel(context.Background())
	defer stopServe()
	served := make(chan error, 1)
	go func() { served <- eng.Serve(sctx, d) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("engine: leaving: no new tasks; the running one may finish", "grace", grace)
	d.drain()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-d.Drained():
	case <-t.C:
		log.Warn("engine: grace period over: stopping the running task and handing it back")
		d.handBackAll()
	case err := <-served:
		return err
	}
	stopServe()
	return <-served
}

// superviseEngines starts o.n engine processes and waits for them.
func superviseEngines(cmd *cobra.Command, stdio IO, o *engineOptions) error {
	ctx, stop := stdio.interruptible(cmd.Context())
	defer stop()
	exe, err := stdio.Executable()
	if err != nil {
		return failure(fmt.Errorf("engine: start engine processes: %w", err))
	}
	target, err := o.target(stdio)
	if err != nil {
		return failure(err)
	}
	if !fabric.IsURL(target) {
		// Fail here, once, rather than in every process.
		if _, err := fabric.ReadFile(target); err != nil {
			return failure(connectError("engine", target, err))
		}
	}
	base := childArgs(cmd, target)
	type exit struct {
		i   int
		pid int
		err error
	}
	exits := make(chan exit, o.n)
	var procs []*os.Process
	for i := range o.n {
		args := append([]string(nil), base...)
		if o.name != "" {
			args = append(args, "--name", o.name+"-"+strconv.Itoa(i))
		}
		c := exec.Command(exe, args...)
		c.Env = stdio.Environ()
		c.Stdout, c.Stderr = stdio.Out, stdio.Err
		dieWithParent(c)
		if err := c.Start(); err != nil {
			err = fmt.Errorf("engine: start engine process %d: %w", i, err)
			for _, p := range procs {
				_ = p.Signal(syscall.SIGTERM)
			}
			for range procs {
				<-exits
			}
			return failure(err)
		}
		procs = append(procs, c.Process)
		fmt.Fprintf(stdio.Out, "drover engine: started engine process %d (pid %d)\n", i, c.Process.Pid)
		go func() { exits <- exit{i, c.Process.Pid, c.Wait()} }()
	}
	failed := 0
	signalled := false
	for left := o.n; left > 0; {
		select {
		case e := <-exits:
			left--
			status := "exited"
			if e.err != nil {
				failed++
				status = e.err.Error()
			}
			fmt.Fprintf(stdio.Out, "drover engine: engine process %d (pid %d) %s\n", e.i, e.pid, status)
		case <-ctx.Done():
			if !signalled {
				signalled = true
				for _, p := range procs {
					_ = p.Signal(syscall.SIGTERM) // those that exited already: an error, ignored
				}
			}
			ctx = context.Background() // wait for the exits only
		}
	}
	if failed > 0 {
		return failure(fmt.Errorf("engine: %d of %d engine processes failed", failed, o.n))
	}
	return nil
}

// childArgs returns the arguments of an engine process started by -n: the
// engine command's path under the root, its flags as given (but -n and
// --connect), then -n 1 and --connect target.
func childArgs(cmd *cobra.Command, target string) []string {
	args := strings.Fields(cmd.CommandPath())[1:]
	cmd.Flags().Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "processes", "connect", "name":
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				args = append(args, "--"+f.Name+"="+v)
			}
			return
		}
		args = append(args, "--"+f.Name+"="+f.Value.String())
	})
	return append(args, "-n", "1", "--connect", target)
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
