package embedded_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/drover-dev/drover/fabric"
)

// TestAuthRequired: a connection needs a role's secret and proof of its
// nkey; everything else is refused, on loopback too.
func TestAuthRequired(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	url := s.URLs()[0]
	if !strings.HasPrefix(url, "nats://127.0.0.1:") {
		t.Fatalf("URL %q: want loopback", url)
	}
	cf, err := fabric.ReadFile(s.File(fabric.RoleClient))
	if err != nil {
		t.Fatal(err)
	}
	ukp, _ := nkeys.CreateUser()
	pub, _ := ukp.PublicKey()
	other, _ := nkeys.CreateUser()
	for _, tc := range []struct {
		name string
		opts []nats.Option
	}{
		{"no credentials", nil},
		{"wrong token", []nats.Option{nats.Token("not-the-secret-at-all"), nats.Nkey(pub, ukp.Sign)}},
		{"secret without nkey", []nats.Option{nats.Token(cf.Secret)}},
		{"secret with a forged nonce signature", []nats.Option{nats.Token(cf.Secret), nats.Nkey(pub, other.Sign)}},
		{"user and password", []nats.Option{nats.UserInfo("client", cf.Secret)}},
	} {
		nc, err := nats.Connect(url, tc.opts...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected", tc.name)
			continue
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s: %v, want an authorization violation", tc.name, err)
		}
	}
	// A URL without credentials through fabric.Connect: a clear error.
	_, err = fabric.Connect(t.Context(), url, fabric.RoleClient, nil)
	if err == nil || !strings.Contains(err.Error(), "wrong or missing credentials") {
		t.Fatalf("Connect(url) = %v", err)
	}
	if _, refused := s.Callout().Counts(); refused < 5 {
		t.Errorf("callout refused %d connections, want >= 5", refused)
	}
	// The client file works.
	c := connect(t, s.File(fabric.RoleClient), fabric.RoleClient, nil)
	if !nkeys.IsValidPublicUserKey(c.Key) {
		t.Fatalf("client key %q", c.Key)
	}
	// ... and the engine's file is refused for the client role.
	if _, err := fabric.Connect(t.Context(), s.File(fabric.RoleEngine), fabric.RoleClient, nil); !errors.Is(err, fabric.ErrWrongRole) {
		t.Fatalf("Connect(engine file as client) = %v", err)
	}
}

