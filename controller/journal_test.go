package controller_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/journal"
	"github.com/drover-dev/drover/transport/memtransport"
)

// jsServer is a real nats-server with JetStream file storage in dir,
// reachable in-process.
type jsServer struct {
	ns *server.Server
	nc *nats.Conn
}

func startJS(t testing.TB, dir string, maxStore int64) *jsServer {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		ServerName: "controller-journal-test", DontListen: true, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: dir, JetStreamMaxStore: maxStore, JetStreamMaxMemory: 64 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatal("nats server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.MaxReconnects(0))
	if err != nil {
		ns.Shutdown()
		t.Fatal(err)
	}
	s := &jsServer{ns: ns, nc: nc}
	t.Cleanup(s.stop)
	return s
}

func (s *jsServer) stop() {
	s.nc.Close()
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// durableFarm is a controller with a journal on s and n in-process engines
// (window 1) running reg's functions.
type durableFarm struct {
	c    *controller.Controller
	j    *journal.Journal
	hub  *memtransport.Hub
	stop context.CancelFunc
	wg   sync.WaitGroup
}

func newDurableFarm(t testing.TB, s *jsServer, dir string, reg *engine.Registry, engines int) *durableFarm {
	return newDurableFarmWindow(t, s, dir, reg, engines, 1)
}

// newDurableFarmWindow is newDurableFarm with the controller's window.
func newDurableFarmWindow(t testing.TB, s *jsServer, dir string, reg *engine.Registry, engines, window int) *durableFarm {
	t.Helper()
	j, err := journal.Open(t.Context(), s.nc, &journal.Config{Dir: dir, IDBlock: 1000})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := memtransport.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := controller.New(hub.Controller(), &controller.Config{Journal: j, FailurePenalty: -1, IdleTimeout: -1, Window: window})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &durableFarm{c: c, j: j, hub: hub, stop: cancel}
	for i := range engines {
		e, err := engine.New(&engine.Config{Name: fmt.Sprint("e", i), Registry: reg, Window: window})
		if err != nil {
			t.Fatal(err)
		}
		end := hub.NewEngine()
		f.wg.Go(func() {
			_ = e.Serve(ctx, end)
			_ = end.Close()
		})
	}
	if err := c.WaitEngines(t.Context(), engines); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.crash)
	return f
}

// crash stops everything at once, as a killed process would: no graceful
// stop, no flush of the journal.
func (f *durableFarm) crash() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = f.c.Stop(ctx)
	f.stop()
	f.wg.Wait()
	_ = f.hub.Controller().Close()
	_ = f.j.Close(ctx)
}

