package natstransport_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/natstransport"
	"github.com/drover-dev/drover/transport/wire"
)

// logBuf collects log output (safe for concurrent use).
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// peer is a raw NATS client that speaks the wire format by hand: what a
// hostile or broken engine could publish.
type peer struct {
	t     *testing.T
	nc    *nats.Conn
	codec *wire.Codec
	in    chan *nats.Msg
}

func newPeer(t *testing.T, nc *nats.Conn, prefix, key string) *peer {
	codec, err := wire.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, nc: nc, codec: codec, in: make(chan *nats.Msg, 64)}
	sub, err := nc.ChanSubscribe(prefix+".eng."+key+".in", p.in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *peer) publishFrame(subject string, f wire.EngineFrame) {
	p.t.Helper()
	var buf bytes.Buffer
	if err := p.codec.AppendEngineFrame(&buf, &f); err != nil {
		p.t.Fatal(err)
	}
	if err := p.nc.Publish(subject, buf.Bytes()); err != nil {
		p.t.Fatal(err)
	}
}

// expect waits for a controller frame of kind to this peer.
func (p *peer) expect(ctx context.Context, kind wire.FrameKind) wire.ControllerFrame {
	p.t.Helper()
	for {
		select {
		case m := <-p.in:
			f, err := p.codec.DecodeControllerFrame(m.Data)
			if err != nil {
				p.t.Fatalf("peer: bad frame from the controller: %v", err)
			}
			if f.Kind == kind {
				return f
			}
		case <-ctx.Done():
			p.t.Fatalf("peer: no %v frame: %v", kind, ctx.Err())
		}
	}
}

// nothingQueued checks that the controller has no message ready.
func nothingQueued(t *testing.T, ctrl transport.ControllerEnd) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if msgs, err := ctrl.Recv(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("controller has messages %+v (%v), want none", msgs, err)
	}
}

