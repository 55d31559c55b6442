package fabric

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/drover-dev/drover/internal/statedir"
)

// Role is what a connection is for: the controller, an engine or a client.
// It decides the credentials a connection file holds and, with drover's
// auth callout, the subjects the connection may use.
type Role string

// Roles.
const (
	RoleController Role = "controller"
	RoleEngine     Role = "engine"
	RoleClient     Role = "client"
)

func (r Role) valid() bool { return r == RoleController || r == RoleEngine || r == RoleClient }

// FileVersion is the version of the connection file format this package
// writes and reads. A file of another version is refused.
const FileVersion = 1

// maxFileSize bounds what ReadFile reads.
const maxFileSize = 1 << 20

// Errors of connection files; the errors returned wrap them (errors.Is).
var (
	// ErrInsecureFile: the file can be read or written by users other than
	// its owner (it holds credentials; it must be mode 0600).
	ErrInsecureFile = errors.New("file with credentials is accessible to other users")
	// ErrFileVersion: the file's version is not FileVersion.
	ErrFileVersion = errors.New("unsupported connection file version")
	// ErrWrongRole: the file is for another role than the one asked for.
	ErrWrongRole = errors.New("connection file is for another role")
	// ErrInvalidFile: the file is not a valid connection file.
	ErrInvalidFile = errors.New("invalid connection file")
)

// ConnFile is a connection file: how an engine, a client or the controller
// reaches the NATS fabric, as ipyparallel's ipcontroller-engine.json and
// ipcontroller-client.json. It is JSON, written with mode 0600, and holds
// credentials: never pass them on a command line.
//
// Credentials take one of these forms (at most one per file):
//
//   - Secret: drover's secret for the file's role. The connection sends it
//     as its token together with a fresh nkey (see Connect); drover's auth
//     callout checks both and grants the role's permissions. This is what
//     the embedded server's files use.
//   - Token; User and Password; NkeySeed (a user nkey seed, "SU..."); or
//     CredsFile (the path of a NATS .creds file: user JWT and seed). These
//     are credentials given by the operator of an external NATS server.
//
// A controller's file (role controller) also holds Controller: the keys of
// the auth callout. Relative paths in the file (CredsFile, TLS) are
// relative to the file's directory. A ConnFile is plain data: safe to read
// concurrently, not to modify.
type ConnFile struct {
	// Version is FileVersion.
	Version int `json:"version"`
	// Role is the role the file is for.
	Role Role `json:"role"`
	// ControllerID identifies the controller that wrote the file.
	ControllerID string `json:"controller_id,omitempty"`
	// URLs are the NATS servers to connect to (nats://, tls://, ws://,
	// wss://); at least one.
	URLs []string `json:"urls"`
	// Prefix is the subject prefix; empty means DefaultPrefix.
	Prefix string `json:"prefix,omitempty"`

	// Secret is drover's secret for Role (auth callout).
	Secret string `json:"secret,omitempty"`
	// Token is a NATS token.
	Token string `json:"token,omitempty"`
	// User and Password are NATS user credentials.
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	// NkeySeed is a NATS user nkey seed.
	NkeySeed string `json:"nkey_seed,omitempty"`
	// CredsFile is the path of a NATS credentials file.
	CredsFile string `json:"creds_file,omitempty"`

	// TLS configures TLS to the servers; nil: the URLs' schemes decide
	// (tls:// needs the system's roots to trust the server).
	TLS *TLSFiles `json:"tls,omitempty"`

	// Controller holds the auth callout's keys (role controller only).
	Controller *ControllerKeys `json:"controller,omitempty"`

	// Written is when the file was written (informative).
	Written time.Time `json:"written,omitzero"`

	// path is where the file was read from (for relative paths).
	path string
}

