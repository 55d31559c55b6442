// Package embedded runs drover's NATS fabric in the controller's process:
// an embedded nats-server with authentication on by default (even on
// loopback), drover's auth callout run by the controller, optional TLS and
// JetStream, and the connection files engines and clients read.
//
// It is apart from package fabric so that programs that only connect
// (engines, clients, drover.Dial) do not link nats-server.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/drover-dev/drover/fabric"
)

// Defaults of Config's fields.
const (
	// DefaultListen is where the server listens: loopback only, on a
	// random port (or the port of the previous run on the same data
	// directory, when it is free).
	DefaultListen = "127.0.0.1:0"
	// DefaultMaxPayload is the largest NATS message (the nats-server
	// default is 1 MiB; task data can be larger).
	DefaultMaxPayload = 8 << 20
	// LockFileName is the file in the data directory that one controller at
	// a time holds locked.
	LockFileName = "drover-controller.lock"
)

// ErrDataDirInUse: another controller holds the data directory.
var ErrDataDirInUse = errors.New("data directory in use")

// Config configures the embedded server. The zero value of each field
// means its documented default.
type Config struct {
	// Listen is the host:port the server listens on for engines and
	// clients. Defaults to DefaultListen (127.0.0.1, random port). Port 0
	// picks a port: the one of the previous run on DataDir if it is free
	// (so engines reconnect to a restarted controller), else a random one.
	Listen string
	// Advertise are the URLs written in the connection files. Defaults to
	// the listen address (tls:// with TLS; the host name when listening on
	// every interface).
	Advertise []string
	// DataDir holds the connection files (drover-controller.json,
	// drover-engine.json, drover-client.json, mode 0600), the lock file
	// and, by default, the JetStream store. It is created with mode 0700.
	// Defaults to fabric.DefaultDir(). The keys and secrets in an existing
	// drover-controller.json are reused, so files handed out before a
	// restart stay valid; delete it to renew them.
	DataDir string
	// Prefix is the subject prefix. Defaults to fabric.DefaultPrefix.
	Prefix string
	// TLS, when set, makes the server require TLS from engines and clients.
	TLS *TLSConfig
	// JetStream enables JetStream (file storage in StoreDir) for the
	// controller's account.
	JetStream bool
	// StoreDir is JetStream's storage directory. Defaults to
	// DataDir/jetstream.
	StoreDir string
	// MaxPayload is the largest message in bytes. Defaults to
	// DefaultMaxPayload.
	MaxPayload int32
	// ServerName names the server. Defaults to "drover-<controller id>".
	ServerName string
	// Logger receives the server's log (notices at Info, debug lines when
	// the logger enables Debug) and the auth callout's lines. Defaults to
	// discarding.
	Logger *slog.Logger
}

// TLSConfig is the server's TLS: its certificate and key, and the
// authority that signed it (written inline into the connection files so
// that engines and clients trust the server) and, with VerifyClients, the
// clients' certificates.
type TLSConfig struct {
	Cert string
	Key  string
	// CA is the PEM file of the certificate authorities. Optional when the
	// server's certificate is signed by an authority the clients' systems
	// trust.
	CA string
	// VerifyClients requires a certificate signed by CA from every engine
	// and client (mutual TLS), on top of their secrets.
	VerifyClients bool
}

// Server is a running embedded NATS server with drover's auth callout. It
// is safe for concurrent use.
type Server struct {
	ns      *server.Server
	log     *slog.Logger
	lock    *os.File
	id      string
	prefix  string
	urls    []string
	files   map[fabric.Role]string
	ctlFile *fabric.ConnFile
	conn    *fabric.Conn
	callout *fabric.Callout

	mu      sync.Mutex
	stopped bool
}