func runTask(t testing.TB, c *controller.Controller, fn string, args ...any) drovertype.TaskID {
	t.Helper()
	task, err := drovertype.NewMapTask(fn, args, nil, drovertype.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Run(t.Context(), task)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestJournalRestart crashes a durable controller with tasks finished,
// running and queued, restarts it on the same store, and checks that every
// accepted task ends with exactly one result and that ids are not reused.
func TestJournalRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	double := func(_ context.Context, args []any, _ map[string]any) (any, error) { return args[0].(int64) * 2, nil }
	blocked := make(chan struct{})
	reg1 := engine.NewRegistry()
	reg1.MustRegister("double", double)
	reg1.MustRegister("block", func(ctx context.Context, args []any, _ map[string]any) (any, error) {
		blocked <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	s := startJS(t, dir, 0)
	f := newDurableFarm(t, s, dir, reg1, 2)
	want := map[drovertype.TaskID]any{}
	var done []drovertype.TaskID
	for i := range int64(50) {
		id := runTask(t, f.c, "double", i)
		want[id], done = i*2, append(done, id)
	}
	if _, errs, err := f.c.Results(t.Context(), done); err != nil || errors.Join(errs...) != nil {
		t.Fatal(err, errs)
	}
	for range 2 {
		id := runTask(t, f.c, "block")
		want[id] = "unblocked"
	}
	<-blocked
	<-blocked // both engines are busy: what follows stays queued
	for i := range int64(50) {
		id := runTask(t, f.c, "double", 100+i)
		want[id] = (100 + i) * 2
	}
	counts, err := f.c.QueueCounts(t.Context())
	if err != nil || counts.Pending != 2 || counts.Scheduled != 50 || counts.Succeeded != 50 {
		t.Fatalf("before the crash: %+v, %v", counts, err)
	}
	f.crash()
	s.stop()

	s2 := startJS(t, dir, 0)
	reg2 := engine.NewRegistry()
	reg2.MustRegister("double", double)
	reg2.MustRegister("block", func(context.Context, []any, map[string]any) (any, error) { return "unblocked", nil })
	f2 := newDurableFarm(t, s2, dir, reg2, 2)
	var maxID drovertype.TaskID
	for id, w := range want {
		v, err := f2.c.Result(t.Context(), id)
		if err != nil || v != w {
			t.Errorf("task %d after the restart: %v, %v; want %v", id, v, err, w)
		}
		maxID = max(maxID, id)
	}
	if id := runTask(t, f2.c, "double", int64(1)); id <= maxID {
		t.Errorf("new task got id %d, not above %d", id, maxID)
	} else if v, err := f2.c.Result(t.Context(), id); v != int64(2) || err != nil {
		t.Errorf("new task: %v, %v", v, err)
	}
	counts, err = f2.c.QueueCounts(t.Context())
	if err != nil || counts != (drovertype.QueueCounts{Succeeded: len(want) + 1}) {
		t.Errorf("after the restart: %+v, %v; want %d succeeded", counts, err, len(want)+1)
	}
	// Clear reaches results kept from before the restart.
	n, err := f2.c.Clear(t.Context(), done[0], done[1])
	if n != 2 || err != nil {
		t.Errorf("Clear = %d, %v", n, err)
	}
	if _, err := f2.c.Result(t.Context(), done[0]); !errors.Is(err, drovertype.ErrNotFound) {
		t.Errorf("Result of a cleared task: %v", err)
	}
	// Exactly one result per task on disk (two of them cleared).
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := f2.c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	rec, err := f2.j.Recover(t.Context())
	if err != nil || len(rec.Tasks) != 0 || rec.Succeeded != len(want)-1 || rec.Failed != 0 {
		t.Errorf("journal after the run: %d unfinished, %d succeeded, %d failed, %v; want 0, %d, 0",
			len(rec.Tasks), rec.Succeeded, rec.Failed, err, len(want)-1)
	}
}

// TestJournalAppendFails: when the journal cannot take a task (the store
// is full), Run returns the error and no id, and the task is not queued.
func TestJournalAppendFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startJS(t, dir, 256<<10)
	reg := engine.NewRegistry()
	reg.MustRegister("f", func(_ context.Context, args []any, _ map[string]any) (any, error) { return len(args[0].(string)), nil })
	f := newDurableFarm(t, s, dir, reg, 0) // no engine: the tasks stay
	big := strings.Repeat("x", 16<<10)
	var err error
	var ids []drovertype.TaskID
	for i := 0; i < 64 && err == nil; i++ {
		task, terr := drovertype.NewMapTask("f", []any{big}, nil, drovertype.Options{})
		if terr != nil {
			t.Fatal(terr)
		}
		var id drovertype.TaskID
		if id, err = f.c.Run(t.Context(), task); err == nil {
			ids = append(ids, id)
		}
	}
	if err == nil {
		t.Fatal("1 MiB of tasks accepted into a 256 KiB store")
	}
	if !strings.Contains(err.Error(), dir) || !strings.HasPrefix(err.Error(), "run: ") {
		t.Errorf("Run error %q does not say run and name %s", err, dir)
	}
	st, err := f.c.QueueStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids, st.Scheduled); diff != "" || len(st.Pending)+len(st.Succeeded)+len(st.Failed) != 0 {
		t.Errorf("status %v: want the %d accepted tasks queued and nothing else (-want +got):\n%s", st.Counts(), len(ids), diff)
	}
}

// TestJournalRunBeforeStart: with a journal, Run before Start is refused
// (ids come after recovery).
func TestJournalRunBeforeStart(t *testing.T) {
	t.Parallel()
	s := startJS(t, t.TempDir(), 0)
	j, err := journal.Open(t.Context(), s.nc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close(t.Context())
	hub, err := memtransport.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Controller().Close()
	c, err := controller.New(hub.Controller(), &controller.Config{Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	task, _ := drovertype.NewMapTask("f", nil, nil, drovertype.Options{})
	if id, err := c.Run(t.Context(), task); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Errorf("Run before Start = %d, %v", id, err)
	}
	if err := c.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestJournalCrashRounds: five lives of a durable controller on one
// store, each crashed (no graceful stop, no journal flush, server shut
// down) at a random moment while 1,000 new tasks are in flight; a last
// life finishes the work. Every accepted task ends with exactly one result,
// the right one, and ids are never reused.
func TestJournalCrashRounds(t *testing.T) {
	t.Parallel()
	const rounds, perRound = 5, 1000
	dir := t.TempDir()
	want := map[drovertype.TaskID]int64{}
	var last drovertype.TaskID = -1
	tasks := make([]*drovertype.Task, perRound/4)
	for round := range rounds + 1 {
		s := startJS(t, dir, 0)
		f := newDurableFarmWindow(t, s, dir, benchRegistry(), 2, controller.DefaultWindow)
		if round == rounds {
			ids := make([]drovertype.TaskID, 0, len(want))
			for id := range want {
				ids = append(ids, id)
			}
			values, errs, err := f.c.Results(t.Context(), ids)
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				if values[i] != want[id] || errs[i] != nil {
					t.Errorf("task %d: %v, %v; want %d", id, values[i], errs[i], want[id])
				}
			}
			counts, err := f.c.QueueCounts(t.Context())
			if err != nil || counts != (drovertype.QueueCounts{Succeeded: len(want)}) {
				t.Errorf("counts %+v, %v; want %d succeeded and nothing else", counts, err, len(want))
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if err := f.c.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			rec, err := f.j.Recover(t.Context())
			if err != nil || len(rec.Tasks) != 0 || rec.Succeeded != len(want) || rec.Failed != 0 {
				t.Errorf("on disk: %d unfinished, %d succeeded, %d failed, %v; want 0, %d, 0",
					len(rec.Tasks), rec.Succeeded, rec.Failed, err, len(want))
			}
			return
		}
		var accepted []drovertype.TaskID
		for b := range 4 {
			for i := range tasks {
				v := int64(round*perRound + b*len(tasks) + i)
				tasks[i], _ = drovertype.NewMapTask("inc", []any{v}, nil, drovertype.Options{})
			}
			ids, err := f.c.RunBatch(t.Context(), tasks)
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				if id <= last {
					t.Fatalf("round %d: id %d handed out again (last was %d)", round, id, last)
				}
				last = id
				want[id] = tasks[i].Args[0].(int64) + 1
			}
			accepted = append(accepted, ids...)
		}
		// Crash once a random number of them have finished.
		k := rand.N(len(accepted))
		if err := f.c.Barrier(t.Context(), accepted[:k]...); err != nil {
			t.Fatal(err)
		}
		f.crash()
		s.stop()
	}
}

// TestRunBatch: ids in order; an invalid task queues none and names its
// index (with and without a journal).
func TestRunBatch(t *testing.T) {
	t.Parallel()
	ok, _ := drovertype.NewMapTask("inc", []any{int64(1)}, nil, drovertype.Options{})
	bad := &drovertype.Task{Kind: drovertype.MapTask}
	for _, durable := range []bool{false, true} {
		t.Run(fmt.Sprint("durable=", durable), func(t *testing.T) {
			t.Parallel()
			var c *controller.Controller
			if durable {
				dir := t.TempDir()
				c = newDurableFarm(t, startJS(t, dir, 0), dir, benchRegistry(), 0).c
			} else {
				c = newFarm(t, nil).c
			}
			ids, err := c.RunBatch(t.Context(), []*drovertype.Task{ok, ok, ok})
			if err != nil || !cmp.Equal(ids, []drovertype.TaskID{ids[0], ids[0] + 1, ids[0] + 2}) {
				t.Fatalf("RunBatch = %v, %v", ids, err)
			}
			ids, err = c.RunBatch(t.Context(), []*drovertype.Task{ok, bad})
			var be *controller.BatchError
			if ids != nil || !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, drovertype.ErrInvalidArgument) {
				t.Fatalf("RunBatch with task 1 invalid = %v, %v", ids, err)
			}
			if counts, err := c.QueueCounts(t.Context()); err != nil || counts.Scheduled != 3 {
				t.Errorf("queued %+v, %v; want the 3 of the first batch", counts, err)
			}
		})
	}
}

// heldJournal is a fault-injecting wrapper: it holds the journal's
// durability reports until release is called.
type heldJournal struct {
	*journal.Journal
	mu     sync.Mutex
	fn     func([]drovertype.TaskID)
	held   []drovertype.TaskID
	frozen bool
	got    chan struct{} // a report was held
}

func (h *heldJournal) Notify(fn func([]drovertype.TaskID)) {
	h.mu.Lock()
	h.fn = fn
	h.mu.Unlock()
	h.Journal.Notify(func(ids []drovertype.TaskID) {
		h.mu.Lock()
		if h.frozen {
			h.held = append(h.held, ids...)
			h.mu.Unlock()
			select {
			case h.got <- struct{}{}:
			default:
			}
			return
		}
		h.mu.Unlock()
		fn(ids)
	})
}

func (h *heldJournal) release() {
	h.mu.Lock()
	ids, fn := h.held, h.fn
	h.held, h.frozen = nil, false
	h.mu.Unlock()
	fn(ids)
}

// TestJournalResultOnceDurable: a finished task's result is given out only
// once the journal reports it durable.
func TestJournalResultOnceDurable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startJS(t, dir, 0)
	j, err := journal.Open(t.Context(), s.nc, &journal.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	h := &heldJournal{Journal: j, frozen: true, got: make(chan struct{}, 1)}
	hub, err := memtransport.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := controller.New(hub.Controller(), &controller.Config{Journal: h})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e, err := engine.New(&engine.Config{Name: "e", Registry: benchRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	eend := hub.NewEngine()
	var wg sync.WaitGroup
	wg.Go(func() { _ = e.Serve(ctx, eend) })
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := c.Stop(sctx); err != nil {
			t.Error(err)
		}
		cancel()
		wg.Wait()
		_ = eend.Close()
		_ = hub.Controller().Close()
		_ = j.Close(sctx)
	}()
	id := runTask(t, c, "inc", int64(1))
	// The task finishes and its result is durable, but the report is held:
	// it is not given out.
	<-h.got
	if counts, err := c.QueueCounts(t.Context()); err != nil || counts.Succeeded != 1 {
		t.Fatalf("counts %+v, %v; want 1 succeeded", counts, err)
	}
	if v, done, err := c.Poll(t.Context(), id); done || v != nil || err != nil {
		t.Fatalf("Poll before the result is durable = %v, %v, %v; want not done", v, done, err)
	}
	if err := j.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.release()
	if v, err := c.Result(t.Context(), id); v != int64(2) || err != nil {
		t.Errorf("Result = %v, %v; want 2", v, err)
	}
}

// stallJournal is a fault-injecting wrapper: its Result blocks until the
// caller's ctx ends (a slow store), after telling reading.
type stallJournal struct {
	*journal.Journal
	reading chan struct{}
}

func (s *stallJournal) Result(ctx context.Context, id drovertype.TaskID) (any, *drovertype.TaskError, bool, error) {
	select {
	case s.reading <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, nil, false, fmt.Errorf("journal: result of task %d: %w", id, ctx.Err())
}

// TestJournalReadEndsWithCall: when the caller's wait ends while results
// are read from disk, Results and Result return the wait's end as the
// call's error, never as a task's result (the control API then answers
// "not done" and the client asks again).
func TestJournalReadEndsWithCall(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	reg := engine.NewRegistry()
	reg.MustRegister("id", func(_ context.Context, args []any, _ map[string]any) (any, error) { return args[0], nil })
	s := startJS(t, dir, 0)
	f := newDurableFarm(t, s, dir, reg, 1)
	ids := []drovertype.TaskID{runTask(t, f.c, "id", int64(1)), runTask(t, f.c, "id", int64(2))}
	if _, errs, err := f.c.Results(t.Context(), ids); err != nil || errors.Join(errs...) != nil {
		t.Fatal(err, errs)
	}
	f.crash()
	s.stop()

	s2 := startJS(t, dir, 0)
	j, err := journal.Open(t.Context(), s2.nc, &journal.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close(context.Background())
	sj := &stallJournal{Journal: j, reading: make(chan struct{}, 1)}
	hub, err := memtransport.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Controller().Close()
	c, err := controller.New(hub.Controller(), &controller.Config{Journal: sj})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = c.Stop(ctx)
	}()
	for _, call := range []func(ctx context.Context) error{
		func(ctx context.Context) error {
			values, errs, err := c.Results(ctx, ids)
			if err == nil {
				return fmt.Errorf("Results = %v, %v, nil; want the call's error", values, errs)
			}
			return err
		},
		func(ctx context.Context) error { _, err := c.Result(ctx, ids[0]); return err },
	} {
		ctx, cancel := context.WithCancel(t.Context())
		got := make(chan error, 1)
		go func() { got <- call(ctx) }()
		<-sj.reading
		cancel()
		if err := <-got; !errors.Is(err, context.Canceled) {
			t.Errorf("call ended during the read: %v; want context.Canceled", err)
		}
	}
}