// TLSFiles names the PEM files of a TLS connection.
type TLSFiles struct {
	// CA is the file of the certificate authorities that sign the servers'
	// certificates (and, for a server, the clients' certificates).
	CA string `json:"ca,omitempty"`
	// CAPEM holds the same certificates inline (PEM), so that a connection
	// file copied to another machine is all an engine needs. CA and CAPEM
	// may both be given: the pool holds both.
	CAPEM string `json:"ca_pem,omitempty"`
	// Cert and Key are this side's certificate and key (a server's; or a
	// client's, when the server verifies clients).
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
	// ServerName overrides the name the server's certificate is checked
	// against (default: the URL's host).
	ServerName string `json:"server_name,omitempty"`
}

// ControllerKeys are the secrets of drover's auth callout: the account key
// that signs the users it authorizes, the account it places them in, and
// the engines' and clients' secrets.
type ControllerKeys struct {
	// IssuerSeed is the seed of the account nkey ("SA...") that signs the
	// callout's responses; the server's auth_callout.issuer is its public
	// key.
	IssuerSeed string `json:"issuer_seed"`
	// Account is the NATS account the callout places engines and clients in
	// (the controller's own account). Defaults to DefaultAccount.
	Account string `json:"account,omitempty"`
	// EngineSecret and ClientSecret are the secrets of the engines' and
	// clients' connection files.
	EngineSecret string `json:"engine_secret"`
	ClientSecret string `json:"client_secret"`
	// Port is the port the embedded server last listened on (reused on a
	// restart, so that engines reconnect to the same address).
	Port int `json:"port,omitempty"`
}

// Path returns the path the file was read from ("" if it was not read).
func (f *ConnFile) Path() string { return f.path }

// Validate checks f: version, role, URLs, prefix, and that at most one
// form of credentials is given and is well formed. The error wraps
// ErrFileVersion or ErrInvalidFile.
func (f *ConnFile) Validate() error {
	if f.Version != FileVersion {
		return fmt.Errorf("%w: version %d, this drover reads version %d", ErrFileVersion, f.Version, FileVersion)
	}
	if !f.Role.valid() {
		return fmt.Errorf("%w: role %q, want controller, engine or client", ErrInvalidFile, f.Role)
	}
	if len(f.URLs) == 0 {
		return fmt.Errorf("%w: no urls", ErrInvalidFile)
	}
	for _, u := range f.URLs {
		if err := checkURL(u); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidFile, err)
		}
	}
	if f.Prefix != "" {
		if err := validPrefix(f.Prefix); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidFile, err)
		}
	}
	var forms []string
	add := func(ok bool, name string) {
		if ok {
			forms = append(forms, name)
		}
	}
	add(f.Secret != "", "secret")
	add(f.Token != "", "token")
	add(f.User != "" || f.Password != "", "user/password")
	add(f.NkeySeed != "", "nkey_seed")
	add(f.CredsFile != "", "creds_file")
	if len(forms) > 1 {
		return fmt.Errorf("%w: several credentials (%s): give one", ErrInvalidFile, strings.Join(forms, ", "))
	}
	if f.User != "" && f.Password == "" || f.User == "" && f.Password != "" {
		return fmt.Errorf("%w: user and password go together", ErrInvalidFile)
	}
	if f.NkeySeed != "" {
		if _, err := userKeyFromSeed(f.NkeySeed); err != nil {
			return fmt.Errorf("%w: nkey_seed: %w", ErrInvalidFile, err)
		}
	}
	if f.Controller != nil {
		if f.Role != RoleController {
			return fmt.Errorf("%w: a %s file cannot hold the controller's keys", ErrInvalidFile, f.Role)
		}
		if err := f.Controller.validate(); err != nil {
			return fmt.Errorf("%w: controller: %w", ErrInvalidFile, err)
		}
	}
	if f.TLS != nil && (f.TLS.Cert == "") != (f.TLS.Key == "") {
		return fmt.Errorf("%w: tls: cert and key go together", ErrInvalidFile)
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("url %q: %w", s, err)
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return fmt.Errorf("url %q: scheme %q, want nats, tls, ws or wss", s, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("url %q: no host", s)
	}
	if u.User != nil {
		return fmt.Errorf("url %q: credentials in a URL: put them in the file's own fields", redactURL(s))
	}
	return nil
}

