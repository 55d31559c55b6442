package drover_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/drovertest"
)

func TestOpenConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		cfg  drover.Config
		want string
	}{
		{drover.Config{Scheduler: "random"}, `open farm: Config.Scheduler is "random", want "fifo" or "lifo"`},
		{drover.Config{Window: -2}, "open farm: Config.Window is -2, want >= 0"},
		{drover.Config{Engines: 1, Properties: []map[string]any{nil, nil}}, "open farm: Config.Properties has 2 entries for 1 engines"},
		{drover.Config{Engines: 1, Properties: []map[string]any{{"f": func() {}}}}, "open farm: Config.Properties[0]: can't be a value: value of type func()"},
	} {
		f, err := drover.Open(ctx, &tc.cfg)
		if err == nil {
			_ = f.Close(ctx)
			t.Errorf("Open(%+v): no error", tc.cfg)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Open: %q, want %q", err, tc.want)
		}
	}
	// No engines, then one added.
	f, err := drover.Open(ctx, &drover.Config{Engines: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(ctx)
	if infos, _ := f.Engines(ctx); len(infos) != 0 {
		t.Fatalf("Engines = %v", infos)
	}
	id, err := f.AddEngine(ctx, map[string]any{"k": "v"})
	if err != nil || id != 0 {
		t.Fatalf("AddEngine = %v, %v", id, err)
	}
	infos, _ := f.Engines(ctx)
	if len(infos) != 1 || infos[0].Properties["k"] != "v" {
		t.Fatalf("Engines = %+v", infos)
	}
	// Open's ctx ends before the engines register.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := drover.Open(cctx, &drover.Config{Engines: 2}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open(cancelled) = %v", err)
	}
}

func add(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
	var s int64
	for _, a := range args {
		s += a.(int64)
	}
	if s < 0 {
		return nil, errors.New("negative sum")
	}
	return s, nil
}

func TestMap(t *testing.T) {
	t.Parallel()
	f := drovertest.NewFarm(t, &drover.Config{Registry: drovertest.Registry(t, map[string]drover.Func{"add": add}), FailurePenalty: -1})
	ctx := t.Context()
	proto, err := drover.NewMapTask("add", nil, nil, drover.Options{})
	if err != nil {
		t.Fatal(err)
	}
	xs := make([]any, 100)
	ys := make([]any, 100)
	want := make([]any, 100)
	for i := range xs {
		xs[i], ys[i], want[i] = int64(i), int64(10*i), int64(11*i)
	}
	got, err := f.Map(ctx, proto, xs, ys)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Map (-want +got):\n%s", diff)
	}
	// Parallel is Map bound to its task.
	par := f.Parallel(proto)
	if got, err := par(ctx, []any{int64(1), int64(2)}); err != nil || !slices.Equal(got, []any{int64(1), int64(2)}) {
		t.Fatalf("Parallel = %v, %v", got, err)
	}
	// The first failing element's error, in input order.
	got, err = f.Map(ctx, proto, []any{int64(1), int64(-1), int64(-2), int64(4)})
	var te *drover.TaskError
	if !errors.As(err, &te) || !errors.Is(err, drover.ErrTaskFailed) || !strings.HasPrefix(err.Error(), "map: element 1 (task ") ||
		!strings.HasSuffix(err.Error(), "negative sum") {
		t.Fatalf("Map(failing) = %v", err)
	}
	if got[0] != int64(1) || got[3] != int64(4) {
		t.Fatalf("Map(failing) values = %v", got)
	}
	// Async: ids in input order.
	ids, err := f.MapAsync(ctx, proto, []any{int64(5), int64(6)})
	if err != nil || len(ids) != 2 || ids[1] != ids[0]+1 {
		t.Fatalf("MapAsync = %v, %v", ids, err)
	}
	if v, err := f.Result(ctx, ids[1]); v != int64(6) || err != nil {
		t.Fatalf("Result = %v, %v", v, err)
	}
	if err := f.Barrier(ctx, ids...); err != nil { // ids[0] may run on the other engine
		t.Fatal(err)
	}
	// Bad input: nothing is submitted.
	before, _ := f.QueueCounts(ctx)
	for _, tc := range []struct {
		proto *drover.Task
		seqs  [][]any
		want  string
	}{
		{proto, [][]any{{int64(1)}, {}}, "map: all sequences must have equal length"},
		{proto, [][]any{{int64(1), struct{}{}}}, "map: element 1: value[0]: unsupported value of type struct {}"},
		{nil, [][]any{{1}}, "map: task must be a Task object!"},
	} {
		_, err := f.Map(ctx, tc.proto, tc.seqs...)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errors.Is(err, drover.ErrInvalidArgument) {
			t.Errorf("Map = %v, want %q", err, tc.want)
		}
	}
	withArgs, _ := drover.NewMapTask("add", []any{int64(1)}, nil, drover.Options{})
	if _, err := f.Map(ctx, withArgs, []any{int64(1)}); err == nil {
		t.Error("Map with a prototype that has args: no error")
	}
	st, _ := drover.NewStringTask("x = 1", nil, nil, drover.Options{})
	if _, err := f.Map(ctx, st, []any{int64(1)}); err == nil {
		t.Error("Map with a string task: no error")
	}
	if got, err := f.Map(ctx, proto); err != nil || len(got) != 0 {
		t.Errorf("Map() = %v, %v", got, err)
	}
	after, _ := f.QueueCounts(ctx)
	if after != before {
		t.Errorf("bad maps submitted tasks: %+v, then %+v", before, after)
	}
}

