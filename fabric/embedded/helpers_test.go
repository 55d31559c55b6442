package embedded_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/fabric/embedded"
)

// start starts an embedded server in a temporary data directory and shuts
// it down when the test ends.
func start(t *testing.T, cfg *embedded.Config) *embedded.Server {
	t.Helper()
	var c embedded.Config
	if cfg != nil {
		c = *cfg
	}
	if c.DataDir == "" {
		c.DataDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := embedded.Start(ctx, &c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}

// conn is a connection with its asynchronous errors.
type conn struct {
	*fabric.Conn
	errs chan error
}

// connect connects as role with target and options, closing the
// connection when the test ends.
func connect(t *testing.T, target string, role fabric.Role, o *fabric.ConnectOptions) *conn {
	t.Helper()
	c, err := tryConnect(t, target, role, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tryConnect(t *testing.T, target string, role fabric.Role, o *fabric.ConnectOptions) (*conn, error) {
	t.Helper()
	var opts fabric.ConnectOptions
	if o != nil {
		opts = *o
	}
	errs := make(chan error, 16)
	opts.Options = append(opts.Options, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	c, err := fabric.Connect(t.Context(), target, role, &opts)
	if err != nil {
		return nil, err
	}
	t.Cleanup(c.Close)
	return &conn{Conn: c, errs: errs}, nil
}

// wantViolation waits for c's next asynchronous error and checks it is a
// permission violation naming subject.
func (c *conn) wantViolation(t *testing.T, what, subject string) {
	t.Helper()
	select {
	case err := <-c.errs:
		msg := strings.ToLower(err.Error())
		if !strings.Contains(msg, "permissions violation for "+what) || !strings.Contains(err.Error(), `"`+subject+`"`) {
			t.Fatalf("async error %q, want a permissions violation for %s %q", err, what, subject)
		}
	case <-t.Context().Done():
		t.Fatalf("no permissions violation for %s %q", what, subject)
	}
}

// wantNoError checks that no asynchronous error has arrived (after a
// round trip to the server).
func (c *conn) wantNoError(t *testing.T) {
	t.Helper()
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.errs:
		t.Fatalf("unexpected async error: %v", err)
	default:
	}
}

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // PEM
	dir  string
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "drover test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca := &testCA{cert: cert, key: key, dir: dir, file: filepath.Join(dir, "ca.pem")}
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

// issue makes a certificate signed by ca for loopback (a server's, or a
// client's with client set) and returns its cert and key files.
func (ca *testCA) issue(t *testing.T, name string, client bool) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(ca.dir, name+".pem")
	keyFile = filepath.Join(ca.dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