// TestHostileEngineFrames: frames from a key that never registered, frames
// of an unknown session of a known key, and malformed CBOR are dropped
// with a log line (the unregistered sender is told to reset); a Register
// from a new key is accepted; the controller goes on serving the others.
func TestHostileEngineFrames(t *testing.T) {
	t.Parallel()
	s := startServer(t, true, -1)
	ctx := ctxT(t)
	var logs logBuf
	prefix := unique("hostile")
	cfg := natstransport.Config{Prefix: prefix, Logger: logs.logger()}
	ctrl := newController(t, s, &cfg)
	good := newEngine(t, s, natstransport.Config{Prefix: prefix}, "good")
	register(t, ctrl, good)

	nc := connect(t, s)
	stranger := newPeer(t, nc, prefix, "stranger")
	toCtl := prefix + ".ctl.eng."
	outcome := transport.FromEngine{Outcome: &transport.Outcome{Attempt: 1, TaskID: 0, Value: int64(1)}}

	// 1. A stranger's Outcome: dropped, logged, told to reset.
	stranger.publishFrame(toCtl+"stranger", wire.EngineFrame{Kind: wire.Data, Session: 77, Seq: 1, Msgs: []transport.FromEngine{outcome}})
	if f := stranger.expect(ctx, wire.Reset); f.Session != 77 {
		t.Errorf("reset for session %d, want 77", f.Session)
	}
	if !strings.Contains(logs.String(), "dropped a frame of an unknown engine session") || !strings.Contains(logs.String(), "key=stranger") {
		t.Errorf("no log line about the stranger's frame; log:\n%s", logs.String())
	}
	nothingQueued(t, ctrl)

	// 2. Frames for a known key in a session that is not its own
	// (someone replaying or forging frames of "good"): dropped too.
	stranger.publishFrame(toCtl+"good", wire.EngineFrame{Kind: wire.Data, Session: 12345, Seq: 2, Msgs: []transport.FromEngine{outcome}})
	stranger.publishFrame(toCtl+"good", wire.EngineFrame{Kind: wire.Heartbeat, Session: 12345, Seq: 9})

	// 3. Malformed frames on a known key's subject and on odd subjects.
	for _, data := range [][]byte{nil, []byte("not cbor"), {0xa1, 0x00, 0x05}, {0xbf, 0xff}, bytes.Repeat([]byte{0x81}, 5000)} {
		if err := nc.Publish(toCtl+"good", data); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Publish(toCtl+"good.extra", []byte{0}); err != nil { // not matched by the subscription
		t.Fatal(err)
	}
	// The controller handles frames one at a time in arrival order: once
	// the stranger has its second reset, everything above was handled.
	stranger.publishFrame(toCtl+"stranger", wire.EngineFrame{Kind: wire.Heartbeat, Session: 78, Seq: 0})
	if f := stranger.expect(ctx, wire.Reset); f.Session != 78 {
		t.Errorf("reset for session %d, want 78", f.Session)
	}
	nothingQueued(t, ctrl)
	log := logs.String()
	if n := strings.Count(log, "dropped a malformed frame"); n != 5 {
		t.Errorf("%d log lines about malformed frames, want 5; log:\n%s", n, log)
	}
	if st := ctrl.Stats(); st.Dropped < 8 || st.Lost != 0 {
		t.Errorf("controller stats %+v: want >= 8 dropped, no engine lost", st)
	}

	// The good engine is unaffected: its session and sequence go on.
	if err := good.Send(ctx, outcome); err != nil {
		t.Fatal(err)
	}
	if m := recvOne(t, ctx, ctrl); m.Outcome == nil || m.From != "good" {
		t.Fatalf("got %+v, want the good engine's Outcome", m)
	}
	// A stranger that registers is a new engine.
	stranger.publishFrame(toCtl+"stranger", wire.EngineFrame{Kind: wire.Data, Session: 79, Seq: 1,
		Msgs: []transport.FromEngine{{Register: &transport.Register{Window: 1}}}})
	if m := recvOne(t, ctx, ctrl); m.Register == nil || m.From != "stranger" {
		t.Fatalf("got %+v, want the stranger's Register", m)
	}
}

// TestMalformedControllerFrames: an engine end drops frames it cannot
// decode and frames of other sessions, with a log line, and goes on.
func TestMalformedControllerFrames(t *testing.T) {
	t.Parallel()
	s := startServer(t, true, -1)
	ctx := ctxT(t)
	var logs logBuf
	prefix := unique("mal")
	// The junk goes on the controller's connection, before its Call: the
	// engine receives them in that order.
	nc := connect(t, s)
	ctrl, err := natstransport.NewControllerEnd(ctx, nc, &natstransport.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer ctrl.Close()
	eng := newEngine(t, s, natstransport.Config{Prefix: prefix, Logger: logs.logger()}, "e")
	register(t, ctrl, eng)
	for _, data := range [][]byte{nil, []byte("junk"), {0xa2, 0x00, 0x01, 0x01, 0x02}} {
		if err := nc.Publish(prefix+".eng.e.in", data); err != nil {
			t.Fatal(err)
		}
	}
	if err := ctrl.Send(ctx, "e", transport.ToEngine{Call: &transport.Call{ID: 3, Op: transport.OpKeys}}); err != nil {
		t.Fatal(err)
	}
	got, err := eng.Recv(ctx)
	if err != nil || len(got) != 1 || got[0].Call == nil || got[0].Call.ID != 3 {
		t.Fatalf("engine got %+v, %v; want Call 3", got, err)
	}
	if n := strings.Count(logs.String(), "engine dropped a malformed frame"); n != 3 {
		t.Errorf("%d log lines about malformed frames, want 3; log:\n%s", n, logs.String())
	}
	if st := eng.Stats(); st.Resets != 0 {
		t.Errorf("engine stats %+v: want no reset", st)
	}
}

// TestOversized: what does not fit in one NATS message.
func TestOversized(t *testing.T) {
	t.Parallel()
	s := startServer(t, true, -1)
	ctx := ctxT(t)
	const limit = 4096
	cfg := natstransport.Config{Prefix: unique("big"), MaxMessageSize: limit}
	ctrl := newController(t, s, &cfg)
	eng := newEngine(t, s, cfg, "e")
	register(t, ctrl, eng)
	big := strings.Repeat("x", 2*limit)

	// Controller → engine: the Assign too large fails at once (an Outcome
	// from the transport) and Send says so; the small messages around it
	// go.
	huge := &drovertype.Task{Kind: drovertype.MapTask, FuncName: "f", Args: []any{big}}
	small := &drovertype.Task{Kind: drovertype.MapTask, FuncName: "f"}
	err := ctrl.Send(ctx, "e",
		transport.ToEngine{Assign: &transport.Assign{Attempt: 1, TaskID: 10, Task: small}},
		transport.ToEngine{Assign: &transport.Assign{Attempt: 2, TaskID: 11, Task: huge}},
		transport.ToEngine{Call: &transport.Call{ID: 4, Op: transport.OpPush, Values: map[string]any{"v": big}}},
		transport.ToEngine{Cancel: &transport.Cancel{Attempt: 1}})
	if !errors.Is(err, natstransport.ErrTooLarge) || !strings.Contains(err.Error(), "message 1 (task 11 (attempt 2)) is 8") ||
		!strings.Contains(err.Error(), "over the limit of 4096 bytes") || !strings.Contains(err.Error(), "call 4 (push)") {
		t.Fatalf("Send with oversized messages: %v", err)
	}
	// The messages that fit may arrive in one batch or several.
	var got []transport.ToEngine
	err = nil
	for err == nil && len(got) < 2 {
		var more []transport.ToEngine
		more, err = eng.Recv(ctx)
		got = append(got, more...)
	}
	if err != nil || len(got) != 2 || got[0].Assign == nil || got[0].Assign.Attempt != 1 || got[1].Cancel == nil {
		t.Fatalf("engine got %+v, %v; want Assign 1 and Cancel 1", got, err)
	}
	var answers []transport.FromEngine
	for err == nil && len(answers) < 2 {
		var more []transport.FromEngine
		more, err = ctrl.Recv(ctx)
		answers = append(answers, more...)
	}
	if err != nil || len(answers) != 2 {
		t.Fatalf("controller got %+v, %v; want the failures of attempt 2 and call 4", answers, err)
	}
	if o := answers[0].Outcome; o == nil || o.Attempt != 2 || o.TaskID != 11 || !errors.Is(o.Err, drovertype.ErrInvalidArgument) ||
		o.Err.Type != "MessageTooLarge" || !strings.Contains(o.Err.Message, "over the NATS message limit of 4096 bytes") || answers[0].From != "e" {
		t.Errorf("answer to the oversized Assign: %+v (%v)", answers[0], o)
	}
	if r := answers[1].Reply; r == nil || r.ID != 4 || r.Err == nil || r.Err.Type != "MessageTooLarge" {
		t.Errorf("answer to the oversized Call: %+v", answers[1])
	}

	// Engine → controller: an Outcome too large arrives as a failure (the
	// engine keeps serving: Send succeeds); a Props too large is an error.
	if err := eng.Send(ctx, transport.FromEngine{Outcome: &transport.Outcome{Attempt: 1, TaskID: 10, Value: big}},
		transport.FromEngine{Reply: &transport.Reply{ID: 8, Value: []byte(big)}}); err != nil {
		t.Fatalf("engine Send of an oversized Outcome: %v", err)
	}
	got2, err := ctrl.Recv(ctx)
	if err != nil || len(got2) != 2 {
		t.Fatalf("controller got %+v, %v", got2, err)
	}
	if o := got2[0].Outcome; o == nil || o.Value != nil || o.Err == nil || o.Err.TaskID != 10 ||
		!strings.Contains(o.Err.Message, "the result of task 10 (attempt 1) is 8") {
		t.Errorf("oversized Outcome arrived as %+v (%v)", got2[0], o)
	}
	if r := got2[1].Reply; r == nil || r.Value != nil || r.Err == nil || !strings.Contains(r.Err.Message, "the reply to call 8") {
		t.Errorf("oversized Reply arrived as %+v", got2[1])
	}
	err = eng.Send(ctx, transport.FromEngine{Props: &transport.Props{Properties: map[string]any{"p": big}}})
	if !errors.Is(err, natstransport.ErrTooLarge) || !strings.Contains(err.Error(), "message 0 is 8") {
		t.Errorf("engine Send of oversized Props: %v", err)
	}

	// A batch larger than one message but made of small ones is split
	// into several frames, in order.
	var batch []transport.FromEngine
	for i := range 200 {
		batch = append(batch, transport.FromEngine{Outcome: &transport.Outcome{Attempt: transport.AttemptID(100 + i), Value: strings.Repeat("v", 100)}})
	}
	framesBefore := eng.Stats().FramesOut
	if err := eng.Send(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	if n := eng.Stats().FramesOut - framesBefore; n < 5 {
		t.Errorf("200 messages of ~110 bytes went in %d frames of at most %d bytes", n, limit)
	}
	var all []transport.FromEngine
	for len(all) < len(batch) {
		msgs, err := ctrl.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, msgs...)
	}
	for i, m := range all {
		if m.Outcome == nil || m.Outcome.Attempt != transport.AttemptID(100+i) {
			t.Fatalf("message %d: %+v, want the Outcome of attempt %d", i, m, 100+i)
		}
	}
	if st := ctrl.Stats(); st.Lost != 0 || st.Resets != 0 {
		t.Errorf("controller stats %+v: want no loss", st)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, true, -1)
	nc := connect(t, s)
	ctx := ctxT(t)
	for _, tc := range []struct {
		cfg  natstransport.Config
		want string
	}{
		{natstransport.Config{Prefix: "a..b"}, `Config.Prefix "a..b"`},
		{natstransport.Config{Prefix: "a.*"}, `Config.Prefix`},
		{natstransport.Config{HeartbeatInterval: -1}, "Config.HeartbeatInterval"},
		{natstransport.Config{MissedHeartbeats: -1}, "Config.MissedHeartbeats"},
		{natstransport.Config{MaxMessageSize: 1 << 30}, "over the server's max_payload"},
		{natstransport.Config{MaxMessageSize: 10}, "want >= 1024"},
		{natstransport.Config{MaxBacklog: -1}, "Config.MaxBacklog"},
	} {
		if _, err := natstransport.NewControllerEnd(ctx, nc, &tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewControllerEnd(%+v): %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
	for _, key := range []string{"", "a.b", "a b", "*", ">", strings.Repeat("k", 300), "tab\t"} {
		if _, err := natstransport.NewEngineEnd(ctx, nc, &natstransport.Config{Key: key}); err == nil || !strings.Contains(err.Error(), "Config.Key") {
			t.Errorf("NewEngineEnd with key %q: %v, want a Config.Key error", key, err)
		}
	}
	if _, err := natstransport.NewControllerEnd(ctx, nil, nil); err == nil {
		t.Errorf("NewControllerEnd(nil conn): no error")
	}
}

// TestBacklogFull: a controller that does not receive while an engine
// floods it keeps MaxBacklog messages; the engine's next frame loses it
// (so its attempts would be retried), its later frames are dropped, and it
// registers again once there is room.
func TestBacklogFull(t *testing.T) {
	t.Parallel()
	s := startServer(t, true, -1)
	ctx := ctxT(t)
	const backlog = 16
	prefix := unique("flood")
	cfg := natstransport.Config{Prefix: prefix, MaxBacklog: backlog, HeartbeatInterval: 10 * time.Millisecond}
	ctrl := newController(t, s, &cfg)
	enc := connect(t, s)
	cfg.Key = "flood"
	eng, err := natstransport.NewEngineEnd(ctx, enc, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	register(t, ctrl, eng)
	for i := range 40 {
		if err := eng.Send(ctx, transport.FromEngine{Outcome: &transport.Outcome{Attempt: transport.AttemptID(i + 1)}}); err != nil {
			t.Fatal(err)
		}
	}
	// Frames from one connection are handled in order: when the
	// controller answers this stranger, it has handled the 40 above.
	p := newPeer(t, enc, prefix, "sync")
	p.publishFrame(prefix+".ctl.eng.sync", wire.EngineFrame{Kind: wire.Heartbeat, Session: 1})
	p.expect(ctx, wire.Reset)

	var got []transport.FromEngine
	for len(got) == 0 || got[len(got)-1].Register == nil {
		msgs, err := ctrl.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, msgs...)
	}
	if len(got) != backlog+2 {
		t.Fatalf("controller got %d messages, want %d outcomes, Lost, Register: %+v", len(got), backlog, got)
	}
	for i, m := range got[:backlog] {
		if m.Outcome == nil || m.Outcome.Attempt != transport.AttemptID(i+1) {
			t.Fatalf("message %d: %+v, want the Outcome of attempt %d", i, m, i+1)
		}
	}
	if l := got[backlog].Lost; l == nil || !strings.Contains(l.Reason, "backlog full") {
		t.Errorf("message %d: %+v, want Lost (backlog full)", backlog, got[backlog])
	}
	if got[backlog+1].Register == nil || got[backlog+1].From != "flood" {
		t.Errorf("last message %+v, want the Register of flood", got[backlog+1])
	}
}
