package natstransport_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/natstransport"
	"github.com/drover-dev/drover/transport/wire"
)

// dropper is a fault-injecting hook for SetDropHook: it drops the data
// frames that match (up to times of them), and counts what it dropped.
// Safe for concurrent use.
type dropper struct {
	codec   *wire.Codec
	match   func(ctl *wire.ControllerFrame, eng *wire.EngineFrame) bool
	mu      sync.Mutex
	times   int
	dropped int
}

func newDropper(t testing.TB, times int, match func(ctl *wire.ControllerFrame, eng *wire.EngineFrame) bool) *dropper {
	codec, err := wire.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &dropper{codec: codec, match: match, times: times}
}

// ctl is the hook of a controller end.
func (d *dropper) ctl(_ string, data []byte) bool {
	f, err := d.codec.DecodeControllerFrame(data)
	return err == nil && d.take(&f, nil)
}

// eng is the hook of an engine end.
func (d *dropper) eng(_ string, data []byte) bool {
	f, err := d.codec.DecodeEngineFrame(data)
	return err == nil && d.take(nil, &f)
}

func (d *dropper) take(c *wire.ControllerFrame, e *wire.EngineFrame) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dropped >= d.times || !d.match(c, e) {
		return false
	}
	d.dropped++
	return true
}

func (d *dropper) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dropped
}

// hasAssign matches controller data frames with an Assign of attempt a.
func hasAssign(a transport.AttemptID) func(*wire.ControllerFrame, *wire.EngineFrame) bool {
	return func(c *wire.ControllerFrame, _ *wire.EngineFrame) bool {
		if c == nil || c.Kind != wire.Data {
			return false
		}
		for _, m := range c.Msgs {
			if m.Assign != nil && m.Assign.Attempt == a {
				return true
			}
		}
		return false
	}
}

// hasOutcome matches engine data frames with the Outcome of attempt a.
func hasOutcome(a transport.AttemptID) func(*wire.ControllerFrame, *wire.EngineFrame) bool {
	return func(_ *wire.ControllerFrame, e *wire.EngineFrame) bool {
		if e == nil || e.Kind != wire.Data {
			return false
		}
		for _, m := range e.Msgs {
			if m.Outcome != nil && m.Outcome.Attempt == a {
				return true
			}
		}
		return false
	}
}

// recvEngine receives at the engine until it has n messages.
func recvEngine(t *testing.T, ctx context.Context, e *natstransport.EngineEnd, n int) []transport.ToEngine {
	t.Helper()
	var got []transport.ToEngine
	for len(got) < n {
		msgs, err := e.Recv(ctx)
		if err != nil {
			t.Fatalf("engine Recv (after %+v): %v", got, err)
		}
		got = append(got, msgs...)
	}
	return got
}

// recvCtl receives at the controller until it has n messages.
func recvCtl(t *testing.T, ctx context.Context, c *natstransport.ControllerEnd, n int) []transport.FromEngine {
	t.Helper()
	var got []transport.FromEngine
	for len(got) < n {
		msgs, err := c.Recv(ctx)
		if err != nil {
			t.Fatalf("controller Recv (after %+v): %v", got, err)
		}
		got = append(got, msgs...)
	}
	return got
}

