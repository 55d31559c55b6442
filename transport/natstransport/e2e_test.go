package natstransport_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/natstransport"
)

// farm is a controller and engines over natstransport on one server, each
// on its own NATS connection, stopped at cleanup.
type farm struct {
	t    testing.TB
	s    *server.Server
	cfg  natstransport.Config
	ctl  *controller.Controller
	end  *natstransport.ControllerEnd
	reg  *engine.Registry
	wg   sync.WaitGroup
	stop context.CancelFunc
	ctx  context.Context

	mu    sync.Mutex
	conns []*nats.Conn // the engines' connections, closed after them
}

func newFarm(t testing.TB, s *server.Server, cfg natstransport.Config, ccfg *controller.Config, reg *engine.Registry) *farm {
	t.Helper()
	f := &farm{t: t, s: s, cfg: cfg, reg: reg}
	f.ctx, f.stop = context.WithCancel(context.Background())
	f.end = newController(t, s, &f.cfg)
	ctl, err := controller.New(f.end, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	f.ctl = ctl
	if err := ctl.Start(f.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ctl.Stop(ctx); err != nil {
			t.Errorf("controller Stop: %v", err)
		}
		f.stop()
		f.wg.Wait()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, nc := range f.conns {
			nc.Close()
		}
	})
	return f
}

