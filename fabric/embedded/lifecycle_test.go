package embedded_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/fabric/embedded"
)

// TestRestart: a controller restarted on the same data directory keeps its
// secrets and port, so a connected engine reconnects on its own and keeps
// its key and permissions; a second controller on the directory is refused.
func TestRestart(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state") // Start creates it
	ctx := t.Context()
	s1, err := embedded.Start(ctx, &embedded.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Shutdown(ctx)
	if _, err := embedded.Start(ctx, &embedded.Config{DataDir: dir}); !errors.Is(err, embedded.ErrDataDirInUse) {
		t.Fatalf("second Start on %s = %v", dir, err)
	}
	for _, r := range []fabric.Role{fabric.RoleController, fabric.RoleEngine, fabric.RoleClient} {
		fi, err := os.Stat(s1.File(r))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s file: %v, %v", r, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %v, %v", fi.Mode(), err)
	}
	before, _ := fabric.ReadFile(s1.File(fabric.RoleEngine))

	reconnected := make(chan struct{}, 1)
	e := connect(t, s1.File(fabric.RoleEngine), fabric.RoleEngine, &fabric.ConnectOptions{
		MaxReconnectDelay: 100 * time.Millisecond,
		Options: []nats.Option{nats.ReconnectHandler(func(*nats.Conn) {
			select {
			case reconnected <- struct{}{}:
			default:
			}
		})},
	})
	in, err := e.SubscribeSync(e.Subjects.EngineIn(e.Key))
	if err != nil {
		t.Fatal(err)
	}
	e.wantNoError(t)
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	s2 := start(t, &embedded.Config{DataDir: dir})
	after, _ := fabric.ReadFile(s2.File(fabric.RoleEngine))
	if after.Secret != before.Secret || after.URLs[0] != before.URLs[0] || after.ControllerID != before.ControllerID {
		t.Fatalf("restart changed the engine file:\n%+v\n%+v", before, after)
	}
	select {
	case <-reconnected:
	case <-ctx.Done():
		t.Fatal("engine did not reconnect")
	}
	// Same key, same permissions: its subscription works again, and it
	// still cannot listen elsewhere.
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s2.Conn().Publish(e.Subjects.EngineIn(e.Key), []byte("after restart")); err != nil {
		t.Fatal(err)
	}
	if m, err := in.NextMsgWithContext(ctx); err != nil || string(m.Data) != "after restart" {
		t.Fatalf("engine got %v, %v", m, err)
	}
	if _, err := e.SubscribeSync(e.Subjects.EngineOutAll()); err != nil {
		t.Fatal(err)
	}
	e.wantViolation(t, "subscription", e.Subjects.EngineOutAll())
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := start(t, nil)
	busy := strings.TrimPrefix(s.URLs()[0], "nats://")
	insecure := t.TempDir()
	if err := os.WriteFile(filepath.Join(insecure, fabric.FileName(fabric.RoleController)), []byte(`{"version":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg  embedded.Config
		want string
	}{
		{embedded.Config{Listen: "nonsense"}, `Config.Listen "nonsense"`},
		{embedded.Config{Listen: "127.0.0.1:99999"}, "bad port"},
		{embedded.Config{Prefix: "a..b"}, "Config.Prefix"},
		{embedded.Config{Prefix: "$SYS"}, "Config.Prefix"},
		{embedded.Config{MaxPayload: -1}, "Config.MaxPayload"},
		{embedded.Config{Listen: busy}, "start nats server on " + busy},
		{embedded.Config{DataDir: insecure}, "chmod 600"},
	} {
		if tc.cfg.DataDir == "" {
			tc.cfg.DataDir = t.TempDir()
		}
		srv, err := embedded.Start(ctx, &tc.cfg)
		if err == nil {
			_ = srv.Shutdown(ctx)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	// Start's ctx ended: nothing is left running.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if srv, err := embedded.Start(cctx, &embedded.Config{DataDir: t.TempDir()}); !errors.Is(err, context.Canceled) {
		if err == nil {
			_ = srv.Shutdown(ctx)
		}
		t.Fatalf("Start(cancelled) = %v", err)
	}
}

// TestJetStream: with JetStream on, the controller's account has it (issue
// 5's journal); engines and clients have no access to its API.
func TestJetStream(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, &embedded.Config{DataDir: dir, JetStream: true})
	ctx := t.Context()
	js, err := jetstream.New(s.Conn().Conn)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "state", Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "next_id", []byte("7")); err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, "next_id"); err != nil || string(e.Value()) != "7" {
		t.Fatalf("Get = %v, %v", e, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Fatalf("store dir: %v", err)
	}
	e := connect(t, s.File(fabric.RoleEngine), fabric.RoleEngine, nil)
	if err := e.Publish("$JS.API.INFO", nil); err != nil {
		t.Fatal(err)
	}
	e.wantViolation(t, "publish", "$JS.API.INFO")
}

// TestExternalServer: an operator's nats-server configured with
// fabric.ServerAuthConfig (what the package documentation tells them to
// add) and drover's callout run by a controller connected with its file:
// the same permissions as the embedded server.
func TestExternalServer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	keys, err := fabric.NewControllerKeys()
	if err != nil {
		t.Fatal(err)
	}
	seed, pub, err := fabric.NewUserSeed()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := fabric.ServerAuthConfig(keys, pub, false)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte("listen: 127.0.0.1:-1\n"+auth), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoSigs, opts.NoLog = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	url := ns.ClientURL()
	write := func(f *fabric.ConnFile) string {
		f.Version, f.URLs, f.Prefix = fabric.FileVersion, []string{url}, "farm.one"
		p := filepath.Join(dir, fabric.FileName(f.Role))
		if err := fabric.WriteFile(p, f); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctlFile := write(&fabric.ConnFile{Role: fabric.RoleController, NkeySeed: seed, Controller: keys})
	engFile := write(&fabric.ConnFile{Role: fabric.RoleEngine, Secret: keys.EngineSecret})

	// Before the controller runs the callout, engines cannot connect.
	if _, err := fabric.Connect(ctx, engFile, fabric.RoleEngine, &fabric.ConnectOptions{DialTimeout: time.Second}); err == nil {
		t.Fatal("engine connected without a callout")
	}
	ctl := connect(t, ctlFile, fabric.RoleController, nil)
	co, err := fabric.StartCallout(ctl.Conn.Conn, &fabric.CalloutConfig{Keys: keys, Prefix: "farm.one"})
	if err != nil {
		t.Fatal(err)
	}
	defer co.Stop()
	e := connect(t, engFile, fabric.RoleEngine, nil)
	if _, err := e.SubscribeSync("farm.one.eng." + e.Key + ".in"); err != nil {
		t.Fatal(err)
	}
	e.wantNoError(t)
	if _, err := e.SubscribeSync("farm.one.eng.other.in"); err != nil {
		t.Fatal(err)
	}
	e.wantViolation(t, "subscription", "farm.one.eng.other.in")
	if a, _ := co.Counts(); a != 1 {
		t.Fatalf("callout authorized %d connections, want 1", a)
	}
}

// TestExternalToken: with an operator's plain credentials (no callout) the
// files and Connect work, but drover enforces no permissions: the key is a
// random id, and the server grants what its configuration says.
func TestExternalToken(t *testing.T) {
	t.Parallel()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, Authorization: "operator-token", NoSigs: true, NoLog: true}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	p := filepath.Join(t.TempDir(), "engine.json")
	if err := fabric.WriteFile(p, &fabric.ConnFile{Version: fabric.FileVersion, Role: fabric.RoleEngine,
		URLs: []string{ns.ClientURL()}, Token: "operator-token"}); err != nil {
		t.Fatal(err)
	}
	e := connect(t, p, fabric.RoleEngine, nil)
	if !strings.HasPrefix(e.Key, "r") || len(e.Key) != 17 {
		t.Fatalf("key %q, want a random id", e.Key)
	}
	if _, err := e.SubscribeSync(e.Subjects.EngineInAll()); err != nil {
		t.Fatal(err)
	}
	e.wantNoError(t) // not confined: the operator's configuration decides
	// A URL and a token file work the same.
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("operator-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := connect(t, ns.ClientURL(), fabric.RoleClient, &fabric.ConnectOptions{CredentialsFile: tok, Prefix: "p"})
	if c.Subjects.Prefix() != "p" || c.File.Token != "operator-token" || c.File.Path() != "" {
		t.Fatalf("URL connection: %+v", c.File)
	}
	// The wrong token is refused.
	if err := os.WriteFile(tok, []byte("guess"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := fabric.Connect(t.Context(), ns.ClientURL(), fabric.RoleClient, &fabric.ConnectOptions{CredentialsFile: tok}); err == nil {
		t.Fatal("connected with a wrong token")
	}
}