// TestDroppedFramesSentAgain: a data frame lost on the way, in either
// direction, is asked for again (a Nack) and sent again, in order, once:
// found missing by the next data frame, or with no next frame by a
// heartbeat (engine's frames) or the Sync that answers one (controller's
// frames); also when what is sent again is lost too. No session is lost
// or reset, and nothing arrives twice.
func TestDroppedFramesSentAgain(t *testing.T) {
	t.Parallel()
	task := &drovertype.Task{Kind: drovertype.MapTask, FuncName: "f"}
	assign := func(a transport.AttemptID) transport.ToEngine {
		return transport.ToEngine{Assign: &transport.Assign{Attempt: a, TaskID: drovertype.TaskID(a), Task: task}}
	}
	outcome := func(a transport.AttemptID) transport.FromEngine {
		return transport.FromEngine{Outcome: &transport.Outcome{Attempt: a, TaskID: drovertype.TaskID(a), Value: int64(a)}}
	}
	for _, tc := range []struct {
		name   string
		toEng  bool // drop controller → engine (an Assign), else engine → controller (an Outcome)
		next   bool // a second data frame follows the lost one
		copies int  // how many copies of the frame are lost
	}{
		{"assign/next-frame", true, true, 1},
		{"assign/sync", true, false, 1},
		{"assign/lost-twice", true, true, 2},
		{"outcome/next-frame", false, true, 1},
		{"outcome/heartbeat", false, false, 1},
		{"outcome/lost-twice", false, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, true, -1)
			ctx, cancel := context.WithTimeout(ctxT(t), 5*time.Second)
			defer cancel()
			var logs logBuf
			cfg := natstransport.Config{Prefix: unique("drop"), HeartbeatInterval: 100 * time.Millisecond, Logger: logs.logger()}
			ctrl := newController(t, s, &cfg)
			eng := newEngine(t, s, cfg, "e")
			register(t, ctrl, eng)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("log:\n%s", logs.String())
				}
			})
			var d *dropper
			if tc.toEng {
				d = newDropper(t, tc.copies, hasAssign(1))
				ctrl.SetDropHook(d.ctl)
				if err := ctrl.Send(ctx, "e", assign(1)); err != nil {
					t.Fatal(err)
				}
				want := 1
				if tc.next {
					if err := ctrl.Send(ctx, "e", assign(2)); err != nil {
						t.Fatal(err)
					}
					want = 2
				}
				got := recvEngine(t, ctx, eng, want)
				if len(got) != want || got[0].Assign == nil || got[0].Assign.Attempt != 1 || (tc.next && (got[1].Assign == nil || got[1].Assign.Attempt != 2)) {
					t.Fatalf("engine got %+v, want the Assigns 1..%d in order", got, want)
				}
				// Nothing more (no copy): the next message is this Call.
				if err := ctrl.Send(ctx, "e", transport.ToEngine{Call: &transport.Call{ID: 9, Op: transport.OpKeys}}); err != nil {
					t.Fatal(err)
				}
				if got := recvEngine(t, ctx, eng, 1); len(got) != 1 || got[0].Call == nil {
					t.Fatalf("engine got %+v, want only Call 9", got)
				}
			} else {
				d = newDropper(t, tc.copies, hasOutcome(1))
				eng.SetDropHook(d.eng)
				if err := eng.Send(ctx, outcome(1)); err != nil {
					t.Fatal(err)
				}
				want := 1
				if tc.next {
					if err := eng.Send(ctx, outcome(2)); err != nil {
						t.Fatal(err)
					}
					want = 2
				}
				got := recvCtl(t, ctx, ctrl, want)
				if len(got) != want || got[0].Outcome == nil || got[0].Outcome.Attempt != 1 || (tc.next && (got[1].Outcome == nil || got[1].Outcome.Attempt != 2)) {
					t.Fatalf("controller got %+v, want the Outcomes 1..%d in order", got, want)
				}
				if err := eng.Send(ctx, transport.FromEngine{Props: &transport.Props{Properties: map[string]any{}}}); err != nil {
					t.Fatal(err)
				}
				if m := recvOne(t, ctx, ctrl); m.Props == nil {
					t.Fatalf("controller got %+v, want only the Props", m)
				}
			}
			if n := d.count(); n != tc.copies {
				t.Errorf("the hook dropped %d frames, want %d", n, tc.copies)
			}
			cst, est := ctrl.Stats(), eng.Stats()
			if cst.Lost != 0 || cst.Resets != 0 || est.Resets != 0 {
				t.Errorf("controller stats %+v, engine stats %+v: want no loss, no reset", cst, est)
			}
			sender, receiver := cst, est
			if !tc.toEng {
				sender, receiver = est, cst
			}
			if receiver.Nacks == 0 || sender.Resent < uint64(tc.copies) {
				t.Errorf("receiver stats %+v, sender stats %+v: want Nacks, and the frame sent again %d times", receiver, sender, tc.copies)
			}
			if strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("warnings logged:\n%s", logs.String())
			}
		})
	}
}

