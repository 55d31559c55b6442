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

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/controlapi"
	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/fabric/embedded"
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

Results are kept in memory: they are lost when the controller stops.

The controller runs until SIGINT or SIGTERM; it then stops dispatching,
waits up to --stop-timeout for the running attempts, and asks its engines
to shut down (drover engine processes wait for the next controller).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(cmd); err != nil {
				return err
			}
			return runController(cmd.Context(), stdio.WithDefaults(), &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", embedded.DefaultListen, "host:port the embedded NATS server listens on (port 0: the previous run's port if free, else a random one)")
	f.StringSliceVar(&o.advertise, "advertise", nil, "URLs written in the connection files (default: the listen address)")
	f.StringVar(&o.nats, "nats", "", "join this NATS server or cluster (comma-separated URLs) instead of embedding one")
	f.StringVar(&o.creds, "creds", "", "with --nats: the controller's credentials file (a .creds file, an nkey seed or a token; mode 0600)")
	f.StringVar(&o.engineCreds, "engine-creds", "", "with --nats: the credentials file written in the engine connection file (default: --creds)")
	f.StringVar(&o.clientCreds, "client-creds", "", "with --nats: the credentials file written in the client connection file (default: --creds)")
	f.StringVar(&o.data, "data", "", "directory of the connection files (default: drover's state directory)")
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
	_ = cmd.RegisterFlagCompletionFunc("scheduler", cobra.FixedCompletions([]string{"fifo", "lifo"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagDirname("data")
	return cmd
}

// check validates the flags; its errors are usage errors.
func (o *controllerOptions) check(cmd *cobra.Command) error {
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
// attempts, or until now is closed (a second Ctrl-C).
func serveController(ctx context.Context, now <-chan struct{}, out io.Writer, o *controllerOptions, fs *fabricSetup, log *slog.Logger) error {
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
	fmt.Fprintf(out, "  results: %s\n", Durability)
	log.Info("controller: ready", "id", fs.id, "urls", fs.urls, "prefix", fs.prefix,
		"scheduler", o.scheduler, "window", o.window)

	<-ctx.Done()
	log.Info("controller: stopping (Ctrl-C again: stop at once)", "cause", context.Cause(ctx), "stop_timeout", o.stopTimeout)
	err = cs.stopWhen(o.stopTimeout, now, log)
	fmt.Fprintf(out, "drover controller %s stopped\n", fs.id)
	if err != nil {
		return failure(err)
	}
	return nil
}

// control is a running controller with its transport end and control API.
type control struct {
	ctl *controller.Controller
	api *controlapi.Server
	end *natstransport.ControllerEnd
}

// startControl starts the controller on fs's transport connection and its
// control API on fs's API connection.
func startControl(fs *fabricSetup, cfg *controller.Config, log *slog.Logger) (*control, error) {
	end, err := natstransport.NewControllerEnd(context.Background(), fs.transport.Conn, &natstransport.Config{Prefix: fs.prefix, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	ctl, err := controller.New(end, cfg)
	if err == nil {
		err = ctl.Start(context.Background())
	}
	if err != nil {
		_ = end.Close()
		return nil, fmt.Errorf("controller: %w", err)
	}
	api, err := controlapi.New(fs.api.Conn, ctl, &controlapi.Config{Prefix: fs.prefix, ControllerID: fs.id, Logger: log})
	if err == nil {
		err = api.Start(context.Background())
	}
	if err != nil {
		_ = ctl.Stop(context.Background())
		_ = end.Close()
		return nil, fmt.Errorf("controller: %w", err)
	}
	return &control{ctl: ctl, api: api, end: end}, nil
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
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("controller: stop: %w", err)
	}
	return nil
}

// startEmbedded starts the embedded NATS server and the controller's
// connections to it.
func startEmbedded(ctx context.Context, o *controllerOptions, log *slog.Logger) (*fabricSetup, error) {
	cfg := &embedded.Config{Listen: o.listen, Advertise: o.advertise, DataDir: o.data, Prefix: o.prefix, Logger: log}
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
	return &fabricSetup{
		id: srv.ID(), prefix: srv.Prefix(), urls: srv.URLs(), files: files,
		transport: conn, api: srv.Conn(), embedded: true,
		close: func() error {
			conn.Close()
			return srv.Shutdown(context.Background())
		},
	}, nil
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
	if info, err := probe.Info(ctx); err == nil {
		return nil, fmt.Errorf("controller: another drover controller (%s) already serves prefix %q on %s: stop it, or give this one another --prefix",
			info.ControllerID, o.prefix, o.nats)
	}
	tr, err := connect("transport")
	if err != nil {
		return nil, err
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
		close: func() error {
			tr.Close()
			api.Close()
			return unlock()
		},
	}, nil
}