// Start starts the server and the auth callout, writes the connection
// files, and returns once the server accepts connections. If ctx ends
// first, it stops what it started and returns ctx's error.
func Start(ctx context.Context, cfg *Config) (*Server, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	host, portStr, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return nil, fmt.Errorf("start nats server: Config.Listen %q: %w", c.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if portStr == "" {
		port, err = 0, nil
	}
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("start nats server: Config.Listen %q: bad port", c.Listen)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	subj, err := fabric.NewSubjects(c.Prefix)
	if err != nil {
		return nil, fmt.Errorf("start nats server: Config.Prefix: %w", err)
	}
	c.Prefix = subj.Prefix()
	if c.MaxPayload < 0 {
		return nil, fmt.Errorf("start nats server: Config.MaxPayload is %d, want >= 0", c.MaxPayload)
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.TLS != nil && (c.TLS.Cert == "" || c.TLS.Key == "") {
		return nil, fmt.Errorf("start nats server: Config.TLS needs Cert and Key")
	}
	if c.TLS != nil && c.TLS.VerifyClients && c.TLS.CA == "" {
		return nil, fmt.Errorf("start nats server: Config.TLS.VerifyClients needs CA")
	}
	if c.DataDir == "" {
		if c.DataDir, err = fabric.DefaultDir(); err != nil {
			return nil, fmt.Errorf("start nats server: %w", err)
		}
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("start nats server: data directory: %w", err)
	}
	s := &Server{log: c.Logger, prefix: c.Prefix, files: map[fabric.Role]string{}}
	for _, r := range []fabric.Role{fabric.RoleController, fabric.RoleEngine, fabric.RoleClient} {
		s.files[r] = filepath.Join(c.DataDir, fabric.FileName(r))
	}
	if s.lock, err = lockFile(filepath.Join(c.DataDir, LockFileName)); err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			s.stop()
		}
	}()

	// Keys: those of the previous run on this directory, or new ones.
	keys, seed, err := s.loadKeys()
	if err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	ctlPub, err := fabric.UserPublicKey(seed)
	if err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	authConf, err := fabric.ServerAuthConfig(keys, ctlPub, c.JetStream)
	if err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	opts := &server.Options{}
	if err := opts.ProcessConfigString(authConf); err != nil {
		return nil, fmt.Errorf("start nats server: auth configuration: %w", err)
	}
	if port == 0 {
		port = -1 // nats-server: random
		if keys.Port > 0 && portFree(host, keys.Port) {
			port = keys.Port
		}
	}
	opts.ServerName = c.ServerName
	if opts.ServerName == "" {
		opts.ServerName = "drover-" + s.id
	}
	opts.Host, opts.Port = host, port
	opts.NoSigs = true
	opts.MaxPayload = c.MaxPayload
	opts.AlwaysEnableNonce = true // the auth callout verifies each connection's nkey against it
	opts.HTTPPort = 0
	if c.JetStream {
		opts.JetStream = true
		opts.StoreDir = c.StoreDir
		if opts.StoreDir == "" {
			opts.StoreDir = filepath.Join(c.DataDir, "jetstream")
		}
	}
	var tlsFiles *fabric.TLSFiles
	if c.TLS != nil {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
			CertFile: c.TLS.Cert, KeyFile: c.TLS.Key, CaFile: c.TLS.CA, Verify: c.TLS.VerifyClients, Timeout: 2,
		})
		if err != nil {
			return nil, fmt.Errorf("start nats server: Config.TLS: %w", err)
		}
		opts.TLS, opts.TLSConfig, opts.TLSVerify, opts.TLSTimeout = true, tc, c.TLS.VerifyClients, 2
		tlsFiles = &fabric.TLSFiles{}
		if c.TLS.CA != "" {
			pem, err := os.ReadFile(c.TLS.CA)
			if err != nil {
				return nil, fmt.Errorf("start nats server: Config.TLS.CA: %w", err)
			}
			tlsFiles.CAPEM = string(pem)
		}
	}
	opts.Debug = c.Logger.Enabled(ctx, slog.LevelDebug)
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	logs := &logAdapter{l: c.Logger, fatal: make(chan string, 1)}
	ns.SetLoggerV2(logs, opts.Debug, false, false)
	s.ns = ns
	ns.Start()
	for !ns.ReadyForConnections(50 * time.Millisecond) {
		select {
		case msg := <-logs.fatal:
			return nil, fmt.Errorf("start nats server on %s: %s", c.Listen, msg)
		default:
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("start nats server: %w", err)
		}
		if !ns.Running() {
			return nil, fmt.Errorf("start nats server: the server stopped while starting")
		}
	}
	addr, ok2 := ns.Addr().(*net.TCPAddr)
	if !ok2 {
		return nil, fmt.Errorf("start nats server: no listening address")
	}
	keys.Port = addr.Port
	s.urls = c.Advertise
	if len(s.urls) == 0 {
		scheme := "nats"
		if c.TLS != nil {
			scheme = "tls"
		}
		h := host
		if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
			if h, err = os.Hostname(); err != nil {
				h = "localhost"
			}
		}
		s.urls = []string{scheme + "://" + net.JoinHostPort(h, strconv.Itoa(addr.Port))}
	}

	// The controller's own connection, in-process; the callout runs on it.
	s.ctlFile = &fabric.ConnFile{
		Version: fabric.FileVersion, Role: fabric.RoleController, ControllerID: s.id,
		URLs: s.urls, Prefix: c.Prefix, NkeySeed: seed, Controller: keys, TLS: tlsFiles,
		Written: time.Now().UTC().Truncate(time.Second),
	}
	s.conn, err = s.ConnectController(ctx, &fabric.ConnectOptions{Name: "drover-controller-" + s.id + "-callout", Logger: c.Logger})
	if err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	s.callout, err = fabric.StartCallout(s.conn.Conn, &fabric.CalloutConfig{Keys: keys, Prefix: c.Prefix, Logger: c.Logger})
	if err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}

	// The connection files, last: engines and clients find the server
	// through them, and the callout is ready.
	for _, f := range []*fabric.ConnFile{
		s.ctlFile,
		{Version: fabric.FileVersion, Role: fabric.RoleEngine, ControllerID: s.id, URLs: s.urls, Prefix: c.Prefix,
			Secret: keys.EngineSecret, TLS: tlsFiles, Written: s.ctlFile.Written},
		{Version: fabric.FileVersion, Role: fabric.RoleClient, ControllerID: s.id, URLs: s.urls, Prefix: c.Prefix,
			Secret: keys.ClientSecret, TLS: tlsFiles, Written: s.ctlFile.Written},
	} {
		if err := fabric.WriteFile(s.files[f.Role], f); err != nil {
			return nil, fmt.Errorf("start nats server: %w", err)
		}
	}
	ok = true
	if ip := net.ParseIP(host); c.TLS == nil && (ip == nil || !ip.IsLoopback()) {
		c.Logger.Warn("drover: nats server listening beyond loopback without TLS: secrets and task data cross the network in clear",
			"listen", c.Listen)
	}
	c.Logger.Info("drover: nats server ready", "urls", s.urls, "data", c.DataDir, "prefix", c.Prefix,
		"tls", c.TLS != nil, "jetstream", c.JetStream)
	return s, nil
}

