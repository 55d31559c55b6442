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

// newTestCA writes a certificate authority and a server certificate for
// 127.0.0.1 signed by it; it returns the CA, cert and key files.
func newTestCA(t *testing.T) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
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
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", der), write("server-key.pem", "EC PRIVATE KEY", kder)
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