// TestResendOverflow: when the frames asked for again are no longer kept
// (the resend buffer overflowed), the session ends as before the
// retransmission: the controller reports the engine lost, and the engine
// registers again in a new session (after cancelling its attempts).
func TestResendOverflow(t *testing.T) {
	t.Parallel()
	for _, toEng := range []bool{true, false} {
		name := "outcomes"
		if toEng {
			name = "assigns"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, true, -1)
			ctx := ctxT(t)
			cfg := natstransport.Config{Prefix: unique("overflow"), HeartbeatInterval: 100 * time.Millisecond, ResendFrames: 2}
			ctrl := newController(t, s, &cfg)
			eng := newEngine(t, s, cfg, "e")
			register(t, ctrl, eng)
			// The receiver's Nacks are held back until the sender has sent
			// 4 frames after the lost one (its buffer keeps 2).
			var holdNacks atomic.Bool
			holdNacks.Store(true)
			nacks := func(subject string, data []byte, decode func([]byte) bool) bool {
				return holdNacks.Load() && decode(data)
			}
			codec, err := wire.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			isNackE := func(data []byte) bool {
				f, err := codec.DecodeEngineFrame(data)
				return err == nil && f.Kind == wire.Nack
			}
			isNackC := func(data []byte) bool {
				f, err := codec.DecodeControllerFrame(data)
				return err == nil && f.Kind == wire.Nack
			}
			task := &drovertype.Task{Kind: drovertype.MapTask, FuncName: "f"}
			if toEng {
				d := newDropper(t, 1, hasAssign(1))
				ctrl.SetDropHook(d.ctl)
				eng.SetDropHook(func(s string, data []byte) bool { return nacks(s, data, isNackE) })
				for a := range transport.AttemptID(5) {
					if err := ctrl.Send(ctx, "e", transport.ToEngine{Assign: &transport.Assign{Attempt: a + 1, Task: task}}); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				d := newDropper(t, 1, hasOutcome(1))
				eng.SetDropHook(d.eng)
				ctrl.SetDropHook(func(s string, data []byte) bool { return nacks(s, data, isNackC) })
				for a := range transport.AttemptID(5) {
					if err := eng.Send(ctx, transport.FromEngine{Outcome: &transport.Outcome{Attempt: a + 1}}); err != nil {
						t.Fatal(err)
					}
				}
			}
			holdNacks.Store(false)
			got := recvCtl(t, ctx, ctrl, 2)
			if len(got) != 2 || got[0].Lost == nil || got[1].Register == nil || got[1].From != "e" {
				t.Fatalf("controller got %+v, want Lost then the Register of a new session", got)
			}
			reason := got[0].Lost.Reason
			if toEng && !strings.Contains(reason, "no longer kept") {
				t.Errorf("Lost reason %q, want it to say the frames are no longer kept", reason)
			}
			if !toEng && !strings.Contains(reason, "registered again") {
				t.Errorf("Lost reason %q, want a new registration", reason)
			}
			if st := eng.Stats(); st.Resets != 1 {
				t.Errorf("engine stats %+v: want 1 reset", st)
			}
			// The new session works.
			if err := ctrl.Send(ctx, "e", transport.ToEngine{Registered: &transport.Registered{EngineID: 2}}); err != nil {
				t.Fatal(err)
			}
			if got := recvEngine(t, ctx, eng, 1); got[len(got)-1].Registered == nil {
				t.Fatalf("engine got %+v, want Registered last", got)
			}
		})
	}
}

