package netcmd

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

	"github.com/nats-io/nats-server/v2/server"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/fabric"
)

// testPKI is a certificate authority generated in a test.
type testPKI struct {
	t      *testing.T
	dir    string
	caFile string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	serial int64
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{t: t, dir: t.TempDir(), serial: 1}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "drover netcmd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.caCert, _ = x509.ParseCertificate(caDER)
	p.caKey = caKey
	p.caFile = p.write("ca.pem", "CERTIFICATE", caDER)
	return p
}

func (p *testPKI) write(name, typ string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// issue writes a certificate for name signed by the CA: a server's for
// 127.0.0.1 and localhost, or a client's; it returns the cert and key
// files.
func (p *testPKI) issue(name string, server bool) (certFile, keyFile string) {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses, tmpl.DNSNames = []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.write(name+".pem", "CERTIFICATE", der), p.write(name+"-key.pem", "EC PRIVATE KEY", kder)
}

// newTestCA writes a certificate authority and a server certificate for
// 127.0.0.1 signed by it; it returns the CA, cert and key files.
func newTestCA(t *testing.T) (caFile, certFile, keyFile string) {
	t.Helper()
	p := newTestPKI(t)
	cert, key := p.issue("localhost", true)
	return p.caFile, cert, key
}

// TestControllerTLS: with --tls-cert/--tls-key/--tls-ca the embedded
// server speaks TLS only; the connection files carry the CA, and an engine
// and a client connect with them alone.
func TestControllerTLS(t *testing.T) {
	t.Parallel()
	ca, cert, key := newTestCA(t)
	dir := t.TempDir()
	ctx := waitCtx(t, 60*time.Second)
	ctl := startInProc(t, "controller", "--data", dir, "--tls-cert", cert, "--tls-key", key, "--tls-ca", ca)
	_, urls := readyInfo(ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine)))
	if !strings.HasPrefix(urls, "tls://127.0.0.1:") {
		t.Fatalf("URL %q, want tls://", urls)
	}
	startInProc(t, "engine", "--connect", filepath.Join(dir, fabric.FileName(fabric.RoleEngine)), "--log-level", "warn")
	ctl.err.wait(t, ctx, "engine registered", contains("controller: engine registered"))
	r, err := drover.Dial(ctx, filepath.Join(dir, fabric.FileName(fabric.RoleClient)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	task, _ := drover.NewMapTask("echo", []any{"over tls"}, nil, drover.Options{})
	id, err := r.Run(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r.Result(ctx, id); err != nil || v != "over tls" {
		t.Fatalf("Result = %v, %v", v, err)
	}
	// Without the CA, the server is not trusted.
	_, err = runCmd(t, "status", "--connect", urls)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("status with a tls:// URL and no CA: %v, want a certificate error", err)
	}
}

// TestControllerExternalNATS: drover controller --nats joins a NATS
// server of the operator's (here a token-protected one) and writes
// connection files with the credentials given; engines and clients use
// them. A second controller on the same prefix is refused.
func TestControllerExternalNATS(t *testing.T) {
	t.Parallel()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, Authorization: "s3cret-token", NoSigs: true, HTTPPort: 0})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	url := ns.ClientURL()
	dir := t.TempDir()
	creds := filepath.Join(dir, "token")
	if err := os.WriteFile(creds, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := waitCtx(t, 60*time.Second)
	data := filepath.Join(dir, "data")
	ctl := startInProc(t, "controller", "--nats", url, "--creds", creds, "--data", data)
	ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	if !strings.Contains(ctl.err.String(), "holds the controller's credentials") {
		t.Errorf("no warning about sharing the controller's credentials:\n%s", ctl.err.String())
	}
	f, err := fabric.ReadFile(filepath.Join(data, fabric.FileName(fabric.RoleEngine)))
	if err != nil || f.Token != "s3cret-token" || f.URLs[0] != url {
		t.Fatalf("engine file = %+v, %v", f, err)
	}
	startInProc(t, "engine", "--connect", filepath.Join(data, fabric.FileName(fabric.RoleEngine)), "--log-level", "warn")
	ctl.err.wait(t, ctx, "engine registered", contains("controller: engine registered"))
	out, err := runCmd(t, "status", "--connect", filepath.Join(data, fabric.FileName(fabric.RoleClient)))
	if err != nil || !strings.Contains(out, "engines:   1 (0 busy)") {
		t.Errorf("status = %v:\n%s", err, out)
	}
	// The same through a URL and a credentials file.
	out, err = runCmd(t, "engines", "--connect", url, "--creds", creds)
	if err != nil || !strings.Contains(out, "idle") {
		t.Errorf("engines --connect URL --creds = %v:\n%s", err, out)
	}
	p2 := startInProc(t, "controller", "--nats", url, "--creds", creds, "--data", filepath.Join(dir, "data2"))
	if err := p2.wait(t); ExitCode(err) != ExitFailure || !strings.Contains(err.Error(), "already serves prefix") {
		t.Errorf("second controller on the prefix: %v", err)
	}
}

