package fabric

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Defaults of ConnectOptions.
const (
	// DefaultDialTimeout bounds one attempt to connect to one server.
	DefaultDialTimeout = 5 * time.Second
	// DefaultMaxReconnectDelay is the longest wait between two reconnection
	// attempts (the wait doubles from 50ms up to it, with jitter).
	DefaultMaxReconnectDelay = 2 * time.Second
)

// ConnectOptions tunes Connect. The zero value (or nil) is valid.
type ConnectOptions struct {
	// Name is the connection's name, shown by the server. Defaults to
	// "drover-<role>-<host>-<pid>".
	Name string
	// Prefix is the subject prefix when the target is a URL (a connection
	// file says its own). Defaults to DefaultPrefix.
	Prefix string
	// CredentialsFile, when the target is a URL, is the file of the
	// credentials: a NATS .creds file (user JWT and seed), a file holding
	// a user nkey seed (SU...), or a file holding a NATS token (one word).
	// It must be private to its owner (mode 0600), as a connection file.
	// (A drover secret needs a connection file: it goes with a fresh nkey.)
	CredentialsFile string
	// TLS configures TLS. When the target is a URL, it is the TLS
	// configuration; with a connection file, the fields it sets override
	// the file's (see OverrideTLS): a client certificate of this machine
	// for a server that verifies clients, or a CA of its own.
	TLS *TLSFiles
	// InProcess, when set, connects to this server in-process (no socket;
	// the embedded server's controller connections). Such a connection
	// does not use TLS (nats-server allows plain in-process connections
	// to a TLS server: there is no network to protect).
	InProcess nats.InProcessConnProvider
	// DialTimeout bounds each attempt to connect to a server (and the whole
	// of Connect is bounded by ctx as well). Defaults to DefaultDialTimeout.
	DialTimeout time.Duration
	// MaxReconnectDelay is the longest wait between reconnection attempts.
	// Defaults to DefaultMaxReconnectDelay.
	MaxReconnectDelay time.Duration
	// Logger receives the connection's events (disconnected, reconnected,
	// asynchronous errors such as permission violations). Defaults to
	// discarding.
	Logger *slog.Logger
	// Options are applied after Connect's own (they win).
	Options []nats.Option
}

// Conn is a connection to the fabric: a *nats.Conn (embedded, so every
// nats.Conn method is available) with its role, its key and its subjects.
// Close it with Close (nats.Conn's). Safe for concurrent use.
type Conn struct {
	*nats.Conn
	// Role is the connection's role.
	Role Role
	// Key is the connection's identity in subjects: an engine subscribes to
	// Subjects.EngineIn(Key) and publishes to Subjects.EngineOut(Key); the
	// connection's reply inboxes are under InboxPrefix(Key). With a drover
	// secret it is the public part of a fresh nkey that the connection
	// proves it holds, so the auth callout can confine the connection to
	// its own subjects; with an nkey seed, that key's public part;
	// otherwise a random id (not enforced by the server).
	Key string
	// Subjects are the subjects under the connection's prefix.
	Subjects Subjects
	// ControllerID is the id of the controller that wrote the connection
	// file ("" for a URL target).
	ControllerID string
	// File is the connection file (for a URL target, the one built from
	// the URLs and the options). Read-only.
	File *ConnFile
}

// IsURL reports whether target names NATS servers (one or more
// comma-separated URLs with a scheme) rather than a connection file.
func IsURL(target string) bool { return strings.Contains(target, "://") }

// Connect connects to the fabric as role. target is a connection file's
// path, one or more comma-separated NATS URLs, or "" for role's file in
// DefaultDir (the controller started by this user).
//
// With a file, the credentials come from the file (never from a command
// line), and Connect refuses a file that is not role's (ErrWrongRole),
// whose mode lets other users read it (ErrInsecureFile), or of another
// version (ErrFileVersion). With URLs, the credentials come from
// opts.CredentialsFile (or there are none).
//
// The connection reconnects for ever, waiting 50ms and doubling up to
// opts.MaxReconnectDelay between attempts (with jitter); its reply inboxes
// are _INBOX.<Key> (nats.CustomInboxPrefix). Connect honours ctx while it
// dials; the handshake that follows (TLS, authentication) is bounded by
// opts.DialTimeout.
func Connect(ctx context.Context, target string, role Role, opts *ConnectOptions) (*Conn, error) {
	if !role.valid() {
		return nil, fmt.Errorf("connect: role %q, want controller, engine or client", role)
	}
	var o ConnectOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.MaxReconnectDelay <= 0 {
		o.MaxReconnectDelay = DefaultMaxReconnectDelay
	}
	f, err := resolveTarget(target, role, &o)
	if err != nil {
		return nil, fmt.Errorf("connect as %s: %w", role, err)
	}
	return connect(ctx, f, role, &o)
}

