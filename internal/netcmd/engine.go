package netcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
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
	wait          time.Duration
	tls           TLSOptions
	gomaxprocs    int
}

// minMaxMemory is the smallest --max-memory: below it, an engine process
// cannot even start its runtime, connect and register.
const minMaxMemory = 32 << 20

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
controller started by this user), or NATS URLs (with --creds and --prefix;
a connection file holds its own credentials and prefix).

TLS: --tls-cert and --tls-key give the engine a client certificate, for a
controller started with --tls-verify-clients (mutual TLS); --tls-ca names
the certificate authorities of a server with a private CA (a tls:// URL).
With a connection file, they override its TLS settings (the file's CA is
kept unless --tls-ca is given).

An engine started before its controller waits for it: for the connection
file to appear, then for its servers to answer (it logs once that it
waits). --wait DURATION gives up after that long with an error (0, the
default: wait until stopped, as an engine whose controller went away
does; give --wait in scripts that should fail when no controller comes).

With -n N, drover engine starts N engine processes (this program with -n 1;
each a process of its own, so that a memory limit or a crash stays local)
and supervises them: it forwards SIGTERM and SIGINT to them (see below),
restarts none, and exits when all have exited (with status 1 if any
failed).

An engine survives its controller: when the controller stops or its NATS
server goes away, the engine keeps trying and registers with the next
controller on the same connection (a controller restarted on the same
--data). With a connection file, an engine whose connection is down reads
the file again (every half second) and, when it names other servers or
credentials (a controller restarted on the same --data while its port was
taken listens on another one), connects with it.

On SIGTERM or SIGINT it leaves gracefully: it takes no new task, hands
back those queued on it, lets the running one finish for up to
--grace (then stops it and hands it back too), and says goodbye; the
controller queues what was handed back again without using a retry.
A second SIGINT (Ctrl-C again) stops at once: the running task is stopped
and handed back too, and the engine leaves. (drover engine -n N passes the
first signal on as SIGTERM and a second SIGINT as SIGINT; its engine
processes have process groups of their own, so that a Ctrl-C at the
terminal reaches them once, through it. A second SIGTERM kills.)

--prop key=value sets a property (repeatable); the value is JSON when it
is valid JSON (--prop gpu=true --prop mem=16 --prop tags='["a","b"]'),
else a string (--prop host=alpha).

--gomaxprocs N is how many threads run Go code at once in each engine
process. By default the -n engine processes share the CPUs: with as many
engines as CPUs (or more), each runs on one thread, which suits an engine
(it runs one task at a time, as an IPython engine) and spares it the
wake-ups of idle threads on every message (shorter round trips); fewer
engines keep the spare CPUs for their garbage collector. 0 keeps Go's
default (every CPU the process may use); GOMAXPROCS in the environment
wins over the default.

--max-memory SIZE (512MiB, 2G, 1GB; at least ` + minMaxMemoryDoc + `) limits each engine
process: a soft limit for Go's garbage collector
(runtime/debug.SetMemoryLimit: the engine collects harder as it nears
SIZE) and ` + hardLimitDoc + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stdio := stdio.WithDefaults()
			if err := o.check(cmd); err != nil {
				return err
			}
			o.gomaxprocs = stdio.gomaxprocs(cmd, o.gomaxprocs, o.n)
			stdio.applyGomaxprocs(o.gomaxprocs)
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
	f.StringVar(&o.maxMemory, "max-memory", "", "memory limit of each engine process (at least "+minMaxMemoryDoc+"): soft (Go's GC), and hard on Linux (RLIMIT_AS: past it the process dies abruptly)")
	f.StringVar(&o.name, "name", "", "the engine's name, shown by drover engines (default: host:pid; with -n, NAME-i)")
	f.DurationVar(&o.grace, "grace", DefaultGrace, "on SIGTERM or SIGINT, how long the running task may finish before it is handed back")
	f.IntVar(&o.window, "window", engine.DefaultWindow, "task attempts the engine accepts at once (the controller's --window caps it too)")
	f.Uint64Var(&o.stepBudget, "step-budget", 0, fmt.Sprintf("Starlark step budget of each run (0: the default, %d); tasks may set their own", engine.DefaultStepBudget))
	f.DurationVar(&o.wait, "wait", 0, "how long to wait at start for the controller (its connection file, its servers) before failing (0: until stopped)")
	o.tls.AddFlags(f)
	f.StringVar(&o.logLevel, "log-level", "info", "log level on standard error: debug, info, warn or error")
	gomaxprocsFlag(cmd, &o.gomaxprocs, "each engine process", "the CPUs shared among the -n engine processes, at least 1 each")
	return cmd
}

// minMaxMemoryDoc is minMaxMemory for the help (formatSize's way).
const minMaxMemoryDoc = "32 MiB"

func (o *engineOptions) check(cmd *cobra.Command) error {
	switch {
	case o.n < 1:
		return usage("-n %d: want at least 1 engine process", o.n)
	case o.grace < 0:
		return usage("--grace %v: must not be negative", o.grace)
	case o.window < 1:
		return usage("--window %d: must be at least 1", o.window)
	case o.wait < 0:
		return usage("--wait %v: must not be negative (0: wait until stopped)", o.wait)
	}
	if err := checkGomaxprocs(o.gomaxprocs); err != nil {
		return err
	}
	if _, err := parseProps(o.props); err != nil {
		return usage("%v", err)
	}
	if o.maxMemory != "" {
		size, err := parseSize(o.maxMemory)
		if err != nil {
			return usage("--max-memory: %v", err)
		}
		if size < minMaxMemory {
			return usage("--max-memory %s: must be at least %s (an engine process needs that much to start)", o.maxMemory, formatSize(minMaxMemory))
		}
	}
	if _, err := newLogger(io.Discard, o.logLevel); err != nil {
		return err
	}
	if err := o.tls.Check(); err != nil {
		return err
	}
	if fabric.IsURL(o.connect) {
		if _, err := fabric.NewSubjects(o.prefix); err != nil {
			return usage("--prefix %q: %v", o.prefix, err)
		}
	} else if o.creds != "" {
		return usage("--creds is for NATS URLs: a connection file holds its credentials")
	} else if cmd.Flags().Changed("prefix") {
		return usage("--prefix is for NATS URLs: a connection file holds the prefix")
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

// connectError explains a failure to connect to target (a connection
// file or NATS URLs).
func connectError(what, target string, err error) error {
	file := !fabric.IsURL(target)
	if file && errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(target); errors.Is(serr, os.ErrNotExist) {
			return fmt.Errorf("%s: no connection file %s: is a controller running? (start one with drover controller; a controller started with --data DIR writes its files in DIR: give --connect DIR/%s)",
				what, target, filepath.Base(target))
		}
	}
	if noServer(err) {
		where := "at " + target
		if file {
			if f, ferr := fabric.ReadFile(target); ferr == nil {
				where = "at " + strings.Join(f.URLs, ",") + ", the servers " + target + " names"
			} else {
				where = "at the servers " + target + " names"
			}
		}
		return fmt.Errorf("%s: %w: is the controller running? (drover controller; no NATS server answers %s)", what, err, where)
	}
	if s := err.Error(); strings.Contains(s, "certificate required") || strings.Contains(s, "bad certificate") ||
		errors.Is(err, nats.ErrTLS) && strings.Contains(s, "closed by remote after TLS handshake") {
		return fmt.Errorf("%s: %w: the server refused the TLS connection: does it want a client certificate signed by its CA? (give --tls-cert and --tls-key)", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// noServer reports whether err says that no NATS server answered (none
// listens, or none can be reached): worth waiting for.
func noServer(err error) bool {
	if errors.Is(err, nats.ErrNoServers) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// connectWait connects with connect until it succeeds, waiting for the
// connection file (file, "" for URLs) to appear and for the servers to
// answer, for up to wait (0: until ctx ends). It returns nil, nil when ctx
// ends. Other errors (credentials, TLS, a bad file) end it at once.
func connectWait(ctx context.Context, connect func(context.Context) (*fabric.Conn, error), target, file string, wait time.Duration, log *slog.Logger) (*fabric.Conn, error) {
	wctx := ctx
	if wait > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	const minBackoff, maxBackoff = 50 * time.Millisecond, time.Second
	backoff := minBackoff
	logged := false
	var last error // the last error of an attempt that --wait did not cut short
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		var err error
		missing := false
		if file != "" {
			if _, serr := os.Stat(file); errors.Is(serr, os.ErrNotExist) {
				missing, err = true, serr
			}
		}
		if !missing {
			var conn *fabric.Conn
			if conn, err = connect(wctx); err == nil {
				return conn, nil
			}
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if wctx.Err() != nil {
			if last == nil {
				last = err
			}
			return nil, connectError(fmt.Sprintf("engine: no controller after --wait %v", wait), target, last)
		}
		last = err
		if !missing && !noServer(err) {
			return nil, connectError("engine", target, err)
		}
		if !logged {
			logged = true
			until := "until stopped"
			if wait > 0 {
				until = "for up to " + wait.String() + " (--wait)"
			}
			if missing {
				log.Warn("engine: waiting for the controller: no connection file yet (start one with drover controller)", "file", file, "waiting", until)
			} else {
				log.Warn("engine: waiting for the controller: its NATS servers do not answer (start it with drover controller)", "target", target, "err", err, "waiting", until)
			}
		}
		d := backoff
		if missing {
			d = fileCheckInterval
		} else {
			backoff = min(2*backoff, maxBackoff)
		}
		t.Reset(d)
		select {
		case <-t.C:
		case <-wctx.Done():
		}
	}
}

// runEngine runs one engine in this process until ctx ends (or SIGINT; a
// second SIGINT stops it at once).
func runEngine(parent context.Context, stdio IO, o *engineOptions) error {
	sig := stdio.stopSignals(parent)
	defer sig.stop()
	ctx := sig.ctx
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
	tf, err := o.tls.Files()
	if err != nil {
		return err
	}
	connect := func(ctx context.Context) (*fabric.Conn, error) {
		return fabric.Connect(ctx, target, fabric.RoleEngine, &fabric.ConnectOptions{
			Name: "drover-engine-" + name, Prefix: o.prefix, CredentialsFile: o.creds, TLS: tf, Logger: log,
		})
	}
	file := ""
	if !fabric.IsURL(target) {
		file = target
	}
	conn, err := connectWait(ctx, connect, target, file, o.wait, log)
	if err != nil {
		return failure(err)
	}
	if conn == nil {
		return nil // stopped while waiting
	}
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
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
	for {
		err = serveConn(ctx, sig.now, eng, conn, file, tf, o.grace, log)
		if !errors.Is(err, errRedial) {
			break
		}
		// The connection file names other servers or credentials (a
		// controller restarted on the same --data whose port was taken):
		// connect anew with it.
		conn.Close()
		if conn, err = redial(ctx, func() (*fabric.Conn, error) { return connect(ctx) }, log); conn == nil {
			break
		}
		log.Info("engine: connected", "url", conn.ConnectedUrlRedacted(), "key", conn.Key, "prefix", conn.Subjects.Prefix(),
			"file", file)
	}
	fmt.Fprintf(out, "drover engine %s left\n", name)
	return err
}

// errRedial ends serving on a connection whose connection file now names
// other servers or credentials.
var errRedial = errors.New("engine: the connection file changed")

// fileCheckInterval is how often an engine whose connection is down (it
// keeps trying its servers) reads its connection file again.
const fileCheckInterval = 500 * time.Millisecond

// serveConn serves on conn (serveLoop) until ctx ends (now: see
// serveOnce); with file (the engine connection file conn was made from;
// "" for URLs; tf: the TLS flags that override its settings), it returns
// errRedial when, while conn is down or closed, file names other servers
// or credentials than conn's.
func serveConn(ctx context.Context, now <-chan struct{}, eng *engine.Engine, conn *fabric.Conn, file string, tf *fabric.TLSFiles, grace time.Duration, log *slog.Logger) error {
	if file == "" {
		return serveLoop(ctx, now, eng, conn, nil, grace, log)
	}
	changed := make(chan struct{})
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watchFile(wctx, conn, file, tf, changed, log)
	}()
	err := serveLoop(ctx, now, eng, conn, changed, grace, log)
	stopWatch()
	<-watched
	if err != nil && !errors.Is(err, errRedial) && ctx.Err() == nil && conn.IsClosed() && fileChanged(file, tf, conn.File) {
		return errRedial
	}
	return err
}

// watchFile closes changed when, while conn is down (nats.go keeps trying
// its servers), file names other servers or credentials than conn's, or
// returns when ctx ends or conn is closed. It reads file when conn goes
// down, then every fileCheckInterval until it is back. (nats.go holds the
// connection's lock while it tries a server: when the old address is
// taken by a process that accepts connections but does not speak NATS,
// the switch waits for that attempt's handshake timeout, DialTimeout.)
func watchFile(ctx context.Context, conn *fabric.Conn, file string, tf *fabric.TLSFiles, changed chan<- struct{}, log *slog.Logger) {
	status := conn.StatusChanged(nats.CONNECTED, nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED)
	defer conn.RemoveStatusListener(status)
	t := time.NewTimer(fileCheckInterval)
	defer t.Stop()
	for {
		var tick <-chan time.Time
		switch {
		case conn.IsClosed():
			return
		case !conn.IsConnected():
			if fileChanged(file, tf, conn.File) {
				log.Info("engine: the connection is down and the connection file names other servers or credentials: connecting with it",
					"file", file)
				close(changed)
				return
			}
			t.Reset(fileCheckInterval)
			tick = t.C
		}
		select {
		case <-ctx.Done():
			return
		case <-status:
		case <-tick:
		}
	}
}

// fileChanged reports whether the connection file at path names other
// servers, credentials, prefix or TLS settings (once tf overrides them,
// as Connect does) than cur (a file that cannot be read has not changed:
// it may be being rewritten).
func fileChanged(path string, tf *fabric.TLSFiles, cur *fabric.ConnFile) bool {
	f, err := fabric.ReadFile(path)
	if err != nil || f.Role != cur.Role {
		return false
	}
	return !slices.Equal(f.URLs, cur.URLs) || f.Prefix != cur.Prefix || f.Secret != cur.Secret || f.Token != cur.Token ||
		f.User != cur.User || f.Password != cur.Password || f.NkeySeed != cur.NkeySeed || f.CredsFile != cur.CredsFile ||
		!reflect.DeepEqual(fabric.OverrideTLS(f.TLS, tf), cur.TLS)
}

// redial connects again (connect reads the connection file anew), waiting
// 50ms, doubling up to 2s, between attempts, until it succeeds or ctx
// ends (then it returns nil, nil).
func redial(ctx context.Context, connect func() (*fabric.Conn, error), log *slog.Logger) (*fabric.Conn, error) {
	const minBackoff, maxBackoff = 50 * time.Millisecond, 2 * time.Second
	for backoff := minBackoff; ; backoff = min(2*backoff, maxBackoff) {
		conn, err := connect()
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		log.Warn("engine: connecting with the connection file failed; trying again", "err", err, "in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		}
	}
}

// serveLoop serves the controller until ctx ends, then leaves gracefully
// (now: see serveOnce). When the controller shuts the engine down or goes
// away, it serves again on a new transport end: the next controller on
// the prefix gets the engine (with its namespace) back. While the NATS
// connection is down (nats.go reconnects), it waits for it.
//
// When changed is closed (the connection file changed, see serveConn), it
// stops serving (the running tasks are stopped: their controller is gone)
// and returns errRedial.
func serveLoop(ctx context.Context, now <-chan struct{}, eng *engine.Engine, conn *fabric.Conn, changed <-chan struct{}, grace time.Duration, log *slog.Logger) error {
	const minBackoff, maxBackoff = 50 * time.Millisecond, 2 * time.Second
	backoff := minBackoff
	for ctx.Err() == nil {
		if conn.IsClosed() {
			return failure(fmt.Errorf("engine: the NATS connection is closed (were the controller's secrets renewed? use its new %s)",
				fabric.FileName(fabric.RoleEngine)))
		}
		if !conn.IsConnected() {
			if err := waitConnected(ctx, conn, changed, log); err != nil {
				return err
			}
			continue
		}
		began := time.Now()
		served, err := serveOnce(ctx, now, eng, conn, changed, grace, log)
		if errors.Is(err, errRedial) {
			return err
		}
		if ctx.Err() != nil {
			break
		}
		if served {
			log.Info("engine: the controller ended the session; waiting for it or the next one", "err", err)
		} else {
			log.Warn("engine: cannot open a session on the NATS connection; trying again", "err", err)
		}
		if time.Since(began) > 10*time.Second {
			backoff = minBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		case <-changed:
			t.Stop()
			return errRedial
		}
		backoff = min(2*backoff, maxBackoff)
	}
	return nil
}

// waitConnected waits for conn, which is down, to be connected again (it
// logs that it waits); it returns errRedial when changed is closed, nil
// when conn is connected or closed or ctx ends.
func waitConnected(ctx context.Context, conn *fabric.Conn, changed <-chan struct{}, log *slog.Logger) error {
	status := conn.StatusChanged(nats.CONNECTED, nats.CLOSED)
	defer conn.RemoveStatusListener(status)
	if conn.IsConnected() || conn.IsClosed() {
		return nil
	}
	log.Info("engine: the NATS connection is down; waiting for it to come back", "url", conn.ConnectedUrlRedacted())
	select {
	case <-status:
	case <-ctx.Done():
	case <-changed:
		return errRedial
	}
	return nil
}

// serveOnce serves on one transport end until the controller ends it or
// ctx ends; in the latter case it drains first, for up to grace, or until
// now is closed (a second Ctrl-C: the running attempts are stopped and
// handed back at once). When changed is closed, it stops serving and
// returns errRedial. served says whether a session was opened (false:
// the transport end could not be made).
func serveOnce(ctx context.Context, now <-chan struct{}, eng *engine.Engine, conn *fabric.Conn, changed <-chan struct{}, grace time.Duration, log *slog.Logger) (served bool, err error) {
	end, err := natstransport.NewEngineEnd(ctx, conn.Conn, &natstransport.Config{Key: conn.Key, Prefix: conn.Subjects.Prefix(), Logger: log})
	if err != nil {
		return false, err
	}
	defer end.Close()
	d := newDrainEnd(end)
	sctx, stopServe := context.WithCancel(context.Background())
	defer stopServe()
	done := make(chan error, 1)
	go func() { done <- eng.Serve(sctx, d) }()
	select {
	case err := <-done:
		return true, err
	case <-changed:
		stopServe()
		<-done
		return true, errRedial
	case <-ctx.Done():
	}
	log.Info("engine: leaving: no new tasks; the running one may finish (press Ctrl-C again to stop now)", "grace", grace)
	d.drain()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-d.Drained():
	case <-t.C:
		log.Warn("engine: grace period over: stopping the running task and handing it back")
		d.handBackAll()
	case <-now:
		log.Warn("engine: stopping now: stopping the running task and handing it back")
		d.handBackAll()
	case err := <-done:
		return true, err
	}
	stopServe()
	return true, <-done
}

// superviseEngines starts o.n engine processes and waits for them. The
// first stop request (ctx ends, or SIGINT) is passed on to them as
// SIGTERM (they leave gracefully), a second SIGINT as SIGINT (they stop at
// once). The engine processes have process groups of their own, so that a
// Ctrl-C at the terminal reaches them only through this process (else
// each would get it twice: the terminal's and the one passed on).
func superviseEngines(cmd *cobra.Command, stdio IO, o *engineOptions) error {
	sig := stdio.stopSignals(cmd.Context())
	defer sig.stop()
	ctx, now := sig.ctx, sig.now
	exe, err := stdio.Executable()
	if err != nil {
		return failure(fmt.Errorf("engine: start engine processes: %w", err))
	}
	target, err := o.target(stdio)
	if err != nil {
		return failure(err)
	}
	if !fabric.IsURL(target) {
		// A connection file that is there but wrong: fail here, once,
		// rather than in every process. (A missing one: each waits.)
		if _, err := fabric.ReadFile(target); err != nil && !errors.Is(err, os.ErrNotExist) {
			return failure(connectError("engine", target, err))
		}
	}
	base := childArgs(cmd, target)
	if !cmd.Flags().Changed("gomaxprocs") && o.gomaxprocs > 0 {
		// Their share of the CPUs, which each, alone (-n 1), would not
		// know.
		base = append(base, "--gomaxprocs", strconv.Itoa(o.gomaxprocs))
	}
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
		ownProcessGroup(c)
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
		// (procs: the exited ones too: signalling them fails, ignored.)
		select {
		case e := <-exits:
			left--
			status := "exited"
			switch {
			case e.err != nil && now == nil && interrupted(e.err):
				// Our SIGINT came as it was exiting (it no longer
				// handled it): what was asked.
				status = "stopped"
			case e.err != nil:
				failed++
				status = e.err.Error()
			}
			fmt.Fprintf(stdio.Out, "drover engine: engine process %d (pid %d) %s\n", e.i, e.pid, status)
		case <-ctx.Done():
			if !signalled {
				signalled = true
				fmt.Fprintf(stdio.Out, "drover engine: stopping the engine processes gracefully (press Ctrl-C again to stop now)\n")
				for _, p := range procs {
					_ = p.Signal(syscall.SIGTERM)
				}
			}
			ctx = context.Background() // wait for the exits and now only
		case <-now:
			fmt.Fprintf(stdio.Out, "drover engine: stopping the engine processes now\n")
			for _, p := range procs {
				_ = p.Signal(os.Interrupt)
			}
			now = nil
		}
	}
	if failed > 0 {
		return failure(fmt.Errorf("engine: %d of %d engine processes failed", failed, o.n))
	}
	return nil
}

// interrupted reports whether err is the exit of a process killed by
// SIGINT.
func interrupted(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGINT
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
