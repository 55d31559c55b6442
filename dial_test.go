package drover_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go/micro"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/controlapi"
	"github.com/drover-dev/drover/drovertest"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/fabric/embedded"
)

// remoteFarm is an in-process farm served over an embedded NATS server,
// and a remote client of it.
type remoteFarm struct {
	farm   *drover.Farm
	srv    *embedded.Server
	api    *controlapi.Server
	remote *drover.Remote
}

// newRemote starts a farm (drovertest.NewFarm: a real controller and
// engines over the in-memory transport), an embedded NATS server with auth,
// the control API on the controller's connection, and dials it with the
// client connection file. Everything is closed when the test ends.
func newRemote(t testing.TB, cfg *drover.Config, api *controlapi.Config, opts ...drover.DialOption) *remoteFarm {
	t.Helper()
	f := drovertest.NewFarm(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := embedded.Start(ctx, &embedded.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	var ac controlapi.Config
	if api != nil {
		ac = *api
	}
	ac.Prefix, ac.ControllerID = srv.Prefix(), srv.ID()
	s, err := controlapi.New(srv.Conn().Conn, f.Controller(), &ac)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	r, err := drover.Dial(ctx, srv.File(fabric.RoleClient), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return &remoteFarm{farm: f, srv: srv, api: s, remote: r}
}

func TestDialRunResult(t *testing.T) {
	t.Parallel()
	rf := newRemote(t, &drover.Config{AllowCommands: true, FailurePenalty: -1,
		Registry: drovertest.Registry(t, map[string]drover.Func{"add": add})}, nil)
	ctx := t.Context()
	r := rf.remote
	if info := r.Info(); info.Version != controlapi.Version || info.ControllerID != rf.srv.ID() || info.Prefix != "drover" {
		t.Fatalf("Info = %+v", info)
	}
	// A map task calling a Go function.
	sum, _ := drover.NewMapTask("add", []any{int64(2), int64(40)}, nil, drover.Options{})
	id, err := r.Run(ctx, sum)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r.Result(ctx, id); v != int64(42) || err != nil {
		t.Fatalf("Result = %#v, %v", v, err)
	}
	if v, done, err := r.Poll(ctx, id); v != int64(42) || !done || err != nil {
		t.Fatalf("Poll = %#v, %v, %v", v, done, err)
	}
	// A string task: the same *TaskResult as in-process.
	st, _ := drover.NewStringTask("b = [a, a * 2.5, {'k': b'x'}]", map[string]any{"a": int64(2)}, []string{"b", "a"}, drover.Options{})
	local, _ := rf.farm.Run(ctx, st)
	remote, err := r.Run(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	lv, lerr := rf.farm.Result(ctx, local)
	rv, rerr := r.Result(ctx, remote)
	if lerr != nil || rerr != nil {
		t.Fatal(lerr, rerr)
	}
	ignore := cmpopts.IgnoreFields(drover.TaskResult{}, "TaskID", "EngineID", "Submitted", "Completed", "SubmittedAt", "CompletedAt", "Duration")
	if diff := cmp.Diff(lv, rv, ignore); diff != "" {
		t.Fatalf("string task result, local vs remote (-local +remote):\n%s", diff)
	}
	if tr := rv.(*drover.TaskResult); tr.TaskID != remote || tr.SubmittedAt.IsZero() || tr.Results["a"] != int64(2) {
		t.Fatalf("TaskResult = %+v", tr)
	}
	// A command task.
	cmd, _ := drover.NewShellTask("printf out; printf err >&2; exit 4", drover.Options{})
	id, _ = r.Run(ctx, cmd)
	v, err := r.Result(ctx, id)
	if cr, ok := v.(*drover.CommandResult); !ok || err != nil || cr.ExitCode != 4 || string(cr.Stdout) != "out" || string(cr.Stderr) != "err" {
		t.Fatalf("command Result = %#v, %v", v, err)
	}
	// A failing task: its *TaskError crosses with its kind, type and text.
	div, _ := drover.NewStarlarkMapTask("def div(a, b):\n    return a // b\n", "div", []any{int64(1), int64(0)}, nil, drover.Options{})
	id, _ = r.Run(ctx, div)
	_, err = r.Result(ctx, id)
	var te *drover.TaskError
	if !errors.As(err, &te) || !errors.Is(err, drover.ErrTaskFailed) || te.Type != "ZeroDivisionError" || te.TaskID != id ||
		!strings.HasPrefix(err.Error(), "ZeroDivisionError: ") {
		t.Fatalf("Result(div by zero) = %#v", err)
	}
	if !errors.Is(err, &drover.TaskError{Kind: drover.KindOf(drover.ErrTaskFailed), Type: "ZeroDivisionError"}) {
		t.Fatal("errors.Is by type")
	}
	// Values keep their types: int/float, bytes/str, big ints, nested.
	echo, _ := drover.NewStarlarkMapTask("def echo(x):\n    return x\n", "echo", nil, nil, drover.Options{})
	big := new(strings.Builder)
	big.WriteString("1")
	for range 30 {
		big.WriteString("0")
	}
	in := []any{int64(1), 1.0, "s", []byte("b"), true, nil, []any{int64(-3), map[string]any{"k": []any{}}}}
	got, err := r.Map(ctx, echo, in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Fatalf("echoed values (-sent +got):\n%s", diff)
	}
	n, _ := drover.NewStringTask("n = "+big.String()+" * 1", nil, "n", drover.Options{})
	id, _ = r.Run(ctx, n)
	v, err = r.Result(ctx, id)
	if err != nil || fmt.Sprint(v.(*drover.TaskResult).Results["n"]) != big.String() {
		t.Fatalf("big int = %#v, %v", v, err)
	}
}

// TestDialErrorsLikeFarm: the same mistakes give the same error texts and
// kinds through a Remote as on the Farm.
func TestDialErrorsLikeFarm(t *testing.T) {
	t.Parallel()
	rf := newRemote(t, &drover.Config{Engines: 1, Registry: drovertest.Registry(t, map[string]drover.Func{"add": add})}, nil)
	ctx := t.Context()
	ok, _ := drover.NewMapTask("add", []any{int64(1)}, nil, drover.Options{})
	withDepend, _ := drover.NewMapTask("add", nil, nil, drover.Options{Depend: &drover.Depend{Source: "x"}})
	badValue := &drover.Task{Kind: drovertype.MapTask, FuncName: "f", Args: []any{struct{}{}}}
	clients := []drover.Client{rf.farm, rf.remote}
	// One finished task on each, with the same id (both count from 0 on
	// the same controller: run them in turn).
	var done [2]drover.TaskID
	for i, c := range clients {
		id, err := c.Run(ctx, ok)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Result(ctx, id); err != nil {
			t.Fatal(err)
		}
		done[i] = id
	}
	type outcome struct {
		Text string
		Kind drover.Kind
	}
	res := func(err error) outcome { return outcome{fmt.Sprint(err), drover.KindOf(err)} }
	ops := []struct {
		name string
		do   func(c drover.Client, i int) error
	}{
		{"result unknown", func(c drover.Client, i int) error { _, err := c.Result(ctx, 9999); return err }},
		{"poll unknown", func(c drover.Client, i int) error { _, _, err := c.Poll(ctx, 9999); return err }},
		{"abort unknown", func(c drover.Client, i int) error { return c.Abort(ctx, 9999) }},
		{"abort finished", func(c drover.Client, i int) error { return c.Abort(ctx, done[i]) }},
		{"clear unknown", func(c drover.Client, i int) error { _, err := c.Clear(ctx, 9998, 9999); return err }},
		{"run nil", func(c drover.Client, i int) error { _, err := c.Run(ctx, nil); return err }},
		{"run bad value", func(c drover.Client, i int) error { _, err := c.Run(ctx, badValue); return err }},
		{"run depend without compiler", func(c drover.Client, i int) error { _, err := c.Run(ctx, withDepend); return err }},
		{"map unequal", func(c drover.Client, i int) error { _, err := c.Map(ctx, ok, []any{int64(1)}, nil); return err }},
		{"map depend", func(c drover.Client, i int) error { _, err := c.MapAsync(ctx, withDepend, []any{int64(1)}); return err }},
		{"engine missing", func(c drover.Client, i int) error { _, err := c.Engine(7).Keys(ctx); return err }},
		{"pull missing", func(c drover.Client, i int) error { _, err := c.Engine(0).Pull(ctx, "nope"); return err }},
		{"execute failing", func(c drover.Client, i int) error { return c.Engine(0).Execute(ctx, "1 // 0") }},
		{"bad property", func(c drover.Client, i int) error {
			return c.Engine(0).SetProperties(ctx, map[string]any{"p": func() {}})
		}},
	}
	for _, op := range ops {
		local, remote := res(op.do(clients[0], 0)), res(op.do(clients[1], 1))
		local.Text = strings.ReplaceAll(local.Text, fmt.Sprintf("task %d", done[0]), "task N")
		remote.Text = strings.ReplaceAll(remote.Text, fmt.Sprintf("task %d", done[1]), "task N")
		if local.Kind == "" {
			t.Errorf("%s: no error", op.name)
		}
		if op.name == "bad property" {
			// The remote client cannot even encode it; only the kind is
			// the same.
			if local.Kind != drover.KindOf(drover.ErrInvalidArgument) && local.Kind != drover.KindOf(drover.ErrInvalidProperty) ||
				remote.Kind != drover.KindOf(drover.ErrInvalidArgument) {
				t.Errorf("%s: local %+v, remote %+v", op.name, local, remote)
			}
			continue
		}
		if diff := cmp.Diff(local, remote); diff != "" {
			t.Errorf("%s (-farm +remote):\n%s", op.name, diff)
		}
	}
}

// blockReg returns a registry with a blocker's function "block".
func blockReg(t testing.TB, b *blocker) *drover.Registry {
	return drovertest.Registry(t, map[string]drover.Func{"block": b.fn, "add": add})
}

func TestDialAbortBarrierStatus(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	rf := newRemote(t, &drover.Config{Engines: 1, Window: 1, FailurePenalty: -1, Registry: blockReg(t, b)}, nil)
	ctx := t.Context()
	r := rf.remote
	blk, _ := drover.NewMapTask("block", nil, nil, drover.Options{Retries: 3})
	running, err := r.Run(ctx, blk)
	if err != nil {
		t.Fatal(err)
	}
	<-b.started
	queued := make([]drover.TaskID, 3)
	for i := range queued {
		task, _ := drover.NewMapTask("add", []any{int64(i)}, nil, drover.Options{})
		queued[i], _ = r.Run(ctx, task)
	}
	st, err := r.QueueStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(drover.QueueStatus{Pending: []drover.TaskID{running}, Scheduled: queued}, st, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("QueueStatus (-want +got):\n%s", diff)
	}
	if n, err := r.QueueCounts(ctx); err != nil || n != (drover.QueueCounts{Pending: 1, Scheduled: 3}) {
		t.Fatalf("QueueCounts = %+v, %v", n, err)
	}
	// Abort a queued task and the running one.
	if err := r.Abort(ctx, queued[0]); err != nil {
		t.Fatal(err)
	}
	if err := r.Abort(ctx, running); err != nil {
		t.Fatal(err)
	}
	if err := <-b.stopped; err == nil {
		t.Fatal("the running function was not cancelled")
	}
	for _, id := range []drover.TaskID{running, queued[0]} {
		if _, err := r.Result(ctx, id); !errors.Is(err, drover.ErrTaskAborted) {
			t.Fatalf("Result(%d) = %v", id, err)
		}
	}
	if err := r.Barrier(ctx, append(queued, 12345)...); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Spin(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ = r.QueueStatus(ctx)
	if len(st.Pending)+len(st.Scheduled) != 0 || len(st.Succeeded) != 2 || len(st.Failed) != 2 {
		t.Fatalf("QueueStatus = %+v", st)
	}
	if n, err := r.Clear(ctx, queued[1]); n != 1 || err != nil {
		t.Fatalf("Clear = %d, %v", n, err)
	}
	if n, err := r.ClearAll(ctx); n != 3 || err != nil {
		t.Fatalf("ClearAll = %d, %v", n, err)
	}
	if _, err := r.Result(ctx, queued[1]); !errors.Is(err, drover.ErrNotFound) {
		t.Fatalf("Result(cleared) = %v", err)
	}
	// Results of many tasks at once, failures in place.
	ids, err := r.MapAsync(ctx, func() *drover.Task { t, _ := drover.NewMapTask("add", nil, nil, drover.Options{}); return t }(),
		[]any{int64(1), int64(-5), int64(3)})
	if err != nil {
		t.Fatal(err)
	}
	values, errs, err := r.Results(ctx, append(ids, 99999))
	if err != nil {
		t.Fatal(err)
	}
	if values[0] != int64(1) || values[2] != int64(3) || errs[0] != nil || !errors.Is(errs[1], drover.ErrTaskFailed) ||
		!errors.Is(errs[3], drover.ErrNotFound) {
		t.Fatalf("Results = %v, %v", values, errs)
	}
}

// TestDialWaits: Result and Barrier wait across several long-poll rounds,
// and return the ctx's error when it ends first, without affecting the
// task.
func TestDialWaits(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	rf := newRemote(t, &drover.Config{Engines: 1, Registry: blockReg(t, b)}, &controlapi.Config{MaxWait: 5 * time.Millisecond})
	ctx := t.Context()
	r := rf.remote
	blk, _ := drover.NewMapTask("block", nil, nil, drover.Options{})
	id, _ := r.Run(ctx, blk)
	<-b.started
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err := r.Result(short, id)
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != fmt.Sprintf("result: task %d: context deadline exceeded", id) {
		t.Fatalf("Result(short ctx) = %v", err)
	}
	if err := r.Barrier(short, id); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Barrier(short ctx) = %v", err)
	}
	rounds := 0
	for _, ep := range rf.api.Stats().Endpoints {
		if ep.Name == controlapi.OpResult {
			rounds = ep.NumRequests
		}
	}
	if rounds < 3 {
		t.Fatalf("%d result requests, want several rounds of 5ms in 100ms", rounds)
	}
	if _, done, err := r.Poll(ctx, id); done || err != nil {
		t.Fatalf("Poll = %v, %v", done, err)
	}
	got := make(chan error, 1)
	go func() {
		v, err := r.Result(ctx, id)
		if err == nil && v != int32(1) && v != int64(1) {
			err = fmt.Errorf("value %#v", v)
		}
		got <- err
	}()
	close(b.release)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// TestDialMapAndEngines: Map, MapAsync and Parallel in batches, and engine
// access, through the wire.
func TestDialMapAndEngines(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	rf := newRemote(t, &drover.Config{Window: 1, FailurePenalty: -1, Registry: drovertest.Registry(t, map[string]drover.Func{"add": add, "block": b.fn}),
		Properties: []map[string]any{{"os": "linux"}}}, nil)
	ctx := t.Context()
	r := rf.remote
	proto, _ := drover.NewMapTask("add", nil, nil, drover.Options{})
	const n = 2500
	xs, ys, want := make([]any, n), make([]any, n), make([]any, n)
	for i := range xs {
		xs[i], ys[i], want[i] = int64(i), int64(10*i), int64(11*i)
	}
	got, err := r.Map(ctx, proto, xs, ys)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Map (-want +got):\n%s", diff)
	}
	if got, err := r.Parallel(proto)(ctx, []any{int64(1), int64(2)}); err != nil || !slices.Equal(got, []any{int64(1), int64(2)}) {
		t.Fatalf("Parallel = %v, %v", got, err)
	}
	got, err = r.Map(ctx, proto, []any{int64(1), int64(-1), int64(-2), int64(4)})
	if !errors.Is(err, drover.ErrTaskFailed) || !strings.HasPrefix(err.Error(), "map: element 1 (task ") || got[0] != int64(1) || got[3] != int64(4) {
		t.Fatalf("Map(failing) = %v, %v", got, err)
	}

	infos, err := r.Engines(ctx)
	if err != nil || len(infos) != drovertest.DefaultEngines || !cmp.Equal(infos[0].Properties, map[string]any{"os": "linux"}) ||
		!slices.Contains(infos[0].Functions, "add") {
		t.Fatalf("Engines = %+v, %v", infos, err)
	}
	e := r.Engine(0)
	if e.ID() != 0 {
		t.Fatal(e.ID())
	}
	if err := e.Push(ctx, map[string]any{"a": int64(5), "b": "x", "c": []byte{0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Execute(ctx, "d = a * 2"); err != nil {
		t.Fatal(err)
	}
	if v, err := e.Pull(ctx, "d"); v != int64(10) || err != nil {
		t.Fatalf("Pull = %v, %v", v, err)
	}
	if v, err := e.PullMany(ctx, "b", "c"); err != nil || !cmp.Equal(v, []any{"x", []byte{0, 1}}) {
		t.Fatalf("PullMany = %v, %v", v, err)
	}
	if keys, err := e.Keys(ctx); err != nil || !slices.Contains(keys, "d") {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
	if err := e.SetProperties(ctx, map[string]any{"p": int64(1), "q": 2.5}); err != nil {
		t.Fatal(err)
	}
	if p, err := e.Properties(ctx, "p", "q"); err != nil || !cmp.Equal(p, map[string]any{"p": int64(1), "q": 2.5}) {
		t.Fatalf("Properties = %v, %v", p, err)
	}
	if h, err := e.HasProperties(ctx, "p", "z"); err != nil || !slices.Equal(h, []bool{true, false}) {
		t.Fatalf("HasProperties = %v, %v", h, err)
	}
	if err := e.DelProperties(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if infos, _ := r.Engines(ctx); !cmp.Equal(infos[0].Properties, map[string]any{"os": "linux", "q": 2.5}) {
		t.Fatalf("controller's properties = %v", infos[0].Properties)
	}
	if err := e.ClearProperties(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pull(ctx, "d"); err == nil || !strings.Contains(err.Error(), "NameError") {
		t.Fatalf("Pull after reset = %v", err)
	}
	// A call whose ctx ends while the engine is busy: it waits behind the
	// running attempt.
	blk, _ := drover.NewMapTask("block", nil, nil, drover.Options{}) // Window 1: each on an engine of its own
	var busy drover.EngineID = -1
	for busy != 0 {
		id, err := r.Run(ctx, blk)
		if err != nil {
			t.Fatal(err)
		}
		<-b.started
		infos, _ := r.Engines(ctx)
		for _, in := range infos {
			if in.Busy && in.Task == id {
				busy = in.ID
			}
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := e.Keys(short); !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "keys on engine 0: ") {
		t.Fatalf("Keys(busy engine, short ctx) = %v", err)
	}
	close(b.release)
	if keys, err := e.Keys(ctx); err != nil || len(keys) == 0 {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
}

// TestDialClosed: after Close, and when the controller is gone.
func TestDialClosed(t *testing.T) {
	t.Parallel()
	rf := newRemote(t, &drover.Config{Engines: 1}, nil)
	ctx := t.Context()
	other, err := drover.Dial(ctx, rf.srv.File(fabric.RoleClient))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := drover.NewStringTask("", nil, nil, drover.Options{})
	if _, err := other.Run(ctx, st); !errors.Is(err, drover.ErrClosed) || err.Error() != "run: client closed" {
		t.Fatalf("Run after Close = %v", err)
	}
	if _, err := other.Engine(0).Keys(ctx); !errors.Is(err, drover.ErrClosed) {
		t.Fatalf("Keys after Close = %v", err)
	}
	// The controller stops: its API answers Closed, then nobody answers.
	if err := rf.farm.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rf.remote.Run(ctx, st); !errors.Is(err, drover.ErrClosed) {
		t.Fatalf("Run on a closed controller = %v", err)
	}
	if err := rf.api.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rf.remote.QueueCounts(ctx); !errors.Is(err, drover.ErrClosed) || !strings.Contains(err.Error(), "no controller answers") {
		t.Fatalf("QueueCounts without a controller = %v", err)
	}
}

func TestDialErrors(t *testing.T) {
	t.Parallel()
	rf := newRemote(t, &drover.Config{Engines: 1}, nil)
	ctx := t.Context()
	if _, err := drover.Dial(ctx, rf.srv.File(fabric.RoleEngine)); !errors.Is(err, fabric.ErrWrongRole) {
		t.Fatalf("Dial(engine file) = %v", err)
	}
	if _, err := drover.Dial(ctx, rf.srv.URLs()[0]); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("Dial(URL without credentials) = %v", err)
	}
	// A controller that speaks another major version.
	nc, err := rf.srv.ConnectController(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	svc, err := micro.AddService(nc.Conn, micro.Config{Name: controlapi.ServiceName, Version: "2.0.0",
		Endpoint: &micro.EndpointConfig{Subject: "other.api.v1.info", Handler: micro.HandlerFunc(func(r micro.Request) {
			_ = r.RespondJSON(controlapi.InfoResponse{Service: controlapi.ServiceName, Version: "2.0.0"})
		})}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	client, err := rf.srv.ConnectController(ctx, nil) // a connection that may use prefix "other"
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := drover.Dial(ctx, "", drover.WithConn(client.Conn, "other")); err == nil ||
		!strings.Contains(err.Error(), "serves drover-controller 2.0.0; this client speaks drover-controller "+controlapi.Version) {
		t.Fatalf("Dial(v2) = %v", err)
	}
	// No controller on a prefix.
	if _, err := drover.Dial(ctx, "", drover.WithConn(client.Conn, "nobody")); !errors.Is(err, drover.ErrClosed) {
		t.Fatalf("Dial(nobody) = %v", err)
	}
	// WithConn: Close leaves the connection open.
	r, err := drover.Dial(ctx, "", drover.WithConn(client.Conn, ""))
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Close(ctx)
	if client.Conn.IsClosed() {
		t.Fatal("Close closed a connection given with WithConn")
	}
}