// ConnectFile connects as role with the connection file f (which need not
// be on disk: the embedded server connects its controller this way). f's
// role must be role.
func ConnectFile(ctx context.Context, f *ConnFile, role Role, opts *ConnectOptions) (*Conn, error) {
	if f == nil {
		return nil, fmt.Errorf("connect as %s: nil connection file", role)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("connect as %s: %w", role, err)
	}
	if f.Role != role {
		return nil, fmt.Errorf("connect as %s: %w: the file is for %s", role, ErrWrongRole, f.Role)
	}
	var o ConnectOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.MaxReconnectDelay <= 0 {
		o.MaxReconnectDelay = DefaultMaxReconnectDelay
	}
	return connect(ctx, f, role, &o)
}

func connect(ctx context.Context, f *ConnFile, role Role, o *ConnectOptions) (*Conn, error) {
	subj, err := NewSubjects(f.Prefix)
	if err != nil {
		return nil, fmt.Errorf("connect as %s: %w", role, err)
	}
	c := &Conn{Role: role, Subjects: subj, ControllerID: f.ControllerID, File: f}
	nopts, err := c.options(f, o)
	if err != nil {
		return nil, fmt.Errorf("connect as %s: %w", role, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connect as %s: %w", role, err)
	}
	// The first dial honours ctx; reconnections dial with the timeout
	// alone.
	dialer := &ctxDialer{d: net.Dialer{Timeout: o.DialTimeout}}
	dialer.ctx.Store(&ctx)
	defer func() { bg := context.Background(); dialer.ctx.Store(&bg) }()
	nopts = append(nopts, nats.Timeout(o.DialTimeout))
	if o.InProcess == nil {
		nopts = append(nopts, nats.SetCustomDialer(dialer))
	}
	nopts = append(nopts, o.Options...)
	urls := f.URLs
	if o.InProcess != nil {
		// No TLS in-process: a tls:// scheme would ask for it.
		urls = make([]string, len(f.URLs))
		for i, u := range f.URLs {
			if rest, ok := strings.CutPrefix(u, "tls://"); ok {
				u = "nats://" + rest
			}
			urls[i] = u
		}
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nopts...)
	if err != nil {
		where := strings.Join(f.URLs, ",")
		if f.path != "" {
			where += " (from " + f.path + ")"
		}
		if errors.Is(err, nats.ErrAuthorization) || strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			return nil, fmt.Errorf("connect as %s to %s: %w (wrong or missing credentials: use the controller's %s)",
				role, where, err, FileName(role))
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect as %s to %s: %w (%w)", role, where, ctx.Err(), err)
		}
		return nil, fmt.Errorf("connect as %s to %s: %w", role, where, err)
	}
	c.Conn = nc
	return c, nil
}

// resolveTarget returns the connection file target designates.
func resolveTarget(target string, role Role, o *ConnectOptions) (*ConnFile, error) {
	if IsURL(target) {
		f := &ConnFile{Version: FileVersion, Role: role, Prefix: o.Prefix, TLS: o.TLS}
		for _, u := range strings.Split(target, ",") {
			if u = strings.TrimSpace(u); u != "" {
				f.URLs = append(f.URLs, u)
			}
		}
		if o.CredentialsFile != "" {
			if err := ReadCredentials(o.CredentialsFile, f); err != nil {
				return nil, err
			}
		}
		if err := f.Validate(); err != nil {
			return nil, err
		}
		return f, nil
	}
	if target == "" {
		p, err := DefaultFile(role)
		if err != nil {
			return nil, err
		}
		target = p
	}
	f, err := ReadFile(target)
	if err != nil {
		return nil, err
	}
	if f.Role != role {
		return nil, fmt.Errorf("%w: %s is the %s connection file, not the %s one (%s)", ErrWrongRole, target, f.Role, role, FileName(role))
	}
	if o.TLS != nil {
		g := *f
		g.TLS = OverrideTLS(f.TLS, o.TLS)
		if err := g.Validate(); err != nil {
			return nil, fmt.Errorf("%s with the TLS options: %w", target, err)
		}
		f = &g
	}
	return f, nil
}

// OverrideTLS returns base (a connection file's TLS settings, nil for
// none) with the fields over sets in its place: CA or CAPEM (either
// replaces both of base's), Cert and Key (together), ServerName. Relative
// paths of over are made absolute (against the working directory, not the
// file's). A nil over returns base.
func OverrideTLS(base, over *TLSFiles) *TLSFiles {
	if over == nil {
		return base
	}
	var t TLSFiles
	if base != nil {
		t = *base
	}
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil && p != "" {
			return a
		}
		return p
	}
	if over.CA != "" || over.CAPEM != "" {
		t.CA, t.CAPEM = abs(over.CA), over.CAPEM
	}
	if over.Cert != "" || over.Key != "" {
		t.Cert, t.Key = abs(over.Cert), abs(over.Key)
	}
	if over.ServerName != "" {
		t.ServerName = over.ServerName
	}
	return &t
}

