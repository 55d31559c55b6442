package netcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/controlapi"
	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/fabric/embedded"
	"github.com/drover-dev/drover/journal"
	"github.com/drover-dev/drover/scheduler"
	"github.com/drover-dev/drover/script"
	"github.com/drover-dev/drover/transport/natstransport"
)

// ReadyLine starts the line drover controller prints on its standard
// output once engines and clients can connect: "drover controller ready:
// <id> <url>[,<url>...]".
const ReadyLine = "drover controller ready:"

// DefaultStopTimeout is how long a stopping controller waits for the
// attempts running on engines to end before it abandons them.
const DefaultStopTimeout = 10 * time.Second

// controllerOptions are drover controller's flags.
type controllerOptions struct {
	listen           string
	advertise        []string
	nats             string
	creds            string
	engineCreds      string
	clientCreds      string
	data             string
	prefix           string
	scheduler        string
	window           int
	failurePenalty   time.Duration
	idleTimeout      time.Duration
	stopTimeout      time.Duration
	tlsCert          string
	tlsKey           string
	tlsCA            string
	tlsVerifyClients bool
	logLevel         string
	// durable: keep accepted tasks and results in JetStream (resolved by
	// check: --durable if given, else --data given without --nats).
	durable       bool
	resultsMaxAge time.Duration
	resultsMax    int64
	replicas      int
	leaseTTL      time.Duration
	gomaxprocs    int
}

// DefaultWindow is drover controller's --window: how many attempts it
// keeps assigned to one engine. Over NATS each controller-engine round
// trip costs ~100-200 µs (in process, microseconds: controller.DefaultWindow
// is 8), so a larger window is what hides it: measured with drover bench
// (2 engine processes, 2 cores), window 8 gives ~20-25k trivial tasks/s,
// 64 gives 47-75k. The cost: with long tasks, up to 64 may wait on one
// engine while another is idle; use --window 1 for the seed's exact
// scheduling order.
const DefaultWindow = 64

