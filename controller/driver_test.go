package controller_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/memtransport"
)

// farm is a controller on an in-memory hub, for tests that run inside a
// synctest bubble: test drivers play the engines, so that a test decides
// exactly when each attempt ends.
type farm struct {
	t   *testing.T
	hub *memtransport.Hub
	c   *controller.Controller
}

// newFarm starts a controller with cfg (nil: defaults) and stops it (hard)
// at cleanup.
func newFarm(t *testing.T, cfg *controller.Config) *farm {
	t.Helper()
	hub, err := memtransport.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := controller.New(hub.Controller(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = c.Stop(ctx)
		_ = hub.Controller().Close()
	})
	return &farm{t: t, hub: hub, c: c}
}

// driver plays one engine: it registers, then hands every message it
// receives to the test, which answers through its methods.
type driver struct {
	t   *testing.T
	end transport.EngineEnd
	id  drovertype.EngineID
	in  chan transport.ToEngine
}

// engine registers a driver with properties props and window (0: 1).
func (f *farm) engine(props map[string]any, window int, caps ...string) *driver {
	f.t.Helper()
	if window == 0 {
		window = 1
	}
	d := &driver{t: f.t, end: f.hub.NewEngine(), in: make(chan transport.ToEngine, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(d.in)
		for {
			msgs, err := d.end.Recv(context.Background())
			if err != nil {
				return
			}
			for _, m := range msgs {
				d.in <- m
			}
		}
	}()
	f.t.Cleanup(func() {
		_ = d.end.Close()
		<-done
	})
	reg := &transport.Register{Name: "driver", Properties: props, Window: window}
	for _, c := range caps {
		if c == "commands" {
			reg.Capabilities.Commands = true
		}
	}
	d.send(transport.FromEngine{Register: reg})
	m := d.next()
	if m.Registered == nil {
		f.t.Fatalf("engine: first message is %+v, want Registered", m)
	}
	d.id = m.Registered.EngineID
	return d
}

func (d *driver) send(msgs ...transport.FromEngine) {
	d.t.Helper()
	if err := d.end.Send(context.Background(), msgs...); err != nil {
		d.t.Fatalf("engine send: %v", err)
	}
}

// next returns the next message the controller sent, once everything in
// the bubble is blocked; it fails the test if there is none.
func (d *driver) next() transport.ToEngine {
	d.t.Helper()
	synctest.Wait()
	select {
	case m, ok := <-d.in:
		if !ok {
			d.t.Fatalf("engine %d: connection closed", d.id)
		}
		return m
	default:
		d.t.Fatalf("engine %d: no message", d.id)
		return transport.ToEngine{}
	}
}

// none checks that the controller sent nothing more.
func (d *driver) none() {
	d.t.Helper()
	synctest.Wait()
	select {
	case m, ok := <-d.in:
		if ok {
			d.t.Fatalf("engine %d: unexpected message %s", d.id, describe(m))
		}
	default:
	}
}

func describe(m transport.ToEngine) string {
	switch {
	case m.Assign != nil:
		return "Assign(task " + itoa(int64(m.Assign.TaskID)) + ")"
	case m.Cancel != nil:
		return "Cancel"
	case m.Call != nil:
		return "Call(" + m.Call.Op.String() + ")"
	case m.Shutdown != nil:
		return "Shutdown"
	case m.Registered != nil:
		return "Registered"
	}
	return "empty"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// assign returns the next message, which must be an Assign.
func (d *driver) assign() *transport.Assign {
	d.t.Helper()
	m := d.next()
	if m.Assign == nil {
		d.t.Fatalf("engine %d: got %s, want Assign", d.id, describe(m))
	}
	return m.Assign
}

// assignOf returns the next Assign and checks its task id.
func (d *driver) assignOf(id drovertype.TaskID) *transport.Assign {
	d.t.Helper()
	a := d.assign()
	if a.TaskID != id {
		d.t.Fatalf("engine %d: assigned task %d, want %d", d.id, a.TaskID, id)
	}
	return a
}

// succeed reports a's success with value v.
func (d *driver) succeed(a *transport.Assign, v any) {
	d.t.Helper()
	now := time.Now()
	if a.Task.Kind == drovertype.StringTask && v == nil {
		tr := &drovertype.TaskResult{TaskID: a.TaskID, EngineID: d.id, Kind: drovertype.StringTask, Results: map[string]any{}}
		tr.SetTimes(now, now)
		v = tr
	}
	d.send(transport.FromEngine{Outcome: &transport.Outcome{Attempt: a.Attempt, TaskID: a.TaskID, Value: v, Started: now, Ended: now}})
}

// fail reports a's failure with err (a string task gets a TaskResult
// carrying it, as the engine does).
func (d *driver) fail(a *transport.Assign, err *drovertype.TaskError) {
	d.t.Helper()
	now := time.Now()
	var v any
	if a.Task.Kind == drovertype.StringTask {
		tr := &drovertype.TaskResult{TaskID: a.TaskID, EngineID: d.id, Kind: drovertype.StringTask, Failure: err}
		tr.SetTimes(now, now)
		v = tr
	}
	d.send(transport.FromEngine{Outcome: &transport.Outcome{Attempt: a.Attempt, TaskID: a.TaskID, Value: v, Err: err, Started: now, Ended: now}})
}

// zeroDiv is a remote failure.
func zeroDiv() *drovertype.TaskError {
	return drovertype.NewRemoteError(drovertype.NoTask, drovertype.NoEngine, "ZeroDivisionError", "division by zero", "")
}

// mapTask returns a map task calling f with args.
func mapTask(t *testing.T, f string, opts drovertype.Options, args ...any) *drovertype.Task {
	t.Helper()
	tk, err := drovertype.NewMapTask(f, args, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func stringTask(t *testing.T, code string, opts drovertype.Options) *drovertype.Task {
	t.Helper()
	tk, err := drovertype.NewStringTask(code, nil, "a", opts)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// run runs tk and returns its id.
func (f *farm) run(tk *drovertype.Task) drovertype.TaskID {
	f.t.Helper()
	id, err := f.c.Run(context.Background(), tk)
	if err != nil {
		f.t.Fatalf("run: %v", err)
	}
	return id
}

// result is Result with a background context.
func (f *farm) result(id drovertype.TaskID) (any, error) {
	return f.c.Result(context.Background(), id)
}

// poll checks whether id has finished, without waiting.
func (f *farm) poll(id drovertype.TaskID) bool {
	f.t.Helper()
	_, done, err := f.c.Poll(context.Background(), id)
	if err != nil && !done {
		f.t.Fatalf("poll %d: %v", id, err)
	}
	return done
}

// kindOf returns the kind of err's TaskError, or "" for nil.
func kindOf(err error) drovertype.Kind {
	if err == nil {
		return ""
	}
	var te *drovertype.TaskError
	if errors.As(err, &te) {
		return te.Kind
	}
	return drovertype.KindOf(err)
}

// depends is a DependCompiler for tests: the source "key=value" requires
// properties[key] to be the string value; "boom" fails to compile; "panic"
// compiles to a predicate that panics.
func depends(d *drovertype.Depend) (func(map[string]any) bool, error) {
	switch d.Source {
	case "boom":
		return nil, errors.New("syntax error: boom")
	case "panic":
		return func(map[string]any) bool { panic("depend panicked") }, nil
	}
	k, v, ok := strings.Cut(d.Source, "=")
	if !ok {
		return nil, errors.New("want key=value")
	}
	return func(p map[string]any) bool { s, _ := p[k].(string); return s == v }, nil
}

// propsMsg is a Props message.
func propsMsg(p map[string]any) transport.FromEngine {
	return transport.FromEngine{Props: &transport.Props{Properties: p}}
}

func newHub(t *testing.T) *memtransport.Hub {
	t.Helper()
	hub, err := memtransport.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Controller().Close() })
	return hub
}