// loadKeys returns the keys and controller seed of the previous run on the
// data directory, or new ones; it sets s.id.
func (s *Server) loadKeys() (*fabric.ControllerKeys, string, error) {
	path := s.files[fabric.RoleController]
	f, err := fabric.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, "", fmt.Errorf("%w (delete it to start with new keys and secrets)", err)
	case f.Controller != nil && f.NkeySeed != "":
		s.id = f.ControllerID
		if s.id == "" {
			s.id = fabric.NewID()
		}
		k := *f.Controller
		return &k, f.NkeySeed, nil
	}
	keys, err := fabric.NewControllerKeys()
	if err != nil {
		return nil, "", err
	}
	seed, _, err := fabric.NewUserSeed()
	if err != nil {
		return nil, "", err
	}
	s.id = fabric.NewID()
	return keys, seed, nil
}

// portFree reports whether host:port can be listened on now.
func portFree(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// ID returns the controller id written in the connection files.
func (s *Server) ID() string { return s.id }

// Prefix returns the subject prefix.
func (s *Server) Prefix() string { return s.prefix }

// URLs returns the URLs written in the connection files.
func (s *Server) URLs() []string { return append([]string(nil), s.urls...) }

// File returns the path of role's connection file.
func (s *Server) File(role fabric.Role) string { return s.files[role] }

// NATS returns the nats-server.
func (s *Server) NATS() *server.Server { return s.ns }

// Callout returns the auth callout service.
func (s *Server) Callout() *fabric.Callout { return s.callout }

// Conn returns the server's own controller connection (in-process; the
// auth callout runs on it). It belongs to the Server, which closes it in
// Shutdown; the controller may use it (for the control API, say) but must
// not close it.
func (s *Server) Conn() *fabric.Conn { return s.conn }

// ConnectController opens another in-process connection as the controller
// (full permissions); the caller closes it. opts.InProcess is set by
// ConnectController.
func (s *Server) ConnectController(ctx context.Context, opts *fabric.ConnectOptions) (*fabric.Conn, error) {
	var o fabric.ConnectOptions
	if opts != nil {
		o = *opts
	}
	o.InProcess = s.ns
	if o.Logger == nil {
		o.Logger = s.log
	}
	return fabric.ConnectFile(ctx, s.ctlFile, fabric.RoleController, &o)
}

// Shutdown stops the auth callout, closes the server's own connection and
// shuts the NATS server down (every client is disconnected; engines and
// clients keep trying to reconnect), then releases the data directory.
// The connection files are kept: a controller restarted on the same
// directory reuses their keys and port. The NATS server's shutdown is not
// interruptible (it is quick); ctx is for symmetry with other Stop
// methods. Shutting down twice is safe.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	return s.stop()
}

// stop releases everything Start acquired.
func (s *Server) stop() error {
	var errs []error
	if s.callout != nil {
		errs = append(errs, s.callout.Stop())
	}
	if s.conn != nil {
		s.conn.Close()
	}
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	}
	errs = append(errs, unlockFile(s.lock))
	return errors.Join(errs...)
}

// logAdapter sends nats-server's log to slog. A fatal line (the server
// cannot listen, ...) is also handed to Start through fatal: nats-server
// expects its logger to exit the process, which an embedded server must
// not do.
type logAdapter struct {
	l     *slog.Logger
	fatal chan string
}

func (a *logAdapter) Noticef(format string, v ...any) { a.l.Info("nats: " + fmt.Sprintf(format, v...)) }
func (a *logAdapter) Warnf(format string, v ...any)   { a.l.Warn("nats: " + fmt.Sprintf(format, v...)) }
func (a *logAdapter) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	a.l.Error("nats: " + msg)
	select {
	case a.fatal <- msg:
	default:
	}
}
func (a *logAdapter) Errorf(format string, v ...any) { a.l.Error("nats: " + fmt.Sprintf(format, v...)) }
func (a *logAdapter) Debugf(format string, v ...any) { a.l.Debug("nats: " + fmt.Sprintf(format, v...)) }
func (a *logAdapter) Tracef(format string, v ...any) { a.l.Debug("nats: " + fmt.Sprintf(format, v...)) }