// addEngine starts an engine serving over its own connection (nc, or a new
// one) and waits until the controller has registered it.
func (f *farm) addEngine(key string, nc *nats.Conn, window int) drovertype.EngineID {
	f.t.Helper()
	if nc == nil {
		nc = dial(f.t, f.s)
		f.mu.Lock()
		f.conns = append(f.conns, nc)
		f.mu.Unlock()
	}
	cfg := f.cfg
	cfg.Key = key
	end, err := natstransport.NewEngineEnd(f.ctx, nc, &cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	e, err := engine.New(&engine.Config{Name: key, Registry: f.reg, Window: window})
	if err != nil {
		f.t.Fatal(err)
	}
	f.wg.Go(func() {
		defer end.Close()
		if err := e.Serve(f.ctx, end); err != nil && f.ctx.Err() == nil {
			f.t.Logf("engine %s: Serve: %v", key, err)
		}
	})
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	id, err := f.ctl.WaitEngine(ctx, key)
	if err != nil {
		f.t.Fatalf("engine %s did not register: %v", key, err)
	}
	return id
}

func doubleRegistry(t testing.TB, extra map[string]engine.Func) *engine.Registry {
	reg := engine.NewRegistry()
	reg.MustRegister("double", func(_ context.Context, args []any, _ map[string]any) (any, error) {
		return args[0].(int64) * 2, nil
	})
	for name, fn := range extra {
		reg.MustRegister(name, fn)
	}
	return reg
}

// TestEndToEnd: the task farm over NATS: 1,000 Go-function tasks on two
// engines, plus Starlark map and string tasks, a failing task and an
// engine call; every result is right.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServer(t, true, -1)
	f := newFarm(t, s, natstransport.Config{Prefix: unique("e2e")}, nil, doubleRegistry(t, nil))
	f.addEngine("a", nil, 0)
	f.addEngine("b", nil, 0)
	ctx := ctxT(t)
	const n = 1000
	ids := make([]drovertype.TaskID, n)
	for i := range ids {
		task, err := drovertype.NewMapTask("double", []any{int64(i)}, nil, drovertype.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if ids[i], err = f.ctl.Run(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	star, err := drovertype.NewStarlarkMapTask("def inc(x, by=1):\n    return {'x': x + by, 'bytes': b'\\x00'}\n", "inc", []any{int64(41)}, nil, drovertype.Options{})
	if err != nil {
		t.Fatal(err)
	}
	starID, err := f.ctl.Run(ctx, star)
	if err != nil {
		t.Fatal(err)
	}
	str, err := drovertype.NewStringTask("b = [a * 2, str(a)]", map[string]any{"a": int64(21)}, "b", drovertype.Options{})
	if err != nil {
		t.Fatal(err)
	}
	strID, err := f.ctl.Run(ctx, str)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := drovertype.NewStringTask("x = 1 // 0", nil, nil, drovertype.Options{})
	if err != nil {
		t.Fatal(err)
	}
	badID, err := f.ctl.Run(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}

	values, errs, err := f.ctl.Results(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		if errs[i] != nil || values[i] != int64(2*i) {
			t.Fatalf("task %d: %v, %v; want %d", i, values[i], errs[i], 2*i)
		}
	}
	v, err := f.ctl.Result(ctx, starID)
	if m, ok := v.(map[string]any); err != nil || !ok || m["x"] != int64(42) || string(m["bytes"].([]byte)) != "\x00" {
		t.Errorf("Starlark map task: %#v, %v", v, err)
	}
	v, err = f.ctl.Result(ctx, strID)
	if tr, ok := v.(*drovertype.TaskResult); err != nil || !ok || tr.Results["b"] == nil {
		t.Errorf("string task: %#v, %v", v, err)
	} else if b := tr.Results["b"].([]any); b[0] != int64(42) || b[1] != "21" {
		t.Errorf("string task results: %#v", tr.Results)
	}
	v, err = f.ctl.Result(ctx, badID)
	if tr, ok := v.(*drovertype.TaskResult); err != nil || !ok || tr.Failure == nil || tr.Failure.Type != "ZeroDivisionError" {
		t.Errorf("failing string task: %#v, %v; want a result failing with ZeroDivisionError", v, err)
	}
	// An engine call over the wire.
	eng, err := f.ctl.Engines(ctx)
	if err != nil || len(eng) != 2 {
		t.Fatalf("Engines: %+v, %v", eng, err)
	}
	if _, err := f.ctl.Call(ctx, eng[0].ID, transportCall("push", map[string]any{"x": []any{int64(1), "y"}})); err != nil {
		t.Fatal(err)
	}
	if st := f.end.Stats(); st.Lost != 0 || st.Dropped != 0 || st.MsgsIn < n {
		t.Errorf("controller end stats %+v", st)
	}
}

// TestEndToEndEngineLost: an engine whose connection dies in the middle
// of a task is found lost by its missed heartbeats; the task is retried on
// the other engine and succeeds.
func TestEndToEndEngineLost(t *testing.T) {
	t.Parallel()
	s := startServer(t, true, -1)
	var calls atomic.Int32
	started := make(chan struct{})
	reg := doubleRegistry(t, map[string]engine.Func{
		"hang-once": func(ctx context.Context, args []any, _ map[string]any) (any, error) {
			if calls.Add(1) == 1 {
				close(started)
				<-ctx.Done() // until the engine stops
				return nil, ctx.Err()
			}
			return "done", nil
		},
	})
	cfg := natstransport.Config{Prefix: unique("lost"), HeartbeatInterval: 20 * time.Millisecond}
	f := newFarm(t, s, cfg, &controller.Config{FailurePenalty: -1}, reg)
	doomedConn := connect(t, s)
	doomedID := f.addEngine("doomed", doomedConn, 0)
	ctx := ctxT(t)
	task, err := drovertype.NewMapTask("hang-once", nil, nil, drovertype.Options{Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.ctl.Run(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the task did not start")
	}
	f.addEngine("survivor", nil, 0)
	doomedConn.Close() // as a crash, or a cut cable: no goodbye
	v, err := f.ctl.Result(ctx, id)
	if err != nil || v != "done" {
		t.Fatalf("Result: %v, %v; want the retry's \"done\"", v, err)
	}
	engs, err := f.ctl.Engines(ctx)
	if err != nil || len(engs) != 1 || engs[0].ID == doomedID {
		t.Errorf("engines after the loss: %+v, %v; want only the survivor", engs, err)
	}
}

// TestEndToEndServerRestart: the NATS server restarts in the middle of a
// run; engines and controller reconnect by themselves, and every task
// completes with its result (tasks whose messages were lost in the outage
// are retried).
func TestEndToEndServerRestart(t *testing.T) {
	t.Parallel()
	s := startServer(t, false, -1)
	reg := doubleRegistry(t, nil)
	cfg := natstransport.Config{Prefix: unique("restart"), HeartbeatInterval: 100 * time.Millisecond}
	f := newFarm(t, s, cfg, &controller.Config{FailurePenalty: -1}, reg)
	f.addEngine("a", nil, 0)
	f.addEngine("b", nil, 0)
	ctx := ctxT(t)
	const n = 2000
	ids := make([]drovertype.TaskID, n)
	task, err := drovertype.NewMapTask("double", []any{int64(0)}, nil, drovertype.Options{Retries: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		task.Args[0] = int64(i)
		if ids[i], err = f.ctl.Run(ctx, task); err != nil {
			t.Fatal(err)
		}
		if i == n/4 {
			// Some done, some running, most queued.
			if _, err := f.ctl.Result(ctx, ids[i/2]); err != nil {
				t.Fatal(err)
			}
			restart(t, s)
		}
	}
	values, errs, err := f.ctl.Results(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		if errs[i] != nil || values[i] != int64(2*i) {
			t.Fatalf("task %d: %v, %v; want %d", i, values[i], errs[i], 2*i)
		}
	}
	t.Logf("controller end after the restart: %+v", f.end.Stats())
}

func transportCall(op string, values map[string]any) transport.Call {
	c := transport.Call{Values: values}
	switch op {
	case "push":
		c.Op = transport.OpPush
	}
	return c
}