// TestPermissions: engines receive only their own tasks and publish only
// their own results; clients use only the API and their inbox; nobody but
// the controller publishes to engines.
func TestPermissions(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	ctx := t.Context()
	obs, err := s.ConnectController(ctx, &fabric.ConnectOptions{Options: []nats.Option{nats.NoEcho()}})
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	sj := obs.Subjects
	seen, err := obs.SubscribeSync(sj.Prefix() + ".>")
	if err != nil {
		t.Fatal(err)
	}
	// API requests get an answer from the controller.
	if _, err := obs.Subscribe(sj.APIOp("echo"), func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		t.Fatal(err)
	}
	if err := obs.Flush(); err != nil {
		t.Fatal(err)
	}
	next := func(want string) {
		t.Helper()
		m, err := seen.NextMsgWithContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Subject + " " + string(m.Data); got != want {
			t.Fatalf("controller saw %q, want %q", got, want)
		}
	}

	e1 := connect(t, s.File(fabric.RoleEngine), fabric.RoleEngine, nil)
	e2 := connect(t, s.File(fabric.RoleEngine), fabric.RoleEngine, nil)
	cl := connect(t, s.File(fabric.RoleClient), fabric.RoleClient, nil)
	if e1.Key == e2.Key || e1.Key == cl.Key {
		t.Fatalf("keys not distinct: %s %s %s", e1.Key, e2.Key, cl.Key)
	}

	// Engine 1 receives its own tasks.
	in1, err := e1.SubscribeSync(sj.EngineIn(e1.Key))
	if err != nil {
		t.Fatal(err)
	}
	e1.wantNoError(t)
	in2, err := e2.SubscribeSync(sj.EngineIn(e2.Key))
	if err != nil {
		t.Fatal(err)
	}
	e2.wantNoError(t)
	if err := s.Conn().Publish(sj.EngineIn(e1.Key), []byte("task")); err != nil {
		t.Fatal(err)
	}
	if m, err := in1.NextMsgWithContext(ctx); err != nil || string(m.Data) != "task" {
		t.Fatalf("engine 1 got %v, %v", m, err)
	}
	next(sj.EngineIn(e1.Key) + " task")

	// It publishes its own results, and nobody else's.
	if err := e1.Publish(sj.EngineOut(e1.Key), []byte("outcome")); err != nil {
		t.Fatal(err)
	}
	next(sj.EngineOut(e1.Key) + " outcome")
	for _, subj := range []string{sj.EngineOut(e2.Key), sj.EngineIn(e2.Key), sj.EngineIn(e1.Key), sj.APIOp("submit")} {
		if err := e1.Publish(subj, []byte("forged")); err != nil {
			t.Fatal(err)
		}
		e1.wantViolation(t, "publish", subj)
	}
	if err := e1.Publish(sj.EngineOut(e1.Key), []byte("marker")); err != nil {
		t.Fatal(err)
	}
	next(sj.EngineOut(e1.Key) + " marker") // nothing forged arrived before it

	// It cannot listen to another engine, to the controller or to clients.
	for _, subj := range []string{sj.EngineIn(e2.Key), sj.EngineInAll(), sj.EngineOutAll(), sj.APIAll(),
		fabric.InboxPrefix(cl.Key) + ".>", ">"} {
		if _, err := e1.SubscribeSync(subj); err != nil {
			t.Fatal(err)
		}
		e1.wantViolation(t, "subscription", subj)
	}

	// A client uses the API through its inbox...
	reply, err := cl.Request(sj.APIOp("echo"), []byte("hello"), nats.DefaultTimeout)
	if err != nil || string(reply.Data) != "hello" {
		t.Fatalf("client request = %v, %v", reply, err)
	}
	next(sj.APIOp("echo") + " hello")
	// ... and cannot impersonate an engine or listen to one.
	for _, subj := range []string{sj.EngineOut(e1.Key), sj.EngineIn(e1.Key)} {
		if err := cl.Publish(subj, []byte("forged")); err != nil {
			t.Fatal(err)
		}
		cl.wantViolation(t, "publish", subj)
	}
	if err := cl.Publish(sj.APIOp("marker"), []byte("marker")); err != nil {
		t.Fatal(err)
	}
	next(sj.APIOp("marker") + " marker")
	for _, subj := range []string{sj.EngineIn(e1.Key), sj.EngineInAll(), sj.EngineOutAll(), fabric.InboxPrefix(e1.Key) + ".>"} {
		if _, err := cl.SubscribeSync(subj); err != nil {
			t.Fatal(err)
		}
		cl.wantViolation(t, "subscription", subj)
	}
	// Engine 2 got its own task first: nothing of engine 1's, nothing
	// forged by engine 1 or the client.
	if err := s.Conn().Publish(sj.EngineIn(e2.Key), []byte("task 2")); err != nil {
		t.Fatal(err)
	}
	if m, err := in2.NextMsgWithContext(ctx); err != nil || string(m.Data) != "task 2" {
		t.Fatalf("engine 2 got %v, %v", m, err)
	}
	e2.wantNoError(t)
}

// TestCalloutOnlyForItsUsers: the controller's own user bypasses the
// callout and has full permissions; its connection file works.
func TestControllerFile(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := connect(t, s.File(fabric.RoleController), fabric.RoleController, nil)
	sub, err := c.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	c.wantNoError(t)
	if err := s.Conn().Publish("anything.goes", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsgWithContext(ctx); err != nil || m.Subject != "anything.goes" {
		t.Fatalf("got %v, %v", m, err)
	}
	// The controller file never goes to engines or clients: it holds the
	// callout's keys.
	f, err := fabric.ReadFile(s.File(fabric.RoleController))
	if err != nil {
		t.Fatal(err)
	}
	if f.Controller == nil || f.NkeySeed == "" {
		t.Fatalf("controller file without keys: %+v", f)
	}
	for _, r := range []fabric.Role{fabric.RoleEngine, fabric.RoleClient} {
		g, err := fabric.ReadFile(s.File(r))
		if err != nil {
			t.Fatal(err)
		}
		if g.Controller != nil || g.NkeySeed != "" || g.Secret == "" || g.ControllerID != s.ID() {
			t.Fatalf("%s file: %+v", r, g)
		}
	}
}
