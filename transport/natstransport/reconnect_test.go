package natstransport_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/natstransport"
)

// restart shuts s down and starts a new server on the same port.
func restart(t *testing.T, s *server.Server) *server.Server {
	t.Helper()
	port := serverPort(t, s)
	s.Shutdown()
	s.WaitForShutdown()
	return startServer(t, false, port)
}

// waitConnected waits for the CONNECTED event on ch, then makes sure the
// server has nc's subscriptions.
func waitConnected(t *testing.T, ctx context.Context, nc *nats.Conn, ch chan nats.Status) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatalf("no reconnection: %v", ctx.Err())
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		t.Fatalf("flush after reconnection: %v", err)
	}
}

// TestReconnectAfterServerRestart: the server restarts between two
// exchanges; both connections reconnect by themselves and the same
// session goes on (nothing was lost: no Lost, no reset).
func TestReconnectAfterServerRestart(t *testing.T) {
	t.Parallel()
	s := startServer(t, false, -1)
	ctx := ctxT(t)
	cfg := natstransport.Config{}
	cnc, enc := connect(t, s), connect(t, s)
	ctrl, err := natstransport.NewControllerEnd(ctx, cnc, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ctrl.Close()
	cfg.Key = "phoenix"
	eng, err := natstransport.NewEngineEnd(ctx, enc, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	register(t, ctrl, eng)

	cch, ech := cnc.StatusChanged(nats.CONNECTED), enc.StatusChanged(nats.CONNECTED)
	defer cnc.RemoveStatusListener(cch)
	defer enc.RemoveStatusListener(ech)
	restart(t, s)
	waitConnected(t, ctx, cnc, cch)
	waitConnected(t, ctx, enc, ech)

	if err := ctrl.Send(ctx, "phoenix", transport.ToEngine{Call: &transport.Call{ID: 1, Op: transport.OpKeys}}); err != nil {
		t.Fatal(err)
	}
	got, err := eng.Recv(ctx)
	if err != nil || len(got) != 1 || got[0].Call == nil || got[0].Call.ID != 1 {
		t.Fatalf("engine after the restart got %+v, %v; want Call 1", got, err)
	}
	if err := eng.Send(ctx, transport.FromEngine{Reply: &transport.Reply{ID: 1, Value: []any{"x"}}}); err != nil {
		t.Fatal(err)
	}
	if m := recvOne(t, ctx, ctrl); m.Reply == nil || m.Reply.ID != 1 || m.From != "phoenix" {
		t.Fatalf("controller after the restart got %+v, want Reply 1 from phoenix", m)
	}
	if st := ctrl.Stats(); st.Lost != 0 || st.Resets != 0 {
		t.Errorf("controller stats %+v: want no loss and no reset", st)
	}
	if st := eng.Stats(); st.Resets != 0 || st.Reconnected == 0 {
		t.Errorf("engine stats %+v: want a reconnection and no reset", st)
	}
}

// TestReconnectLostFrames: a frame to the engine is lost while the engine
// is disconnected (the server restarted; the engine's reconnection is held
// back until the controller has sent it). The engine learns it from the
// Sync that answers its next heartbeat and asks for it again (a Nack); the
// controller sends it again, and the session goes on: no Lost, no reset,
// the engine's attempt not cancelled, and its Outcome arrives.
func TestReconnectLostFrames(t *testing.T) {
	t.Parallel()
	s := startServer(t, false, -1)
	ctx := ctxT(t)
	release := make(chan struct{})
	var once sync.Once
	gate := func(int) time.Duration {
		<-release
		return time.Millisecond
	}
	cnc := connect(t, s)
	enc := connect(t, s, nats.CustomReconnectDelay(gate))
	t.Cleanup(func() { once.Do(func() { close(release) }) }) // before enc closes
	cfg := natstransport.Config{HeartbeatInterval: 50 * time.Millisecond}
	ctrl, err := natstransport.NewControllerEnd(ctx, cnc, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ctrl.Close()
	cfg.Key = "gated"
	eng, err := natstransport.NewEngineEnd(ctx, enc, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	register(t, ctrl, eng)

	task := &drovertype.Task{Kind: drovertype.MapTask, FuncName: "f"}
	if err := ctrl.Send(ctx, "gated", transport.ToEngine{Assign: &transport.Assign{Attempt: 1, TaskID: 0, Task: task}}); err != nil {
		t.Fatal(err)
	}
	if got, err := eng.Recv(ctx); err != nil || len(got) != 1 || got[0].Assign == nil {
		t.Fatalf("engine got %+v, %v; want the Assign", got, err)
	}

	cch := cnc.StatusChanged(nats.CONNECTED)
	defer cnc.RemoveStatusListener(cch)
	restart(t, s)
	waitConnected(t, ctx, cnc, cch)
	// The engine is still disconnected: this frame is lost.
	if err := ctrl.Send(ctx, "gated", transport.ToEngine{Call: &transport.Call{ID: 5, Op: transport.OpKeys}}); err != nil {
		t.Fatal(err)
	}
	once.Do(func() { close(release) })

	// The engine gets the lost Call after all, and nothing else.
	got, err := eng.Recv(ctx)
	if err != nil || len(got) != 1 || got[0].Call == nil || got[0].Call.ID != 5 {
		t.Fatalf("engine got %+v, %v; want Call 5 (sent again)", got, err)
	}
	// The session goes on: the attempt's Outcome and the Reply arrive.
	if err := eng.Send(ctx, transport.FromEngine{Outcome: &transport.Outcome{Attempt: 1, Value: int64(2)}},
		transport.FromEngine{Reply: &transport.Reply{ID: 5, Value: []any{}}}); err != nil {
		t.Fatal(err)
	}
	msgs, err := ctrl.Recv(ctx)
	if err != nil || len(msgs) != 2 || msgs[0].Outcome == nil || msgs[0].Outcome.Attempt != 1 || msgs[1].Reply == nil || msgs[1].From != "gated" {
		t.Fatalf("controller got %+v, %v; want the Outcome of attempt 1 and Reply 5", msgs, err)
	}
	if st := ctrl.Stats(); st.Lost != 0 || st.Resets != 0 || st.Resent == 0 {
		t.Errorf("controller stats %+v: want frames sent again, no loss, no reset", st)
	}
	if st := eng.Stats(); st.Resets != 0 || st.Nacks == 0 {
		t.Errorf("engine stats %+v: want a Nack, no reset", st)
	}
}
