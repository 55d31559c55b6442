package embedded_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/fabric/embedded"
)

// rewrite copies the connection file at path to a new file in dir, changed
// by edit, and returns its path.
func rewrite(t *testing.T, path string, edit func(*fabric.ConnFile)) string {
	t.Helper()
	f, err := fabric.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edit(f)
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := fabric.WriteFile(out, f); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTLS(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	cert, key := ca.issue(t, "server", false)
	s := start(t, &embedded.Config{TLS: &embedded.TLSConfig{Cert: cert, Key: key, CA: ca.file}})
	url := s.URLs()[0]
	if !strings.HasPrefix(url, "tls://127.0.0.1:") {
		t.Fatalf("URL %q, want tls://", url)
	}
	// The engine's file carries the CA inline: it is all an engine needs.
	f, err := fabric.ReadFile(s.File(fabric.RoleEngine))
	if err != nil {
		t.Fatal(err)
	}
	if f.TLS == nil || !strings.Contains(f.TLS.CAPEM, "BEGIN CERTIFICATE") || f.TLS.CA != "" {
		t.Fatalf("engine file TLS = %+v", f.TLS)
	}
	e := connect(t, s.File(fabric.RoleEngine), fabric.RoleEngine, nil)
	st, err := e.TLSConnectionState()
	if err != nil || !st.HandshakeComplete {
		t.Fatalf("TLS state %+v, %v", st, err)
	}
	in, err := e.SubscribeSync(e.Subjects.EngineIn(e.Key))
	if err != nil {
		t.Fatal(err)
	}
	e.wantNoError(t)
	if err := s.Conn().Publish(e.Subjects.EngineIn(e.Key), []byte("over tls")); err != nil {
		t.Fatal(err)
	}
	if m, err := in.NextMsgWithContext(t.Context()); err != nil || string(m.Data) != "over tls" {
		t.Fatalf("engine got %v, %v", m, err)
	}
	// A client that does not speak TLS is refused.
	plain := "nats://" + strings.TrimPrefix(url, "tls://")
	if nc, err := nats.Connect(plain, nats.Token(f.Secret)); err == nil {
		nc.Close()
		t.Fatal("plain connection accepted")
	}
	// A client that trusts another authority does not trust the server.
	other := newCA(t)
	bad := rewrite(t, s.File(fabric.RoleEngine), func(f *fabric.ConnFile) { f.TLS.CAPEM = ""; f.TLS.CA = other.file })
	if _, err := fabric.Connect(t.Context(), bad, fabric.RoleEngine, nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Connect with another CA = %v", err)
	}
	// The CA as a path works too.
	byPath := rewrite(t, s.File(fabric.RoleClient), func(f *fabric.ConnFile) { f.TLS.CAPEM = ""; f.TLS.CA = ca.file })
	connect(t, byPath, fabric.RoleClient, nil)
}

func TestTLSVerifyClients(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	cert, key := ca.issue(t, "server", false)
	s := start(t, &embedded.Config{TLS: &embedded.TLSConfig{Cert: cert, Key: key, CA: ca.file, VerifyClients: true}})
	// Without a client certificate: refused, even with the secret.
	if _, err := fabric.Connect(t.Context(), s.File(fabric.RoleEngine), fabric.RoleEngine, nil); err == nil {
		t.Fatal("connected without a client certificate")
	}
	// With one signed by the CA: accepted.
	ccert, ckey := ca.issue(t, "engine", true)
	withCert := rewrite(t, s.File(fabric.RoleEngine), func(f *fabric.ConnFile) { f.TLS.Cert, f.TLS.Key = ccert, ckey })
	connect(t, withCert, fabric.RoleEngine, nil)
	// The certificate does not replace the secret.
	noSecret := rewrite(t, withCert, func(f *fabric.ConnFile) { f.Secret = "" })
	if _, err := fabric.Connect(t.Context(), noSecret, fabric.RoleEngine, nil); err == nil {
		t.Fatal("connected with a certificate and no secret")
	}
	// Config errors name the field.
	for _, tc := range []struct {
		tls  *embedded.TLSConfig
		want string
	}{
		{&embedded.TLSConfig{Cert: cert}, "Config.TLS needs Cert and Key"},
		{&embedded.TLSConfig{Cert: cert, Key: key, VerifyClients: true}, "Config.TLS.VerifyClients needs CA"},
		{&embedded.TLSConfig{Cert: cert, Key: cert}, "Config.TLS"},
	} {
		srv, err := embedded.Start(t.Context(), &embedded.Config{DataDir: t.TempDir(), TLS: tc.tls})
		if err == nil {
			_ = srv.Shutdown(t.Context())
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%+v) = %v, want %q", tc.tls, err, tc.want)
		}
	}
	// Without a CA (a certificate the clients' systems trust): the files
	// say TLS and carry no CA.
	s2 := start(t, &embedded.Config{TLS: &embedded.TLSConfig{Cert: cert, Key: key}})
	f, err := fabric.ReadFile(s2.File(fabric.RoleClient))
	if err != nil {
		t.Fatal(err)
	}
	if f.TLS == nil || f.TLS.CAPEM != "" || !strings.HasPrefix(f.URLs[0], "tls://") {
		t.Fatalf("client file: %+v, TLS %+v", f, f.TLS)
	}
}