// TestHostileNacks: resend requests for frames never sent, for frames
// acknowledged already (too large a range), repeated at once, or of
// another session, and acknowledgements of frames never sent, are dropped
// with a log line, at both ends; the sessions go on. A good request is
// served: the frame comes again.
func TestHostileNacks(t *testing.T) {
	t.Parallel()
	t.Run("at-controller", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, true, -1)
		ctx := ctxT(t)
		var logs logBuf
		prefix := unique("hnack")
		ctrl := newController(t, s, &natstransport.Config{Prefix: prefix, Logger: logs.logger()})
		p := newPeer(t, connect(t, s), prefix, "p")
		subj := prefix + ".ctl.eng.p"
		p.publishFrame(subj, wire.EngineFrame{Kind: wire.Data, Session: 50, Seq: 1, Msgs: []transport.FromEngine{{Register: &transport.Register{Window: 1}}}})
		if m := recvOne(t, ctx, ctrl); m.Register == nil {
			t.Fatalf("got %+v, want the Register", m)
		}
		if err := ctrl.Send(ctx, "p", transport.ToEngine{Registered: &transport.Registered{EngineID: 1}}); err != nil {
			t.Fatal(err)
		}
		if f := p.expect(ctx, wire.Data); f.Seq != 1 || f.Ack != 1 {
			t.Fatalf("frame %+v, want frame 1 acknowledging 1", f)
		}
		// A good request: frame 1 again.
		p.publishFrame(subj, wire.EngineFrame{Kind: wire.Nack, Session: 50, Seq: 1})
		if f := p.expect(ctx, wire.Data); f.Seq != 1 || len(f.Msgs) != 1 || f.Msgs[0].Registered == nil {
			t.Fatalf("frame %+v, want frame 1 again", f)
		}
		for _, f := range []wire.EngineFrame{
			{Kind: wire.Nack, Session: 50, Seq: 1},               // repeated at once
			{Kind: wire.Nack, Session: 50, Seq: 7},               // never sent
			{Kind: wire.Nack, Session: 50, Seq: 0},               // nonsense
			{Kind: wire.Heartbeat, Session: 50, Seq: 1, Ack: 99}, // acknowledges frames never sent
			{Kind: wire.Heartbeat, Session: 50, Seq: 1, Ack: 1},
			{Kind: wire.Nack, Session: 50, Seq: 1, Ack: 1}, // acknowledged already
			{Kind: wire.Nack, Session: 51, Seq: 1},         // another session
		} {
			p.publishFrame(subj, f)
		}
		// Handled in order: the reset for session 51 comes after the rest.
		if f := p.expect(ctx, wire.Reset); f.Session != 51 {
			t.Fatalf("reset %+v, want one for session 51", f)
		}
		log := logs.String()
		for _, want := range []string{"only 1 sent", "acknowledged 1 already", "from 0 on",
			"acknowledgement of frames never sent", "unknown engine session"} {
			if !strings.Contains(log, want) {
				t.Errorf("no log line with %q; log:\n%s", want, log)
			}
		}
		// The session goes on.
		if err := ctrl.Send(ctx, "p", transport.ToEngine{Shutdown: &transport.Shutdown{}}); err != nil {
			t.Fatal(err)
		}
		if f := p.expect(ctx, wire.Data); f.Seq != 2 || f.Session != 50 {
			t.Fatalf("frame %+v, want frame 2 of session 50", f)
		}
		if st := ctrl.Stats(); st.Lost != 0 || st.Resent != 1 {
			t.Errorf("controller stats %+v: want 1 frame sent again, no loss", st)
		}
		nothingQueued(t, ctrl)
	})
	t.Run("at-engine", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, true, -1)
		ctx := ctxT(t)
		var logs logBuf
		prefix := unique("hnack")
		eng := newEngine(t, s, natstransport.Config{Prefix: prefix, Logger: logs.logger()}, "e")
		// The test plays the controller.
		nc := connect(t, s)
		codec, err := wire.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		in := make(chan []byte, 64)
		sub, err := nc.Subscribe(prefix+".ctl.eng.e", func(m *nats.Msg) { in <- m.Data })
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		expect := func(kind wire.FrameKind) wire.EngineFrame {
			t.Helper()
			for {
				select {
				case data := <-in:
					f, err := codec.DecodeEngineFrame(data)
					if err != nil {
						t.Fatal(err)
					}
					if f.Kind == kind {
						return f
					}
				case <-ctx.Done():
					t.Fatalf("no %v frame from the engine", kind)
				}
			}
		}
		publish := func(f wire.ControllerFrame) {
			t.Helper()
			var buf bytes.Buffer
			if err := codec.AppendControllerFrame(&buf, &f); err != nil {
				t.Fatal(err)
			}
			if err := nc.Publish(prefix+".eng.e.in", buf.Bytes()); err != nil {
				t.Fatal(err)
			}
		}
		if err := eng.Send(ctx, transport.FromEngine{Register: &transport.Register{Window: 1}}); err != nil {
			t.Fatal(err)
		}
		reg := expect(wire.Data)
		id := reg.Session
		publish(wire.ControllerFrame{Kind: wire.Nack, Session: id, Seq: 1}) // good
		if f := expect(wire.Data); f.Seq != 1 || f.Msgs[0].Register == nil {
			t.Fatalf("frame %+v, want frame 1 again", f)
		}
		for _, f := range []wire.ControllerFrame{
			{Kind: wire.Nack, Session: id, Seq: 1},  // repeated at once
			{Kind: wire.Nack, Session: id, Seq: 5},  // never sent
			{Kind: wire.Sync, Session: id, Ack: 40}, // acknowledges frames never sent
			{Kind: wire.Sync, Session: id, Ack: 1},
			{Kind: wire.Nack, Session: id, Seq: 1},     // acknowledged already
			{Kind: wire.Nack, Session: id + 1, Seq: 1}, // another session
			{Kind: wire.Data, Session: id, Seq: 1, Msgs: []transport.ToEngine{{Registered: &transport.Registered{EngineID: 3}}}},
		} {
			publish(f)
		}
		if got := recvEngine(t, ctx, eng, 1); len(got) != 1 || got[0].Registered == nil {
			t.Fatalf("engine got %+v, want Registered", got)
		}
		log := logs.String()
		for _, want := range []string{"only 1 sent", "acknowledged 1 already",
			"bogus acknowledgement", "of another session"} {
			if !strings.Contains(log, want) {
				t.Errorf("no log line with %q; log:\n%s", want, log)
			}
		}
		if st := eng.Stats(); st.Resets != 0 || st.Resent != 1 {
			t.Errorf("engine stats %+v: want 1 frame sent again, no reset", st)
		}
		if err := eng.Send(ctx, transport.FromEngine{Props: &transport.Props{Properties: map[string]any{}}}); err != nil {
			t.Fatal(err)
		}
		if f := expect(wire.Data); f.Seq != 2 || f.Session != id || f.Ack != 1 {
			t.Fatalf("frame %+v, want frame 2 of the session, acknowledging 1", f)
		}
	})
}

