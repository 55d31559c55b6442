package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/memtransport"
)

// driver is a minimal controller for tests: it drives one engine's Serve
// over memtransport, message by message.
type driver struct {
	t      *testing.T
	e      *engine.Engine
	hub    *memtransport.Hub
	ctrl   transport.ControllerEnd
	end    transport.EngineEnd
	addr   string
	cancel context.CancelFunc
	done   chan error
	buf    []transport.FromEngine
	reg    *transport.Register
}

// serve starts e's Serve and registers it under id; cleanup stops it and
// checks that it returned.
func serve(t *testing.T, e *engine.Engine, id drovertype.EngineID) *driver {
	t.Helper()
	hub, err := memtransport.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, e: e, hub: hub, ctrl: hub.Controller(), end: hub.NewEngine(), done: make(chan error, 1)}
	d.addr = d.end.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() { d.done <- e.Serve(ctx, d.end) }()
	t.Cleanup(func() {
		cancel()
		if err := <-d.done; err != nil {
			t.Errorf("Serve returned %v after its ctx was cancelled, want nil", err)
		}
		d.end.Close()
		d.ctrl.Close()
	})
	m := d.next()
	if m.Register == nil || m.From != d.addr {
		t.Fatalf("first message %+v, want Register from %s", m, d.addr)
	}
	d.reg = m.Register
	d.send(transport.ToEngine{Registered: &transport.Registered{EngineID: id}})
	return d
}

func (d *driver) send(msgs ...transport.ToEngine) {
	d.t.Helper()
	if err := d.ctrl.Send(d.t.Context(), d.addr, msgs...); err != nil {
		d.t.Fatalf("controller Send: %v", err)
	}
}

// next returns the next message from the engine.
func (d *driver) next() transport.FromEngine {
	d.t.Helper()
	for len(d.buf) == 0 {
		msgs, err := d.ctrl.Recv(d.t.Context())
		if err != nil {
			d.t.Fatalf("controller Recv: %v", err)
		}
		d.buf = msgs
	}
	m := d.buf[0]
	d.buf = d.buf[1:]
	return m
}

func (d *driver) outcome() *transport.Outcome {
	d.t.Helper()
	m := d.next()
	if m.Outcome == nil {
		d.t.Fatalf("got %+v, want an Outcome", m)
	}
	return m.Outcome
}

func (d *driver) reply() *transport.Reply {
	d.t.Helper()
	m := d.next()
	if m.Reply == nil {
		d.t.Fatalf("got %+v, want a Reply", m)
	}
	return m.Reply
}

func assign(attempt transport.AttemptID, id drovertype.TaskID, task *drovertype.Task) transport.ToEngine {
	return transport.ToEngine{Assign: &transport.Assign{Attempt: attempt, TaskID: id, Task: task}}
}

func call(id transport.CallID, op transport.CallOp, f func(*transport.Call)) transport.ToEngine {
	c := &transport.Call{ID: id, Op: op}
	if f != nil {
		f(c)
	}
	return transport.ToEngine{Call: c}
}