// blocker is a Go function that waits until released or cancelled; it
// counts its calls and reports each start.
type blocker struct {
	calls   atomic.Int32
	started chan int32
	release chan struct{}
	stopped chan error
}

func newBlocker() *blocker {
	return &blocker{started: make(chan int32, 16), release: make(chan struct{}), stopped: make(chan error, 16)}
}

func (b *blocker) fn(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
	n := b.calls.Add(1)
	b.started <- n
	select {
	case <-b.release:
		return n, nil
	case <-ctx.Done():
		b.stopped <- context.Cause(ctx)
		return nil, ctx.Err()
	}
}

func TestAbortStopsRunningTask(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	f := drovertest.NewFarm(t, &drover.Config{Engines: 1, Registry: drovertest.Registry(t, map[string]drover.Func{"block": b.fn})})
	ctx := t.Context()
	task, _ := drover.NewMapTask("block", nil, nil, drover.Options{Retries: 5})
	id, err := f.Run(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	<-b.started
	if err := f.Abort(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := <-b.stopped; err == nil {
		t.Fatal("the function's ctx has no cause")
	}
	if _, err := f.Result(ctx, id); !errors.Is(err, drover.ErrTaskAborted) {
		t.Fatalf("Result = %v", err)
	}
	if n := b.calls.Load(); n != 1 {
		t.Fatalf("%d calls, want 1 (no retry after abort)", n)
	}
}

func TestEngineLostRetried(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	f := drovertest.NewFarm(t, &drover.Config{Engines: 2, Window: 1, Registry: drovertest.Registry(t, map[string]drover.Func{"block": b.fn})})
	ctx := t.Context()
	retried, _ := drover.NewMapTask("block", nil, nil, drover.Options{Retries: 1})
	id, err := f.Run(ctx, retried)
	if err != nil {
		t.Fatal(err)
	}
	<-b.started
	victim := runningOn(t, f, id)
	if err := f.RemoveEngine(ctx, victim); err != nil {
		t.Fatal(err)
	}
	<-b.started // the retry, on the other engine
	if other := runningOn(t, f, id); other == victim {
		t.Fatalf("retry on the lost engine %d", victim)
	}
	close(b.release)
	if v, err := f.Result(ctx, id); v != int32(2) || err != nil {
		t.Fatalf("Result = %v, %v", v, err)
	}
	// Without retries the task finishes EngineLost.
	b2 := newBlocker()
	g := drovertest.NewFarm(t, &drover.Config{Engines: 1, Registry: drovertest.Registry(t, map[string]drover.Func{"block": b2.fn})})
	once, _ := drover.NewMapTask("block", nil, nil, drover.Options{})
	id, _ = g.Run(ctx, once)
	<-b2.started
	if err := g.RemoveEngine(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Result(ctx, id); !errors.Is(err, drover.ErrEngineLost) {
		t.Fatalf("Result = %v", err)
	}
	if err := g.RemoveEngine(ctx, 0); !errors.Is(err, drover.ErrNotFound) {
		t.Fatalf("second RemoveEngine = %v", err)
	}
}

// runningOn returns the engine running task id.
func runningOn(t *testing.T, f *drover.Farm, id drover.TaskID) drover.EngineID {
	t.Helper()
	for {
		infos, err := f.Engines(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range infos {
			if in.Busy && in.Task == id {
				return in.ID
			}
		}
		// The controller has not seen the attempt's assignment yet: it
		// has, since the function started; so this is a failure.
		t.Fatalf("task %d runs on no engine: %+v", id, infos)
	}
}

// depends: "key=value" requires properties[key] == value.
func depends(d *drover.Depend) (func(map[string]any) bool, error) {
	k, v, ok := strings.Cut(d.Source, "=")
	if !ok {
		return nil, errors.New("want key=value")
	}
	return func(p map[string]any) bool { s, _ := p[k].(string); return s == v }, nil
}

func TestDependRoutesToEngine(t *testing.T) {
	t.Parallel()
	f := drovertest.NewFarm(t, &drover.Config{
		Engines: 3, Depend: depends,
		Properties: []map[string]any{{"os": "linux"}, {"os": "mac"}, {"os": "linux"}},
	})
	ctx := t.Context()
	// A string task pulling `id` tells which engine ran it.
	whoami, _ := drover.NewStringTask("", nil, "id", drover.Options{Depend: &drover.Depend{Source: "os=mac"}})
	for range 5 {
		id, err := f.Run(ctx, whoami)
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.Result(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.(*drover.TaskResult).Results["id"]; got != int64(1) {
			t.Fatalf("depend os=mac ran on engine %v", got)
		}
	}
	// Properties set through the engine client are what depend sees after
	// a scheduling event.
	win, _ := drover.NewStringTask("", nil, "id", drover.Options{Depend: &drover.Depend{Source: "os=windows"}})
	id, _ := f.Run(ctx, win)
	if err := f.Engine(2).SetProperties(ctx, map[string]any{"os": "windows"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Spin(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := f.Result(ctx, id)
	if err != nil || v.(*drover.TaskResult).Results["id"] != int64(2) {
		t.Fatalf("Result = %v, %v", v, err)
	}
}

func TestEngineClient(t *testing.T) {
	t.Parallel()
	f := drovertest.NewFarm(t, &drover.Config{Engines: 1})
	ctx := t.Context()
	e := f.Engine(0)
	if e.ID() != 0 {
		t.Fatal(e.ID())
	}
	if err := e.Push(ctx, map[string]any{"a": int64(5), "b": "x"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Execute(ctx, "c = a * 2"); err != nil {
		t.Fatal(err)
	}
	if v, err := e.Pull(ctx, "c"); v != int64(10) || err != nil {
		t.Fatalf("Pull = %v, %v", v, err)
	}
	if v, err := e.PullMany(ctx, "a", "b"); err != nil || !slices.Equal(v, []any{int64(5), "x"}) {
		t.Fatalf("PullMany = %v, %v", v, err)
	}
	if v, err := e.PullMany(ctx, "a"); err != nil || !slices.Equal(v, []any{int64(5)}) {
		t.Fatalf("PullMany(one) = %v, %v", v, err)
	}
	if _, err := e.Pull(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "NameError") {
		t.Fatalf("Pull(missing) = %v", err)
	}
	if err := e.Execute(ctx, "1 // 0"); err == nil || !strings.Contains(err.Error(), "ZeroDivisionError") {
		t.Fatalf("Execute(failing) = %v", err)
	}
	keys, err := e.Keys(ctx)
	if err != nil || !slices.Contains(keys, "c") {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
	if err := e.SetProperties(ctx, map[string]any{"p": int64(1), "q": "two"}); err != nil {
		t.Fatal(err)
	}
	if p, err := e.Properties(ctx, "p"); err != nil || !cmp.Equal(p, map[string]any{"p": int64(1)}) {
		t.Fatalf("Properties(p) = %v, %v", p, err)
	}
	if h, err := e.HasProperties(ctx, "p", "z"); err != nil || !slices.Equal(h, []bool{true, false}) {
		t.Fatalf("HasProperties = %v, %v", h, err)
	}
	if err := e.DelProperties(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	infos, _ := f.Engines(ctx)
	if !cmp.Equal(infos[0].Properties, map[string]any{"q": "two"}) {
		t.Fatalf("controller's properties = %v", infos[0].Properties)
	}
	if err := e.ClearProperties(ctx); err != nil {
		t.Fatal(err)
	}
	if p, err := e.Properties(ctx); err != nil || len(p) != 0 {
		t.Fatalf("Properties = %v, %v", p, err)
	}
	if err := e.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pull(ctx, "c"); err == nil {
		t.Fatal("c survived a reset")
	}
	if _, err := f.Engine(7).Keys(ctx); !errors.Is(err, drover.ErrNotFound) {
		t.Fatalf("Keys on engine 7 = %v", err)
	}
}

// TestOrder: FIFO and LIFO observable through the order the tasks ran.
func TestOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sched string
		want  []int64
	}{
		{"fifo", []int64{1, 2, 3, 4}},
		{"lifo", []int64{4, 3, 2, 1}},
	} {
		t.Run(tc.sched, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var ran []int64
			b := newBlocker()
			record := func(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
				mu.Lock()
				ran = append(ran, args[0].(int64))
				mu.Unlock()
				return nil, nil
			}
			f := drovertest.NewFarm(t, &drover.Config{Engines: 1, Window: 1, Scheduler: tc.sched,
				Registry: drovertest.Registry(t, map[string]drover.Func{"block": b.fn, "record": record})})
			ctx := t.Context()
			first, _ := drover.NewMapTask("block", nil, nil, drover.Options{})
			if _, err := f.Run(ctx, first); err != nil {
				t.Fatal(err)
			}
			<-b.started
			var ids []drover.TaskID
			for i := range 4 {
				task, _ := drover.NewMapTask("record", []any{int64(i + 1)}, nil, drover.Options{})
				id, _ := f.Run(ctx, task)
				ids = append(ids, id)
			}
			// Every task is queued before the engine frees.
			if n, _ := f.QueueCounts(ctx); n.Scheduled != 4 {
				t.Fatalf("counts %+v", n)
			}
			close(b.release)
			if err := f.Barrier(ctx, ids...); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ran, tc.want) {
				t.Fatalf("ran %v, want %v", ran, tc.want)
			}
		})
	}
}

func TestRecoveryEndToEnd(t *testing.T) {
	t.Parallel()
	f := drovertest.NewFarm(t, &drover.Config{Engines: 2, FailurePenalty: -1})
	ctx := t.Context()
	rec, _ := drover.NewStringTask("r = 'recovered'", nil, "r", drover.Options{})
	div, _ := drover.NewStarlarkMapTask("def div(a, b):\n    return a // b\n", "div", []any{int64(1), int64(0)}, nil,
		drover.Options{Retries: 2, Recovery: rec})
	id, err := f.Run(ctx, div)
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.Result(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if tr := v.(*drover.TaskResult); tr.Results["r"] != "recovered" || tr.TaskID != id {
		t.Fatalf("Result = %+v", tr)
	}
}

func TestAttemptTimeout(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	f := drovertest.NewFarm(t, &drover.Config{Engines: 1, FailurePenalty: -1, Registry: drovertest.Registry(t, map[string]drover.Func{"block": b.fn})})
	ctx := t.Context()
	task, _ := drover.NewMapTask("block", nil, nil, drover.Options{Timeout: 20 * time.Millisecond, Retries: 1})
	id, _ := f.Run(ctx, task)
	if _, err := f.Result(ctx, id); !errors.Is(err, drover.ErrTaskTimeout) {
		t.Fatalf("Result = %v", err)
	}
	if n := b.calls.Load(); n != 2 {
		t.Fatalf("%d attempts, want 2", n)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	ctx := context.Background()
	f, err := drover.Open(ctx, &drover.Config{Engines: 1, Registry: drovertest.Registry(t, map[string]drover.Func{"block": b.fn})})
	if err != nil {
		t.Fatal(err)
	}
	task, _ := drover.NewMapTask("block", nil, nil, drover.Options{})
	id, _ := f.Run(ctx, task)
	<-b.started
	closed := make(chan error, 1)
	go func() { closed <- f.Close(ctx) }()
	// Close lets the running task end (the controller's tests check that
	// its result reaches the callers waiting for it).
	close(b.release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if len(b.stopped) != 0 {
		t.Fatalf("graceful Close cancelled the running task: %v", <-b.stopped)
	}
	if _, err := f.Result(ctx, id); !errors.Is(err, drover.ErrClosed) {
		t.Fatalf("Result after Close = %v", err)
	}
	if _, err := f.Run(ctx, task); !errors.Is(err, drover.ErrClosed) {
		t.Fatalf("Run after Close = %v", err)
	}
	if err := f.Close(ctx); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := f.AddEngine(ctx, nil); !errors.Is(err, drover.ErrClosed) {
		t.Fatalf("AddEngine after Close = %v", err)
	}
	// A Close whose ctx ends stops at once.
	b2 := newBlocker()
	g, err := drover.Open(ctx, &drover.Config{Engines: 1, Registry: drovertest.Registry(t, map[string]drover.Func{"block": b2.fn})})
	if err != nil {
		t.Fatal(err)
	}
	g.Run(ctx, task)
	<-b2.started
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := g.Close(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v", err)
	}
}

func TestCommandTask(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := drovertest.NewFarm(t, &drover.Config{Engines: 1, AllowCommands: true})
	task, err := drover.NewShellTask("echo hi; exit 3", drover.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.Run(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.Result(ctx, id)
	cr, _ := v.(*drover.CommandResult)
	if err != nil || cr == nil || cr.ExitCode != 3 || string(cr.Stdout) != "hi\n" {
		t.Fatalf("Result = %#v, %v", v, err)
	}
	// Engines that do not run commands never get one: the task waits, then
	// fails the idle timeout.
	g := drovertest.NewFarm(t, &drover.Config{Engines: 1, IdleTimeout: 50 * time.Millisecond})
	id, err = g.Run(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Result(ctx, id); !errors.Is(err, drover.ErrTaskTimeout) {
		t.Fatalf("Result = %v", err)
	}
}

// TestResultNotHeldBehindLongTask: a task's result is delivered while the
// task queued behind it on the same engine (the window) still runs.
func TestResultNotHeldBehindLongTask(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	f := drovertest.NewFarm(t, &drover.Config{Engines: 1, Window: 8,
		Registry: drovertest.Registry(t, map[string]drover.Func{"add": add, "block": b.fn})})
	quick, _ := drover.NewMapTask("add", []any{int64(2)}, nil, drover.Options{})
	long, _ := drover.NewMapTask("block", nil, nil, drover.Options{})
	q, err := f.Run(t.Context(), quick)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Run(t.Context(), long); err != nil {
		t.Fatal(err)
	}
	<-b.started
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if v, err := f.Result(ctx, q); v != int64(2) || err != nil {
		t.Fatalf("Result(quick) = %v, %v while the long task runs", v, err)
	}
	close(b.release)
}