// Controller returns the drover controller command.
func Controller(stdio IO) *cobra.Command {
	var o controllerOptions
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run a task farm controller on NATS (engines and clients connect to it)",
		Long: `drover controller runs the controller of a task farm that engines (drover
engine) and clients (drover status, drover.Dial, drover shell --connect)
reach over NATS, as ipyparallel's ipcontroller.

By default it embeds a NATS server listening on 127.0.0.1 only, with
authentication on (each engine and client is confined to its own subjects
by drover's auth callout). It writes the connection files engines and
clients read, mode 0600, in --data (default: drover's state directory,
$DROVER_STATE_DIR, else $XDG_STATE_HOME/drover, else ~/.local/state/drover):

  drover-engine.json      for engines (drover engine --connect FILE)
  drover-client.json      for clients (drover status --connect FILE)
  drover-controller.json  the controller's own keys: keep it private

A controller restarted on the same --data reuses the port (when free) and
the secrets, so running engines reconnect to it by themselves. Only one
controller at a time may use a data directory.

With --nats URL it joins an existing NATS server or cluster instead, with
the operator's credentials (--creds; --engine-creds and --client-creds for
what the engine and client files hold). drover then enforces nothing: the
server's permissions for those credentials apply.

Durability: with --data given explicitly, the controller keeps what it
accepted in a journal (NATS JetStream, file storage in DATA/jetstream):
accepted tasks, the id counter and results survive a crash or kill -9 of
the controller. A controller restarted on the same --data queues the
unfinished tasks again (a task running at the crash runs again; only one
result is kept) and never reuses an id; "drover run" gets an id only once
its task is on disk. Without --data (drover's state directory), results are
kept in memory and lost when the controller stops, as the ready line and
drover status say. --durable and --durable=false override that choice.
Results are kept until cleared, or until --results-max-age or
--results-max drops the oldest (default: no limit). A data directory
whose journal is unusable (not a directory, not writable, not a drover
journal, a newer drover's) is refused at start with a message naming it.

With --nats, the journal lives in the NATS system's JetStream (the
servers' storage, not --data, which then holds only the connection files),
so durability is asked for with --durable (the servers must have JetStream
enabled for the controller's account). On a cluster the streams have 3
replicas (--replicas), and the controller may be restarted on another
machine. A second controller started with --durable on the same prefix
waits as a standby (it serves nothing) until the first one stops or dies,
then takes over (a lease in a JetStream key-value bucket, lost after
--lease-ttl without renewal, 10 s by default). A controller that loses
its lease (NATS unreachable for that long, another controller took over)
stops at once with exit status 1.

--gomaxprocs N is how many threads run Go code at once in the
controller's process. By default it takes a quarter of the CPUs (at least
one thread): its loop is one goroutine, and fewer threads spare each
message the wake-ups of idle ones (shorter round trips); 0 gives Go's
default (every CPU), as a machine serving thousands of engines may want.
GOMAXPROCS in the environment wins over the default.

The controller runs until SIGINT or SIGTERM; it then stops dispatching,
waits up to --stop-timeout for the running attempts, and asks its engines
to shut down (drover engine processes wait for the next controller).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(cmd); err != nil {
				return err
			}
			stdio := stdio.WithDefaults()
			stdio.applyGomaxprocs(stdio.gomaxprocs(cmd, o.gomaxprocs, ControllerShare))
			return runController(cmd.Context(), stdio, &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", embedded.DefaultListen, "host:port the embedded NATS server listens on (port 0: the previous run's port if free, else a random one)")
	f.StringSliceVar(&o.advertise, "advertise", nil, "URLs written in the connection files (default: the listen address)")
	f.StringVar(&o.nats, "nats", "", "join this NATS server or cluster (comma-separated URLs) instead of embedding one")
	f.StringVar(&o.creds, "creds", "", "with --nats: the controller's credentials file (a .creds file, an nkey seed or a token; mode 0600)")
	f.StringVar(&o.engineCreds, "engine-creds", "", "with --nats: the credentials file written in the engine connection file (default: --creds)")
	f.StringVar(&o.clientCreds, "client-creds", "", "with --nats: the credentials file written in the client connection file (default: --creds)")
	f.StringVar(&o.data, "data", "", "directory of the connection files (default: drover's state directory); given explicitly, without --nats: a durable controller, its journal in DIR/jetstream")
	f.StringVar(&o.prefix, "prefix", fabric.DefaultPrefix, "NATS subject prefix (one controller per prefix)")
	f.StringVar(&o.scheduler, "scheduler", "fifo", "task scheduling order: fifo (oldest task first) or lifo (newest first)")
	f.IntVar(&o.window, "window", DefaultWindow, "task attempts handed to an engine at once (1: exactly IPython's scheduling order)")
	f.DurationVar(&o.failurePenalty, "failure-penalty", controller.DefaultFailurePenalty, "how long an engine is kept out of scheduling after a failed attempt (0: none)")
	f.DurationVar(&o.idleTimeout, "idle-timeout", controller.DefaultIdleTimeout, "how long tasks no engine can take may wait while every engine is idle before they fail (0: forever)")
	f.DurationVar(&o.stopTimeout, "stop-timeout", DefaultStopTimeout, "on SIGINT or SIGTERM, how long to wait for the attempts running on engines")
	f.StringVar(&o.tlsCert, "tls-cert", "", "the embedded server's TLS certificate (PEM); with --nats, a client certificate")
	f.StringVar(&o.tlsKey, "tls-key", "", "the key of --tls-cert (PEM)")
	f.StringVar(&o.tlsCA, "tls-ca", "", "the certificate authorities (PEM) that signed the server's certificate; written into the connection files")
	f.BoolVar(&o.tlsVerifyClients, "tls-verify-clients", false, "require a certificate signed by --tls-ca from every engine and client (mutual TLS)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level on standard error: debug, info, warn or error")
	f.BoolVar(&o.durable, "durable", false, "keep accepted tasks and results in a JetStream journal (default: on when --data is given, without --nats)")
	f.DurationVar(&o.resultsMaxAge, "results-max-age", 0, "durable: drop results older than this (0: no age limit)")
	f.Int64Var(&o.resultsMax, "results-max", 0, "durable: keep at most this many results, dropping the oldest (0: no limit)")
	f.IntVar(&o.replicas, "replicas", 0, "with --nats --durable: the journal's replica count (default: 3 on a cluster, else 1)")
	f.DurationVar(&o.leaseTTL, "lease-ttl", journal.DefaultLeaseTTL, "with --nats --durable: how long the leader's lease lasts unrenewed; a standby takes over about this long after the leader died (at least 1s; longer than the cluster's leader elections)")
	gomaxprocsFlag(cmd, &o.gomaxprocs, "the controller's process (with its embedded NATS server)", "a quarter of the CPUs, at least 1")
	_ = cmd.RegisterFlagCompletionFunc("scheduler", cobra.FixedCompletions([]string{"fifo", "lifo"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagDirname("data")
	return cmd
}

// check validates the flags; its errors are usage errors.
func (o *controllerOptions) check(cmd *cobra.Command) error {
	if err := checkGomaxprocs(o.gomaxprocs); err != nil {
		return err
	}
	switch {
	case o.scheduler != "fifo" && o.scheduler != "lifo":
		return usage("--scheduler %q: want fifo or lifo", o.scheduler)
	case o.window < 1:
		return usage("--window %d: must be at least 1", o.window)
	case o.failurePenalty < 0:
		return usage("--failure-penalty %v: must not be negative", o.failurePenalty)
	case o.idleTimeout < 0:
		return usage("--idle-timeout %v: must not be negative", o.idleTimeout)
	case o.stopTimeout < 0:
		return usage("--stop-timeout %v: must not be negative", o.stopTimeout)
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return usage("--tls-cert and --tls-key go together")
	case o.tlsVerifyClients && o.tlsCA == "":
		return usage("--tls-verify-clients needs --tls-ca")
	}
	if _, err := fabric.NewSubjects(o.prefix); err != nil {
		return usage("--prefix %q: %v", o.prefix, err)
	}
	if err := o.checkDurable(cmd); err != nil {
		return err
	}
	if o.nats == "" {
		for _, name := range []string{"creds", "engine-creds", "client-creds"} {
			if cmd.Flags().Changed(name) {
				return usage("--%s needs --nats (the embedded server makes its own credentials)", name)
			}
		}
		return nil
	}
	for _, name := range []string{"listen", "advertise", "tls-verify-clients"} {
		if cmd.Flags().Changed(name) {
			return usage("--%s is for the embedded server: not with --nats", name)
		}
	}
	if !fabric.IsURL(o.nats) {
		return usage("--nats %q: want NATS URLs (nats://host:port, tls://..., comma-separated)", o.nats)
	}
	return nil
}

// checkDurable resolves o.durable and checks the flags that go with it.
func (o *controllerOptions) checkDurable(cmd *cobra.Command) error {
	changed := cmd.Flags().Changed
	if !changed("durable") {
		o.durable = o.nats == "" && changed("data")
	}
	switch {
	case o.resultsMaxAge < 0:
		return usage("--results-max-age %v: must not be negative", o.resultsMaxAge)
	case o.resultsMax < 0:
		return usage("--results-max %d: must not be negative", o.resultsMax)
	case o.replicas < 0 || o.replicas > 5:
		return usage("--replicas %d: want 1 to 5", o.replicas)
	case o.leaseTTL < time.Second:
		return usage("--lease-ttl %v: want at least 1s", o.leaseTTL)
	}
	if !o.durable {
		for _, name := range []string{"results-max-age", "results-max", "replicas"} {
			if changed(name) {
				return usage("--%s is for a durable controller (--data, or --durable)", name)
			}
		}
	}
	if o.nats == "" && changed("replicas") {
		return usage("--replicas is for --nats (the embedded server keeps 1 copy)")
	}
	if (o.nats == "" || !o.durable) && changed("lease-ttl") {
		return usage("--lease-ttl is for --nats --durable (a standby controller's lease)")
	}
	return nil
}

func (o *controllerOptions) config(log *slog.Logger) *controller.Config {
	orNone := func(d time.Duration) time.Duration {
		if d == 0 {
			return -1
		}
		return d
	}
	policy := scheduler.FIFO
	if o.scheduler == "lifo" {
		policy = scheduler.LIFO
	}
	return &controller.Config{
		Policy:         policy,
		FailurePenalty: orNone(o.failurePenalty),
		IdleTimeout:    orNone(o.idleTimeout),
		Window:         o.window,
		Depend:         script.CompileDepend,
		Logger:         log,
	}
}

// fabricSetup is what the controller runs on: its two connections (one
// for the transport, one for the control API), and what to release.
type fabricSetup struct {
	id        string
	prefix    string
	urls      []string
	files     map[fabric.Role]string
	transport *fabric.Conn
	api       *fabric.Conn
	embedded  bool
	close     func() error
	// journal, when not nil, makes the controller durable: startControl
	// opens the journal with it on journalConn (a connection of its own),
	// and stop closes it. durability says where it is (for drover status;
	// default: the journal's Where).
	journal     *journal.Config
	journalConn *fabric.Conn
	durability  string
	// replicas: with --nats, the lease's replica count.
	replicas int
	// leaseTTL: with --nats --durable, the lease's TTL.
	leaseTTL time.Duration
}

func runController(parent context.Context, stdio IO, o *controllerOptions) error {
	sig := stdio.stopSignals(parent)
	defer sig.stop()
	ctx := sig.ctx
	log, err := newLogger(stdio.Err, o.logLevel)
	if err != nil {
		return err
	}
	if o.data == "" {
		if o.data, err = stdio.stateDir(); err != nil {
			return failure(fmt.Errorf("controller: %w (or give --data)", err))
		}
	}
	if o.data, err = filepath.Abs(o.data); err != nil {
		return failure(fmt.Errorf("controller: --data: %w", err))
	}
	var fs *fabricSetup
	if o.nats == "" {
		fs, err = startEmbedded(ctx, o, log)
	} else {
		fs, err = joinNATS(ctx, o, log)
	}
	if err != nil {
		return failure(err)
	}
	err = serveController(ctx, sig.now, stdio.Out, o, fs, log)
	return errors.Join(err, fs.close())
}

// serveController runs the controller and the control API on fs until ctx
// ends, then stops them: it waits up to o.stopTimeout for the running
// attempts, or until now is closed (a second Ctrl-C). With --nats and a
// journal, it first waits for the lease of the prefix (a standby serves
// nothing), and stops at once when it loses it.
func serveController(ctx context.Context, now <-chan struct{}, out io.Writer, o *controllerOptions, fs *fabricSetup, log *slog.Logger) (err error) {
	lost := context.Background() // never done without a lease
	if fs.journal != nil && !fs.embedded {
		lease, lctx, err := acquireLease(ctx, out, fs, log)
		if err != nil || lease == nil {
			return err // nil: stopped while a standby
		}
		lost = lctx
		defer func() {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if rerr := lease.Release(rctx); rerr != nil && lost.Err() == nil {
				err = errors.Join(err, failure(fmt.Errorf("controller: release the lease: %w", rerr)))
			}
		}()
	}
	cs, err := startControl(fs, o.config(log), log)
	if err != nil {
		return failure(err)
	}
	where := "embedded NATS server"
	if !fs.embedded {
		where = "external NATS"
	}
	fmt.Fprintf(out, "%s %s %s\n", ReadyLine, fs.id, strings.Join(fs.urls, ","))
	fmt.Fprintf(out, "  nats:    %s (%s, prefix %s)\n", strings.Join(fs.urls, ","), where, fs.prefix)
	fmt.Fprintf(out, "  engines: drover engine --connect %s\n", fs.files[fabric.RoleEngine])
	fmt.Fprintf(out, "  clients: drover status --connect %s\n", fs.files[fabric.RoleClient])
	fmt.Fprintf(out, "  results: %s\n", durabilityText(cs.durability))
	log.Info("controller: ready", "id", fs.id, "urls", fs.urls, "prefix", fs.prefix,
		"scheduler", o.scheduler, "window", o.window, "results", durabilityText(cs.durability))

	select {
	case <-ctx.Done():
	case <-lost.Done():
		// Fail stop: another controller may serve the prefix already.
		log.Error("controller: lost the lease of the prefix: stopping at once", "prefix", fs.prefix, "cause", context.Cause(lost))
		closed := make(chan struct{})
		close(closed)
		_ = cs.stopWhen(o.stopTimeout, closed, log)
		fmt.Fprintf(out, "drover controller %s stopped: lost the lease\n", fs.id)
		return failure(fmt.Errorf("controller: lost the lease of prefix %q (NATS unreachable for longer than the lease, or another controller took over): stopped at once; start it again to wait as a standby", fs.prefix))
	}
	log.Info("controller: stopping (Ctrl-C again: stop at once)", "cause", context.Cause(ctx), "stop_timeout", o.stopTimeout)
	err = cs.stopWhen(o.stopTimeout, now, log)
	fmt.Fprintf(out, "drover controller %s stopped\n", fs.id)
	if err != nil {
		return failure(err)
	}
	return nil
}

// StandbyLine starts the line drover controller --nats --durable prints
// on its standard output while another controller holds the lease of its
// prefix: "drover controller standby: <id> waiting for the lease of prefix
// <prefix> (held by <holder>)".
const StandbyLine = "drover controller standby:"

// acquireLease waits for the lease of fs's prefix. It returns a nil lease
// (and no error) when ctx ends first.
func acquireLease(ctx context.Context, out io.Writer, fs *fabricSetup, log *slog.Logger) (*journal.Lease, context.Context, error) {
	host, _ := os.Hostname()
	holder := fs.id + "@" + host
	lease, err := journal.OpenLease(ctx, fs.journalConn.Conn, &journal.LeaseConfig{Prefix: fs.prefix, Holder: holder, Replicas: fs.replicas, TTL: fs.leaseTTL, Logger: log})
	if err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return nil, nil, failure(fmt.Errorf("controller: --durable: the NATS server at %s has no JetStream for the controller's account (enable it there, or drop --durable to keep results in memory): %w",
				strings.Join(fs.urls, ","), err))
		}
		return nil, nil, failure(fmt.Errorf("controller: %w", err))
	}
	if h, err := lease.Holder(ctx); err == nil && h != "" {
		fmt.Fprintf(out, "%s %s waiting for the lease of prefix %s (held by %s)\n", StandbyLine, fs.id, fs.prefix, h)
		log.Info("controller: standby: another controller holds the lease of the prefix; waiting for it", "prefix", fs.prefix, "holder", h)
	}
	lctx, err := lease.Acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			log.Info("controller: stopped while a standby")
			return nil, nil, nil
		}
		return nil, nil, failure(fmt.Errorf("controller: acquire the lease of prefix %q: %w", fs.prefix, err))
	}
	log.Info("controller: holds the lease of the prefix", "prefix", fs.prefix, "holder", holder)
	return lease, lctx, nil
}

// InMemory is what drover controller and drover status say of a
// controller that keeps results in memory.
const InMemory = "in memory: results are lost when the controller stops"

// durabilityText is what drover controller and drover status say about
// where results are kept: where is the journal's place ("" in memory).
func durabilityText(where string) string {
	if where == "" {
		return InMemory
	}
	return "durable: " + where
}

// loggedJournal is a journal that logs what the controller recovers from
// it at start.
type loggedJournal struct {
	*journal.Journal
	log *slog.Logger
}

// RecoveredLine is the message of the log line of a durable controller
// that recovered its state at start.
const RecoveredLine = "controller: recovered from the journal"

func (l loggedJournal) Recover(ctx context.Context) (*controller.Recovered, error) {
	began := time.Now()
	rec, err := l.Journal.Recover(ctx)
	if err == nil {
		l.log.Info(RecoveredLine, "where", l.Where(), "unfinished", len(rec.Tasks), "next_id", rec.NextID,
			"succeeded", rec.Succeeded, "failed", rec.Failed, "took", time.Since(began).Round(time.Microsecond))
	}
	return rec, err
}

// control is a running controller with its transport end and control API.
type control struct {
	ctl *controller.Controller
	api *controlapi.Server
	end *natstransport.ControllerEnd
	// jnl is the controller's journal (nil: in memory); durability says
	// where it is ("" in memory).
	jnl        *journal.Journal
	durability string
}

// startControl starts the controller on fs's transport connection and its
// control API on fs's API connection; with fs.journal, the controller
// keeps its state in a journal on fs.journalConn (it recovers what the
// journal holds before it serves).
func startControl(fs *fabricSetup, cfg *controller.Config, log *slog.Logger) (*control, error) {
	var j *journal.Journal
	durability := ""
	if fs.journal != nil {
		var err error
		if j, err = journal.Open(context.Background(), fs.journalConn.Conn, fs.journal); err != nil {
			if fs.journal.Dir != "" {
				return nil, fmt.Errorf("controller: the journal in %s cannot be used (give another --data, or remove that directory to start afresh; it holds the results): %w", fs.journal.Dir, err)
			}
			return nil, fmt.Errorf("controller: %w", err)
		}
		cfg.Journal = loggedJournal{j, log}
		durability = fs.durability
		if durability == "" {
			durability = j.Where()
		}
	}
	closeJournal := func() {
		if j != nil {
			_ = j.Close(context.Background())
		}
	}
	end, err := natstransport.NewControllerEnd(context.Background(), fs.transport.Conn, &natstransport.Config{Prefix: fs.prefix, Logger: log})
	if err != nil {
		closeJournal()
		return nil, fmt.Errorf("controller: %w", err)
	}
	ctl, err := controller.New(end, cfg)
	if err == nil {
		err = ctl.Start(context.Background())
	}
	if err != nil {
		_ = end.Close()
		closeJournal()
		return nil, fmt.Errorf("controller: %w", err)
	}
	api, err := controlapi.New(fs.api.Conn, ctl, &controlapi.Config{Prefix: fs.prefix, ControllerID: fs.id, Durability: durability, Logger: log})
	if err == nil {
		err = api.Start(context.Background())
	}
	if err != nil {
		_ = ctl.Stop(context.Background())
		_ = end.Close()
		closeJournal()
		return nil, fmt.Errorf("controller: %w", err)
	}
	return &control{ctl: ctl, api: api, end: end, jnl: j, durability: durability}, nil
}

// stop stops the controller (waiting up to timeout for the running
// attempts), the control API and the transport end.
func (c *control) stop(timeout time.Duration, log *slog.Logger) error {
	return c.stopWhen(timeout, nil, log)
}

// stopWhen is stop that also stops waiting for the running attempts when
// now is closed.
func (c *control) stopWhen(timeout time.Duration, now <-chan struct{}, log *slog.Logger) error {
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if now != nil {
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			select {
			case <-now:
				log.Info("controller: stopping at once")
				cancel()
			case <-sctx.Done():
			}
		}()
		defer func() { cancel(); <-watched }()
	}
	var errs []error
	if err := c.ctl.Stop(sctx); err != nil {
		log.Warn("controller: running attempts abandoned", "err", err)
	}
	if err := c.api.Stop(context.Background()); err != nil {
		errs = append(errs, err)
	}
	if err := c.end.Close(); err != nil {
		errs = append(errs, err)
	}
	if c.jnl != nil {
		// The controller flushed what it had; Close writes what is left
		// (at once: abandoned, after a second Ctrl-C or a lost lease).
		jctx, jcancel := context.WithTimeout(context.Background(), journal.DefaultWriteTimeout)
		atOnce := isClosed(now)
		if atOnce {
			jcancel()
		}
		if err := c.jnl.Close(jctx); err != nil {
			if atOnce && errors.Is(err, context.Canceled) {
				log.Warn("controller: journal writes abandoned (stopped at once): the tasks whose results were not written run again after a restart", "err", err)
			} else {
				errs = append(errs, err)
			}
		}
		jcancel()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("controller: stop: %w", err)
	}
	return nil
}

// isClosed says whether ch (nil: never) is closed.
func isClosed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// startEmbedded starts the embedded NATS server and the controller's
// connections to it.
func startEmbedded(ctx context.Context, o *controllerOptions, log *slog.Logger) (*fabricSetup, error) {
	cfg := &embedded.Config{Listen: o.listen, Advertise: o.advertise, DataDir: o.data, Prefix: o.prefix, Logger: log}
	if o.durable {
		// The server's own failure on a bad store directory is a fatal
		// log line that does not name it: check it first.
		cfg.JetStream, cfg.StoreDir = true, filepath.Join(o.data, "jetstream")
		if err := journal.CheckDir(cfg.StoreDir); err != nil {
			return nil, fmt.Errorf("controller: --data %s: %w", o.data, err)
		}
	}
	if o.tlsCert != "" {
		cfg.TLS = &embedded.TLSConfig{Cert: o.tlsCert, Key: o.tlsKey, CA: o.tlsCA, VerifyClients: o.tlsVerifyClients}
	}
	srv, err := embedded.Start(ctx, cfg)
	if errors.Is(err, embedded.ErrDataDirInUse) {
		return nil, fmt.Errorf("controller: data directory %s is in use by another drover controller (it holds %s): stop that controller, or give this one another --data",
			o.data, filepath.Join(o.data, embedded.LockFileName))
	}
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	conn, err := srv.ConnectController(ctx, &fabric.ConnectOptions{Name: "drover-controller-" + srv.ID() + "-transport", Logger: log})
	if err != nil {
		_ = srv.Shutdown(context.Background())
		return nil, fmt.Errorf("controller: %w", err)
	}
	files := map[fabric.Role]string{}
	for _, r := range []fabric.Role{fabric.RoleController, fabric.RoleEngine, fabric.RoleClient} {
		files[r] = srv.File(r)
	}
	fs := &fabricSetup{
		id: srv.ID(), prefix: srv.Prefix(), urls: srv.URLs(), files: files,
		transport: conn, api: srv.Conn(), embedded: true,
	}
	if o.durable {
		jc, err := srv.ConnectController(ctx, &fabric.ConnectOptions{Name: "drover-controller-" + srv.ID() + "-journal", Logger: log})
		if err != nil {
			conn.Close()
			_ = srv.Shutdown(context.Background())
			return nil, fmt.Errorf("controller: %w", err)
		}
		fs.journalConn = jc
		fs.journal = &journal.Config{Prefix: srv.Prefix(), Dir: cfg.StoreDir, MaxAge: o.resultsMaxAge, MaxResults: o.resultsMax, Logger: log}
	}
	fs.close = func() error {
		if fs.journalConn != nil {
			fs.journalConn.Close()
		}
		conn.Close()
		return srv.Shutdown(context.Background())
	}
	return fs, nil
}

// joinNATS connects the controller to an external NATS server with the
// operator's credentials and writes the engine and client connection
// files.
func joinNATS(ctx context.Context, o *controllerOptions, log *slog.Logger) (fs *fabricSetup, err error) {
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return nil, fmt.Errorf("controller: data directory: %w", err)
	}
	unlock, err := embedded.LockDataDir(o.data)
	if err != nil {
		if errors.Is(err, embedded.ErrDataDirInUse) {
			return nil, fmt.Errorf("controller: data directory %s is in use by another drover controller: stop that controller, or give this one another --data", o.data)
		}
		return nil, fmt.Errorf("controller: %w", err)
	}
	var closers []func()
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
			_ = unlock()
		}
	}()
	id := fabric.NewID()
	var tlsFiles *fabric.TLSFiles
	if o.tlsCA != "" || o.tlsCert != "" {
		tlsFiles = &fabric.TLSFiles{}
		if o.tlsCA != "" {
			if tlsFiles.CA, err = filepath.Abs(o.tlsCA); err != nil {
				return nil, fmt.Errorf("controller: --tls-ca: %w", err)
			}
		}
		tlsFiles.Cert, tlsFiles.Key = o.tlsCert, o.tlsKey
	}
	connect := func(what string) (*fabric.Conn, error) {
		c, err := fabric.Connect(ctx, o.nats, fabric.RoleController, &fabric.ConnectOptions{
			Name: "drover-controller-" + id + "-" + what, Prefix: o.prefix, CredentialsFile: o.creds, TLS: tlsFiles, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("controller: %w", err)
		}
		closers = append(closers, c.Close)
		return c, nil
	}
	api, err := connect("api")
	if err != nil {
		return nil, err
	}
	// One controller per prefix: is another one answering?
	probe, err := controlapi.NewClient(api.Conn, &controlapi.ClientConfig{Prefix: o.prefix, RequestTimeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	if info, err := probe.Info(ctx); err == nil && !(o.durable && info.Durable) {
		return nil, fmt.Errorf("controller: another drover controller (%s) already serves prefix %q on %s: stop it, or give this one another --prefix",
			info.ControllerID, o.prefix, o.nats)
	}
	tr, err := connect("transport")
	if err != nil {
		return nil, err
	}
	var jc *fabric.Conn
	var jcfg *journal.Config
	replicas := o.replicas
	durability := ""
	if o.durable {
		if jc, err = connect("journal"); err != nil {
			return nil, err
		}
		if replicas == 0 {
			replicas = 1
			if jc.Conn.ConnectedClusterName() != "" {
				replicas = 3
			}
		}
		jcfg = &journal.Config{Prefix: o.prefix, Replicas: replicas, MaxAge: o.resultsMaxAge, MaxResults: o.resultsMax, Logger: log}
		durability = fmt.Sprintf("journal in the JetStream of %s (prefix %s, %d %s)", strings.Join(api.File.URLs, ","), o.prefix, replicas,
			map[bool]string{true: "replica", false: "replicas"}[replicas == 1])
	}
	files := map[fabric.Role]string{}
	for _, r := range []struct {
		role  fabric.Role
		creds string
	}{{fabric.RoleEngine, o.engineCreds}, {fabric.RoleClient, o.clientCreds}} {
		creds := r.creds
		if creds == "" {
			creds = o.creds
			if creds != "" {
				log.Warn("controller: the "+string(r.role)+" connection file holds the controller's credentials (--creds): give "+string(r.role)+"s their own with --"+string(r.role)+"-creds",
					"file", fabric.FileName(r.role))
			}
		}
		cf := &fabric.ConnFile{Version: fabric.FileVersion, Role: r.role, ControllerID: id, URLs: api.File.URLs,
			Prefix: o.prefix, TLS: tlsFiles, Written: time.Now().UTC().Truncate(time.Second)}
		if tlsFiles != nil && tlsFiles.Cert != "" {
			// The controller's client certificate is its own.
			t := *tlsFiles
			t.Cert, t.Key = "", ""
			cf.TLS = &t
		}
		if creds != "" {
			if err := fabric.ReadCredentials(creds, cf); err != nil {
				return nil, fmt.Errorf("controller: --%s-creds: %w", r.role, err)
			}
			if err := cf.Validate(); err != nil {
				return nil, fmt.Errorf("controller: --%s-creds: %w", r.role, err)
			}
		}
		path := filepath.Join(o.data, fabric.FileName(r.role))
		if err := fabric.WriteFile(path, cf); err != nil {
			return nil, fmt.Errorf("controller: %w", err)
		}
		files[r.role] = path
	}
	return &fabricSetup{
		id: id, prefix: o.prefix, urls: api.File.URLs, files: files, transport: tr, api: api,
		journal: jcfg, journalConn: jc, durability: durability, replicas: replicas, leaseTTL: o.leaseTTL,
		close: func() error {
			if jc != nil {
				jc.Close()
			}
			tr.Close()
			api.Close()
			return unlock()
		},
	}, nil
}