// TestControllerMutualTLS: with --tls-verify-clients, an engine and drover
// status connect with client certificates signed by the CA (--tls-cert,
// --tls-key: they override the connection file's TLS, which keeps its
// CA); an engine and a client without one are refused with a clear error.
func TestControllerMutualTLS(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	srvCert, srvKey := pki.issue("localhost", true)
	cliCert, cliKey := pki.issue("engine-client", false)
	dir := t.TempDir()
	ctx := waitCtx(t, 60*time.Second)
	ctl := startInProc(t, "controller", "--data", dir, "--tls-cert", srvCert, "--tls-key", srvKey, "--tls-ca", pki.caFile, "--tls-verify-clients")
	_, urls := readyInfo(ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine)))
	engFile := filepath.Join(dir, fabric.FileName(fabric.RoleEngine))
	cliFile := filepath.Join(dir, fabric.FileName(fabric.RoleClient))

	// Without a client certificate: refused, with a clear error (and the
	// engine does not wait: this is no missing controller).
	_, err := runCmd(t, "engine", "--connect", engFile, "--log-level", "warn")
	if ExitCode(err) != ExitFailure || !strings.Contains(err.Error(), "--tls-cert") {
		t.Errorf("engine without a client certificate: %v, want a failure that says to give --tls-cert", err)
	}
	_, err = runCmd(t, "status", "--connect", cliFile)
	if ExitCode(err) != ExitFailure || !strings.Contains(err.Error(), "--tls-cert") {
		t.Errorf("status without a client certificate: %v, want a failure that says to give --tls-cert", err)
	}

	startInProc(t, "engine", "--connect", engFile, "--tls-cert", cliCert, "--tls-key", cliKey, "--log-level", "warn")
	ctl.err.wait(t, ctx, "engine registered", contains("controller: engine registered"))
	out, err := runCmd(t, "status", "--connect", cliFile, "--tls-cert", cliCert, "--tls-key", cliKey)
	if err != nil || !strings.Contains(out, "engines:   1 (0 busy)") {
		t.Errorf("status with a client certificate = %v:\n%s", err, out)
	}
	// A URL: the CA and the certificate from the flags alone get through
	// TLS; with no drover secret, the auth callout refuses the client.
	_, err = runCmd(t, "engines", "--connect", urls, "--tls-ca", pki.caFile, "--tls-cert", cliCert, "--tls-key", cliKey)
	if err == nil || !strings.Contains(err.Error(), "credentials") || strings.Contains(err.Error(), "certificate") {
		t.Errorf("engines --connect URL with the TLS flags: %v, want an authorization (not a TLS) error", err)
	}
	r, err := drover.Dial(ctx, cliFile, drover.WithConnectOptions(fabric.ConnectOptions{TLS: &fabric.TLSFiles{Cert: cliCert, Key: cliKey}}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	task, _ := drover.NewMapTask("echo", []any{"mutual"}, nil, drover.Options{})
	id, err := r.Run(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r.Result(ctx, id); err != nil || v != "mutual" {
		t.Fatalf("Result = %v, %v", v, err)
	}
}
