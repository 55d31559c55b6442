package natstransport_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/natstransport"
)

// register sends e's Register and waits until the controller has it.
func register(t *testing.T, ctrl transport.ControllerEnd, e transport.EngineEnd) {
	t.Helper()
	ctx := ctxT(t)
	if err := e.Send(ctx, transport.FromEngine{Register: &transport.Register{Name: e.Addr(), Window: 1}}); err != nil {
		t.Fatalf("engine %s: send Register: %v", e.Addr(), err)
	}
	msgs, err := ctrl.Recv(ctx)
	if err != nil {
		t.Fatalf("controller Recv: %v", err)
	}
	if len(msgs) != 1 || msgs[0].Register == nil || msgs[0].From != e.Addr() {
		t.Fatalf("controller got %+v, want the Register of %s", msgs, e.Addr())
	}
}

// recvOne receives exactly one message at the controller.
func recvOne(t *testing.T, ctx context.Context, ctrl transport.ControllerEnd) transport.FromEngine {
	t.Helper()
	msgs, err := ctrl.Recv(ctx)
	if err != nil {
		t.Fatalf("controller Recv: %v", err)
	}
	if len(msgs) != 1 {
		t.Fatalf("controller got %d messages (%+v), want 1", len(msgs), msgs)
	}
	return msgs[0]
}

// TestHeartbeatLoss: an engine whose connection dies without a goodbye
// (no Close frame, no more heartbeats) is reported lost after
// MissedHeartbeats intervals; a live engine is not, however long it is
// idle. Runs in a synctest bubble (the server too), so the clock is fake.
func TestHeartbeatLoss(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		missed   int
	}{{0, 0}, {100 * time.Millisecond, 5}} {
		synctest.Test(t, func(t *testing.T) {
			s := startServer(t, true, -1)
			cfg := natstransport.Config{HeartbeatInterval: tc.interval, MissedHeartbeats: tc.missed}
			interval, missed := tc.interval, tc.missed
			if interval == 0 {
				interval, missed = natstransport.DefaultHeartbeatInterval, natstransport.DefaultMissedHeartbeats
			}
			ctrl := newController(t, s, &cfg)
			live := newEngine(t, s, cfg, "live")
			doomedConn := connect(t, s)
			cfg.Key = "doomed"
			doomed, err := natstransport.NewEngineEnd(t.Context(), doomedConn, &cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer doomed.Close()
			register(t, ctrl, live)
			register(t, ctrl, doomed)

			// Idle for 10 times the loss limit: nobody is lost.
			idle := time.Duration(10*missed) * interval
			ctx, cancel := context.WithTimeout(t.Context(), idle)
			msgs, err := ctrl.Recv(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("controller Recv while idle: %+v, %v; want nothing", msgs, err)
			}
			if hb := ctrl.Stats().Heartbeats; hb < uint64(2*10*missed-2) {
				t.Errorf("controller saw %d heartbeats in %v from 2 engines every %v", hb, idle, interval)
			}

			// The doomed engine's connection dies: no goodbye.
			start := time.Now()
			doomedConn.Close()
			m := recvOne(t, t.Context(), ctrl)
			took := time.Since(start)
			if m.Lost == nil || m.From != "doomed" {
				t.Fatalf("got %+v, want Lost of doomed", m)
			}
			limit := time.Duration(missed) * interval
			if took < limit-interval || took > limit+interval {
				t.Errorf("lost after %v, want about %v (%d intervals of %v)", took, limit, missed, interval)
			}
			if err := ctrl.Send(t.Context(), "doomed", transport.ToEngine{Shutdown: &transport.Shutdown{}}); !errors.Is(err, transport.ErrUnknownAddr) {
				t.Errorf("Send to the lost engine: %v, want ErrUnknownAddr", err)
			}
			// The live one is still there.
			if err := ctrl.Send(t.Context(), "live", transport.ToEngine{Shutdown: &transport.Shutdown{}}); err != nil {
				t.Errorf("Send to the live engine: %v", err)
			}
			if got, err := live.Recv(t.Context()); err != nil || len(got) != 1 || got[0].Shutdown == nil {
				t.Errorf("live engine got %+v, %v", got, err)
			}
			synctest.Wait()
		})
	}
}

// TestControllerOutageIsNotEngineLoss: while the controller's own
// connection is down, engines' silence does not count against them; when
// it comes back, they are given the full loss limit again, and their
// sessions go on. The server drops the controller's connection, whose
// reconnection is held back for 10 heartbeats of the engine (counted by a
// witness subscribed to the engine's subject); then 10 more heartbeats
// pass. (Not in a synctest bubble: reconnecting uses nats.go's global
// timer pool, which must not hold a bubble's timers.)
func TestControllerOutageIsNotEngineLoss(t *testing.T) {
	t.Parallel()
	s := startServer(t, true, -1)
	ctx := ctxT(t)
	release := make(chan struct{})
	cnc := connect(t, s, nats.CustomReconnectDelay(func(int) time.Duration {
		<-release
		return time.Millisecond
	}))
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open) // before cnc closes
	cfg := natstransport.Config{Prefix: unique("outage"), HeartbeatInterval: 50 * time.Millisecond}
	ctrl, err := natstransport.NewControllerEnd(ctx, cnc, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ctrl.Close()
	eng := newEngine(t, s, cfg, "patient")
	register(t, ctrl, eng)
	witness := connect(t, s)
	beats := make(chan *nats.Msg, 64)
	sub, err := witness.ChanSubscribe(cfg.Prefix+".ctl.eng.patient", beats)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := witness.Flush(); err != nil {
		t.Fatal(err)
	}
	await := func(n int) {
		t.Helper()
		for range n {
			select {
			case <-beats:
			case <-ctx.Done():
				t.Fatalf("no heartbeat: %v", ctx.Err())
			}
		}
	}

	reconnected := cnc.StatusChanged(nats.CONNECTED)
	defer cnc.RemoveStatusListener(reconnected)
	cid, err := cnc.GetClientID()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DisconnectClientByID(cid); err != nil {
		t.Fatal(err)
	}
	await(10) // over 3 intervals: lost, if the outage counted
	open()
	select {
	case <-reconnected:
	case <-ctx.Done():
		t.Fatal("the controller did not reconnect")
	}
	await(10)
	nothingQueued(t, ctrl)
	if err := eng.Send(ctx, transport.FromEngine{Props: &transport.Props{Properties: map[string]any{}}}); err != nil {
		t.Fatal(err)
	}
	if m := recvOne(t, ctx, ctrl); m.Props == nil || m.From != "patient" {
		t.Fatalf("got %+v, want the engine's Props in its session", m)
	}
	if st := ctrl.Stats(); st.Lost != 0 || st.Reconnected != 1 {
		t.Errorf("controller stats %+v: want 1 reconnection, no loss", st)
	}
}