// blocker returns a registry with "block", a Go function that says it
// started and waits for its ctx, and the channel it says it on.
func blocker() (*engine.Registry, chan struct{}) {
	started := make(chan struct{}, 16)
	r := testRegistry()
	r.MustRegister("block", func(ctx context.Context, _ []any, _ map[string]any) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	return r, started
}

func TestServeRegister(t *testing.T) {
	t.Parallel()
	e := newEngine(t, &engine.Config{Name: "e1", Window: 3, AllowCommands: true, Registry: testRegistry(), Properties: map[string]any{"gpu": true}})
	d := serve(t, e, 7)
	want := &transport.Register{Name: "e1", Properties: map[string]any{"gpu": true}, Window: 3,
		Capabilities: transport.Capabilities{Commands: true, Functions: []string{"add", "fails", "panics", "struct", "typed", "wait"}}}
	if diff := cmp.Diff(want, d.reg); diff != "" {
		t.Errorf("Register (-want +got):\n%s", diff)
	}
	// Registered changes the id, and `id` in the namespace.
	d.send(call(1, transport.OpPull, func(c *transport.Call) { c.Names, c.Single = []string{"id"}, true }))
	if r := d.reply(); r.Err != nil || r.Value != int64(7) || r.ID != 1 {
		t.Errorf("pull id: %+v", r)
	}
	if e.ID() != 7 {
		t.Errorf("ID() = %d, want 7", e.ID())
	}
	// A second Serve is refused.
	if err := e.Serve(t.Context(), d.hub.NewEngine()); !errors.Is(err, engine.ErrServing) {
		t.Errorf("second Serve: %v, want ErrServing", err)
	}
}

// TestServeTasks: attempts run in order, outcomes come back in order, calls
// interleave with attempts in arrival order.
func TestServeTasks(t *testing.T) {
	t.Parallel()
	e := newEngine(t, &engine.Config{Registry: testRegistry(), Window: 4})
	d := serve(t, e, 2)
	var msgs []transport.ToEngine
	for i := range 10 {
		msgs = append(msgs, assign(transport.AttemptID(100+i), drovertype.TaskID(i), mapTask(t, "add", []any{int64(i), int64(1)}, nil, drovertype.Options{})))
	}
	msgs = append(msgs,
		call(1, transport.OpPush, func(c *transport.Call) { c.Values = map[string]any{"a": int64(2)} }),
		assign(110, 10, stringTask(t, "b = a * 3", nil, "b", drovertype.Options{})),
		assign(111, 11, starTask(t, "def f():\n    return b + a", "f", nil, nil, drovertype.Options{})),
		call(2, transport.OpExecute, func(c *transport.Call) { c.Code = "c = b + 1" }),
		call(3, transport.OpPull, func(c *transport.Call) { c.Names = []string{"a", "b", "c"} }),
		call(4, transport.OpKeys, nil),
		call(5, transport.OpExecute, func(c *transport.Call) { c.Code = "d = 1 / 0" }),
		call(6, transport.OpExecute, func(c *transport.Call) { c.Code = "while True:\n    pass"; c.StepBudget = 1000 }),
	)
	d.send(msgs...)
	for i := range 10 {
		o := d.outcome()
		if o.Attempt != transport.AttemptID(100+i) || o.TaskID != drovertype.TaskID(i) || o.Err != nil || o.Value != int64(i+1) {
			t.Fatalf("outcome %d: %+v", i, o)
		}
	}
	if r := d.reply(); r.ID != 1 || r.Err != nil {
		t.Errorf("push reply %+v", r)
	}
	if o := d.outcome(); o.Attempt != 110 || o.Err != nil || !cmp.Equal(o.Value.(*drovertype.TaskResult).Results, map[string]any{"b": int64(6)}) {
		t.Errorf("string task outcome %+v", o)
	}
	if o := d.outcome(); o.Attempt != 111 || o.Err != nil || o.Value != int64(8) {
		t.Errorf("starlark map task outcome %+v", o)
	}
	if r := d.reply(); r.ID != 2 || r.Err != nil {
		t.Errorf("execute reply %+v", r)
	}
	if r := d.reply(); r.ID != 3 || r.Err != nil || !cmp.Equal(r.Value, []any{int64(2), int64(6), int64(7)}) {
		t.Errorf("pull reply %+v", r)
	}
	if r := d.reply(); r.ID != 4 || !cmp.Equal(r.Value, []any{"a", "b", "c", "id", "properties"}) {
		t.Errorf("keys reply %+v", r)
	}
	if r := d.reply(); r.ID != 5 || r.Err == nil || r.Err.Type != "ZeroDivisionError" || r.Err.EngineID != 2 {
		t.Errorf("failing execute reply %+v", r)
	}
	if r := d.reply(); r.ID != 6 || !errors.Is(r.Err, engine.ErrStepBudget) {
		t.Errorf("execute over its call's budget: %+v", r)
	}
}

func TestServeProperties(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEngine(t, nil)
	d := serve(t, e, 1)
	d.send(
		call(1, transport.OpSetProperties, func(c *transport.Call) { c.Values = map[string]any{"a": int64(1), "b": "x"} }),
		call(2, transport.OpGetProperties, nil),
		call(3, transport.OpGetProperties, func(c *transport.Call) { c.Names = []string{"b"} }),
		call(4, transport.OpHasProperties, func(c *transport.Call) { c.Names = []string{"a", "z"} }),
		call(5, transport.OpDelProperties, func(c *transport.Call) { c.Names = []string{"z"} }),
		call(6, transport.OpDelProperties, func(c *transport.Call) { c.Names = []string{"a"} }),
		call(7, transport.OpSetProperties, func(c *transport.Call) { c.Values = map[string]any{"bad": struct{}{}} }),
		call(8, transport.OpClearProperties, nil),
		call(9, transport.OpReset, nil),
		call(10, transport.CallOp(99), nil),
	)
	r := d.reply()
	if r.Err != nil || r.Props == nil || !cmp.Equal(r.Props.Properties, map[string]any{"a": int64(1), "b": "x"}) {
		t.Errorf("set: %+v", r)
	}
	if r := d.reply(); !cmp.Equal(r.Value, map[string]any{"a": int64(1), "b": "x"}) || r.Props != nil {
		t.Errorf("get all: %+v", r)
	}
	if r := d.reply(); !cmp.Equal(r.Value, map[string]any{"b": "x"}) {
		t.Errorf("get b: %+v", r)
	}
	if r := d.reply(); !cmp.Equal(r.Value, []any{true, false}) {
		t.Errorf("has: %+v", r)
	}
	if r := d.reply(); r.Err == nil || r.Err.Type != "KeyError" || r.Props != nil {
		t.Errorf("del z: %+v", r)
	}
	if r := d.reply(); r.Err != nil || r.Props == nil || !cmp.Equal(r.Props.Properties, map[string]any{"b": "x"}) {
		t.Errorf("del a: %+v", r)
	}
	if r := d.reply(); !errors.Is(r.Err, drovertype.ErrInvalidProperty) {
		t.Errorf("set bad: %+v", r)
	}
	if r := d.reply(); r.Props == nil || len(r.Props.Properties) != 0 {
		t.Errorf("clear: %+v", r)
	}
	if r := d.reply(); r.Err != nil || r.Props != nil {
		t.Errorf("reset with no properties: %+v", r)
	}
	if r := d.reply(); r.Err == nil || r.Err.Type != "ValueError" {
		t.Errorf("unknown op: %+v", r)
	}
	// A direct change while serving is sent as Props.
	if err := e.SetProperties(ctx, map[string]any{"direct": true}); err != nil {
		t.Fatal(err)
	}
	m := d.next()
	if m.Props == nil || !cmp.Equal(m.Props.Properties, map[string]any{"direct": true}) {
		t.Errorf("after a direct SetProperties: %+v, want Props", m)
	}
}

// TestServeCancel: Cancel of a queued attempt answers at once; Cancel of
// the running attempt stops it, with the kind the Cancel names.
func TestServeCancel(t *testing.T) {
	t.Parallel()
	reg, started := blocker()
	printed := make(chan struct{}, 1)
	e := newEngine(t, &engine.Config{Registry: reg, Print: func(string) { printed <- struct{}{} }})
	d := serve(t, e, 4)
	block := mapTask(t, "block", nil, nil, drovertype.Options{})
	d.send(
		assign(1, 10, block),
		assign(2, 11, mapTask(t, "add", []any{int64(1)}, nil, drovertype.Options{})),
		assign(3, 12, mapTask(t, "add", []any{int64(2)}, nil, drovertype.Options{})),
	)
	<-started
	// Attempt 2 is queued behind the running attempt 1.
	d.send(transport.ToEngine{Cancel: &transport.Cancel{Attempt: 2}})
	o := d.outcome()
	if o.Attempt != 2 || !errors.Is(o.Err, drovertype.ErrTaskAborted) || o.Err.TaskID != 11 || o.Err.EngineID != 4 || !o.Started.IsZero() {
		t.Fatalf("cancelled queued attempt: %+v (err %v)", o, o.Err)
	}
	d.send(transport.ToEngine{Cancel: &transport.Cancel{Attempt: 1}})
	if o := d.outcome(); o.Attempt != 1 || !errors.Is(o.Err, drovertype.ErrTaskAborted) || o.Err.TaskID != 10 {
		t.Fatalf("cancelled running attempt: %+v (err %v)", o, o.Err)
	}
	if o := d.outcome(); o.Attempt != 3 || o.Err != nil || o.Value != int64(2) {
		t.Fatalf("attempt after the cancelled ones: %+v", o)
	}
	// A busy Starlark loop, stopped as a timeout.
	d.send(assign(4, 13, stringTask(t, "print('go')\nwhile True:\n    pass", nil, nil, drovertype.Options{})))
	<-printed
	d.send(transport.ToEngine{Cancel: &transport.Cancel{Attempt: 4, Kind: drovertype.TaskTimeout, Message: "too slow"}})
	o = d.outcome()
	if o.Attempt != 4 || !errors.Is(o.Err, drovertype.ErrTaskTimeout) || o.Err.Message != "too slow" {
		t.Fatalf("timed-out loop: %+v (err %v)", o, o.Err)
	}
	if tr := o.Value.(*drovertype.TaskResult); tr.Failure != o.Err {
		t.Errorf("string task result failure %v, want the outcome's error", tr.Failure)
	}
	// An attempt's own timeout, counted by the engine.
	d.send(assign(6, 15, stringTask(t, "while True:\n    pass", nil, nil, drovertype.Options{Timeout: 20 * time.Millisecond})))
	if o := d.outcome(); o.Attempt != 6 || !errors.Is(o.Err, drovertype.ErrTaskTimeout) || !strings.Contains(o.Err.Message, "timed out after 20ms on engine 4") {
		t.Fatalf("attempt past its timeout: %+v (err %v)", o, o.Err)
	}
	// Cancel of an attempt that has a timeout of its own.
	d.send(assign(7, 16, stringTask(t, "print('go')\nwhile True:\n    pass", nil, nil, drovertype.Options{Timeout: time.Hour})))
	<-printed
	d.send(transport.ToEngine{Cancel: &transport.Cancel{Attempt: 7}})
	if o := d.outcome(); o.Attempt != 7 || !errors.Is(o.Err, drovertype.ErrTaskAborted) {
		t.Fatalf("cancelled attempt with a timeout: %+v (err %v)", o, o.Err)
	}
	// A Cancel for an attempt that is over is ignored.
	d.send(transport.ToEngine{Cancel: &transport.Cancel{Attempt: 3}}, call(1, transport.OpKeys, nil))
	if r := d.reply(); r.ID != 1 {
		t.Errorf("after a stale Cancel: %+v", r)
	}
}

// TestServeShutdown: Shutdown stops the running attempt (EngineLost) and
// hands back the queued ones in Bye.
func TestServeShutdown(t *testing.T) {
	t.Parallel()
	reg, started := blocker()
	e := newEngine(t, &engine.Config{Registry: reg})
	hub, _ := memtransport.New(nil)
	ctrl, end := hub.Controller(), hub.NewEngine()
	defer ctrl.Close()
	done := make(chan error, 1)
	go func() { done <- e.Serve(t.Context(), end) }()
	d := &driver{t: t, e: e, ctrl: ctrl, end: end, addr: end.Addr()}
	if m := d.next(); m.Register == nil {
		t.Fatalf("got %+v, want Register", m)
	}
	block := mapTask(t, "block", nil, nil, drovertype.Options{})
	d.send(assign(1, 1, block), assign(2, 2, block), assign(3, 3, block))
	<-started
	d.send(transport.ToEngine{Shutdown: &transport.Shutdown{Reason: "test"}})
	o := d.outcome()
	if o.Attempt != 1 || !errors.Is(o.Err, drovertype.ErrEngineLost) {
		t.Errorf("running attempt at shutdown: %+v (err %v)", o, o.Err)
	}
	m := d.next()
	if m.Bye == nil || !cmp.Equal(m.Bye.Unstarted, []transport.AttemptID{2, 3}) || m.Bye.Reason != "shutdown" {
		t.Errorf("got %+v, want Bye with attempts 2 and 3 unstarted", m)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	// The engine is usable directly afterwards, and can serve again.
	if err := e.Execute(t.Context(), "x = 1"); err != nil {
		t.Error(err)
	}
}

// TestServeContextEnd: when Serve's ctx ends it stops the running attempt
// and says goodbye.
func TestServeContextEnd(t *testing.T) {
	t.Parallel()
	reg, started := blocker()
	e := newEngine(t, &engine.Config{Registry: reg})
	d := serve(t, e, 3)
	d.send(assign(1, 1, mapTask(t, "block", nil, nil, drovertype.Options{})), assign(2, 2, mapTask(t, "add", nil, nil, drovertype.Options{})))
	<-started
	d.cancel()
	if o := d.outcome(); o.Attempt != 1 || !errors.Is(o.Err, drovertype.ErrEngineLost) {
		t.Errorf("running attempt when ctx ended: %+v (err %v)", o, o.Err)
	}
	if m := d.next(); m.Bye == nil || !cmp.Equal(m.Bye.Unstarted, []transport.AttemptID{2}) {
		t.Errorf("got %+v, want Bye with attempt 2 unstarted", m)
	}
}

// TestServeTransportClosed: Serve returns the transport's error when the
// controller goes away.
func TestServeTransportClosed(t *testing.T) {
	t.Parallel()
	e := newEngine(t, nil)
	hub, _ := memtransport.New(nil)
	ctrl, end := hub.Controller(), hub.NewEngine()
	done := make(chan error, 1)
	go func() { done <- e.Serve(t.Context(), end) }()
	if msgs, err := ctrl.Recv(t.Context()); err != nil || msgs[0].Register == nil {
		t.Fatalf("Recv: %v %v", msgs, err)
	}
	ctrl.Close()
	if err := <-done; !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Serve after the controller closed: %v, want ErrClosed", err)
	}
}