// TestFarmLosesNothing: the farm over NATS with a fault-injecting wrapper
// at both ends that drops every 7th data frame to the engines (Assigns)
// and every 5th from them (Outcomes): 300 tasks without retries all
// succeed, each executed exactly once, and no engine is lost.
func TestFarmLosesNothing(t *testing.T) {
	t.Parallel()
	s := startServer(t, true, -1)
	var mu sync.Mutex
	runs := make(map[int64]int)
	reg := doubleRegistry(t, map[string]engine.Func{"count": func(_ context.Context, args []any, _ map[string]any) (any, error) {
		mu.Lock()
		runs[args[0].(int64)]++
		mu.Unlock()
		return args[0], nil
	}})
	cfg := natstransport.Config{Prefix: unique("lossy"), HeartbeatInterval: 200 * time.Millisecond}
	var logs logBuf
	cfg.Logger = logs.logger()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	})
	f := newFarm(t, s, cfg, &controller.Config{Window: 4}, reg)
	every := func(n int) func(string, []byte) bool {
		codec, err := wire.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		var k atomic.Int64
		return func(subject string, data []byte) bool {
			if cf, err := codec.DecodeControllerFrame(data); err == nil && cf.Kind == wire.Data && strings.Contains(subject, ".eng.") {
				return k.Add(1)%int64(n) == 0
			}
			if ef, err := codec.DecodeEngineFrame(data); err == nil && ef.Kind == wire.Data && ef.Seq > 1 && strings.Contains(subject, ".ctl.") {
				return k.Add(1)%int64(n) == 0
			}
			return false
		}
	}
	f.end.SetDropHook(every(7))
	for _, key := range []string{"a", "b"} {
		f.addEngineHooked(key, every(5))
	}
	ctx := ctxT(t)
	const n = 300
	ids := make([]drovertype.TaskID, n)
	for i := range ids {
		task, err := drovertype.NewMapTask("count", []any{int64(i)}, nil, drovertype.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if ids[i], err = f.ctl.Run(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	values, errs, err := f.ctl.Results(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		if errs[i] != nil || values[i] != int64(i) {
			t.Fatalf("task %d: %v, %v; want %d", i, values[i], errs[i], i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range int64(n) {
		if runs[i] != 1 {
			t.Errorf("task %d ran %d times, want once", i, runs[i])
		}
	}
	if st := f.end.Stats(); st.Lost != 0 || st.Resent == 0 || st.Nacks == 0 {
		t.Errorf("controller end stats %+v: want frames asked for and sent again, no engine lost", st)
	}
}

// addEngineHooked is farm.addEngine with a drop hook on the engine end.
func (f *farm) addEngineHooked(key string, drop func(string, []byte) bool) {
	f.t.Helper()
	nc := dial(f.t, f.s)
	f.mu.Lock()
	f.conns = append(f.conns, nc)
	f.mu.Unlock()
	cfg := f.cfg
	cfg.Key = key
	end, err := natstransport.NewEngineEnd(f.ctx, nc, &cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	end.SetDropHook(drop)
	e, err := engine.New(&engine.Config{Name: key, Registry: f.reg, Window: 4})
	if err != nil {
		f.t.Fatal(err)
	}
	f.wg.Go(func() {
		defer end.Close()
		if err := e.Serve(f.ctx, end); err != nil && f.ctx.Err() == nil && !errors.Is(err, transport.ErrClosed) {
			f.t.Logf("engine %s: Serve: %v", key, err)
		}
	})
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	if _, err := f.ctl.WaitEngine(ctx, key); err != nil {
		f.t.Fatalf("engine %s did not register: %v", key, err)
	}
}