// redactURL removes the user information from a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User("REDACTED")
	return u.String()
}

func (k *ControllerKeys) validate() error {
	kp, err := nkeys.FromSeed([]byte(k.IssuerSeed))
	if err != nil {
		return fmt.Errorf("issuer_seed: %w", err)
	}
	pub, _ := kp.PublicKey()
	if !nkeys.IsValidPublicAccountKey(pub) {
		return fmt.Errorf("issuer_seed: not an account seed (SA...)")
	}
	if k.Account != "" && !ValidToken(k.Account) {
		return fmt.Errorf("account %q: letters, digits, '-' and '_' only", k.Account)
	}
	if len(k.EngineSecret) < minSecretLen || len(k.ClientSecret) < minSecretLen {
		return fmt.Errorf("engine_secret and client_secret must have at least %d characters", minSecretLen)
	}
	if k.EngineSecret == k.ClientSecret {
		return fmt.Errorf("engine_secret and client_secret must differ")
	}
	return nil
}

// FileName returns the base name of role's connection file:
// drover-engine.json, drover-client.json, drover-controller.json.
func FileName(role Role) string { return "drover-" + string(role) + ".json" }

// DefaultDir returns the directory of the connection files of the
// controller started by this user: drover's state directory
// ($DROVER_STATE_DIR, else $XDG_STATE_HOME/drover, else
// ~/.local/state/drover).
func DefaultDir() (string, error) { return statedir.Dir(os.Getenv, os.UserHomeDir) }

// DefaultFile returns the path of role's connection file in DefaultDir.
func DefaultFile(role Role) (string, error) {
	d, err := DefaultDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, FileName(role)), nil
}

// WriteFile validates f and writes it to path with mode 0600, atomically
// (a temporary file renamed over path), creating path's directory with
// mode 0700 if needed.
func WriteFile(path string, f *ConnFile) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename: no such file
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	return nil
}

// ReadFile reads and validates the connection file at path. It refuses a
// file that users other than its owner may read or write (ErrInsecureFile;
// not checked on Windows), a file of another version (ErrFileVersion), and
// anything that is not a valid connection file (ErrInvalidFile, naming
// what is wrong). Unknown fields are refused (they are likely typos).
func ReadFile(path string) (*ConnFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read connection file: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("read connection file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read connection file %s: %w: not a regular file", path, ErrInvalidFile)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("read connection file %s: %w: its mode is %04o but it holds credentials and must be private to its owner (chmod 600 %s)",
			path, ErrInsecureFile, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read connection file %s: %w", path, err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("read connection file %s: %w: larger than %d bytes", path, ErrInvalidFile, maxFileSize)
	}
	f, err := ParseFile(b)
	if err != nil {
		return nil, fmt.Errorf("read connection file %s: %w", path, err)
	}
	f.path = path
	return f, nil
}

// ParseFile decodes and validates the contents of a connection file.
func ParseFile(b []byte) (*ConnFile, error) {
	// The version first, so that a file of another version gets that
	// message rather than one about its fields.
	var v struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidFile, err)
	}
	if v.Version == nil {
		return nil, fmt.Errorf("%w: no version", ErrInvalidFile)
	}
	if *v.Version != FileVersion {
		return nil, fmt.Errorf("%w: version %d, this drover reads version %d", ErrFileVersion, *v.Version, FileVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f ConnFile
	if err := dec.Decode(&f); err != nil { // trailing data: refused by Unmarshal above
		return nil, fmt.Errorf("%w: %w", ErrInvalidFile, err)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// resolve returns p made absolute against the file's directory.
func (f *ConnFile) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || f.path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(f.path), p)
}