// ReadCredentials reads a credentials file into f, as Connect reads
// ConnectOptions.CredentialsFile: a NATS .creds file (f.CredsFile is set to
// its absolute path), a user nkey seed (SU...) or a token (one word). The
// file must be private to its owner (mode 0600) where the system has
// modes. It does not validate f as a whole (see ConnFile.Validate).
func ReadCredentials(path string, f *ConnFile) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return fmt.Errorf("credentials file %s: %w: its mode is %04o (chmod 600 %s)", path, ErrInsecureFile, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	switch {
	case strings.Contains(s, "BEGIN NATS USER JWT"):
		f.CredsFile = path
	case strings.HasPrefix(s, "SU"):
		if _, err := userKeyFromSeed(s); err != nil {
			return fmt.Errorf("credentials file %s: %w", path, err)
		}
		f.NkeySeed = s
	case s != "" && !strings.ContainsAny(s, " \t\r\n"):
		f.Token = s
	default:
		return fmt.Errorf("credentials file %s: neither a NATS .creds file, a user nkey seed (SU...) nor a token (one word)", path)
	}
	return nil
}

// options returns the nats options for f, and sets c.Key.
func (c *Conn) options(f *ConnFile, o *ConnectOptions) ([]nats.Option, error) {
	name := o.Name
	if name == "" {
		host, _ := os.Hostname()
		name = "drover-" + string(c.Role) + "-" + host + "-" + strconv.Itoa(os.Getpid())
	}
	log := o.Logger.With("conn", name)
	maxDelay := o.MaxReconnectDelay
	nopts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			d := 50 * time.Millisecond
			for i := 1; i < attempts && d < maxDelay; i++ {
				d *= 2
			}
			d = min(d, maxDelay)
			return d - time.Duration(rand.Int64N(int64(d)/5+1)) // up to 20% earlier
		}),
		nats.PingInterval(10 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats: disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats: reconnected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Warn("nats: error", "subject", sub.Subject, "err", err)
				return
			}
			log.Warn("nats: error", "err", err)
		}),
	}
	if o.InProcess != nil {
		nopts = append(nopts, nats.InProcessServer(o.InProcess))
	} else if f.TLS != nil {
		tc, err := clientTLS(f)
		if err != nil {
			return nil, err
		}
		nopts = append(nopts, nats.Secure(tc))
	}
	switch {
	case f.Secret != "":
		kp, err := nkeys.CreateUser()
		if err != nil {
			return nil, err
		}
		pub, _ := kp.PublicKey()
		c.Key = pub
		nopts = append(nopts, nats.Token(f.Secret), nats.Nkey(pub, kp.Sign))
	case f.NkeySeed != "":
		kp, err := userKeyFromSeed(f.NkeySeed)
		if err != nil {
			return nil, err
		}
		pub, _ := kp.PublicKey()
		c.Key = pub
		nopts = append(nopts, nats.Nkey(pub, kp.Sign))
	case f.CredsFile != "":
		nopts = append(nopts, nats.UserCredentials(f.resolve(f.CredsFile)))
	case f.Token != "":
		nopts = append(nopts, nats.Token(f.Token))
	case f.User != "":
		nopts = append(nopts, nats.UserInfo(f.User, f.Password))
	}
	if c.Key == "" {
		c.Key = "r" + NewID()
	}
	nopts = append(nopts, nats.CustomInboxPrefix(InboxPrefix(c.Key)))
	return nopts, nil
}

// clientTLS builds the TLS configuration of a connection from f.TLS.
func clientTLS(f *ConnFile) (*tls.Config, error) {
	t := f.TLS
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CA != "" || t.CAPEM != "" {
		pool := x509.NewCertPool()
		if t.CA != "" {
			b, err := os.ReadFile(f.resolve(t.CA))
			if err != nil {
				return nil, fmt.Errorf("tls: CA file: %w", err)
			}
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("tls: CA file %s: no PEM certificate in it", t.CA)
			}
		}
		if t.CAPEM != "" && !pool.AppendCertsFromPEM([]byte(t.CAPEM)) {
			return nil, fmt.Errorf("tls: ca_pem: no PEM certificate in it")
		}
		tc.RootCAs = pool
	}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(f.resolve(t.Cert), f.resolve(t.Key))
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// ctxDialer dials with the ctx it holds: Connect's while it connects, the
// background afterwards (reconnections).
type ctxDialer struct {
	d   net.Dialer
	ctx atomic.Pointer[context.Context]
}

func (c *ctxDialer) Dial(network, address string) (net.Conn, error) {
	return c.d.DialContext(*c.ctx.Load(), network, address)
}
