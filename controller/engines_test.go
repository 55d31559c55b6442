package controller_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/scheduler"
	"github.com/drover-dev/drover/transport"
)

// TestRetries: retries=N allows N+1 attempts, then the failure is final.
func TestRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{FailurePenalty: -1})
		e := f.engine(nil, 1)
		id := f.run(mapTask(t, "f", drovertype.Options{Retries: 2}))
		for range 3 {
			e.fail(e.assignOf(id), zeroDiv())
		}
		if _, err := f.result(id); !errors.Is(err, drovertype.ErrTaskFailed) {
			t.Fatalf("Result = %v", err)
		}
		e.none()
		// A retry that succeeds.
		id = f.run(mapTask(t, "f", drovertype.Options{Retries: 2}))
		e.fail(e.assignOf(id), zeroDiv())
		e.succeed(e.assignOf(id), "ok")
		if v, err := f.result(id); v != "ok" || err != nil {
			t.Fatalf("Result = %v, %v", v, err)
		}
		// TaskRejected is an ordinary failure (the seed's dead branch).
		id = f.run(mapTask(t, "f", drovertype.Options{Retries: 1}))
		rej := drovertype.NewTaskError(drovertype.TaskRejected, "TaskRejectError", "not here")
		e.fail(e.assignOf(id), rej)
		e.fail(e.assignOf(id), rej)
		if _, err := f.result(id); !errors.Is(err, drovertype.ErrTaskRejected) {
			t.Fatalf("Result = %v", err)
		}
	})
}

// TestRecovery checks the recovery chain and the seed's loop guard (B6).
func TestRecovery(t *testing.T) {
	// kinds of attempts as the test drives them
	type step struct {
		fn string // the function of the task attempted
		ok bool
	}
	for _, tc := range []struct {
		name  string
		task  func(t *testing.T) *drovertype.Task
		steps []step
		want  any
		fails bool
	}{
		{
			name: "recovery after retries",
			task: func(t *testing.T) *drovertype.Task {
				return mapTask(t, "A", drovertype.Options{Retries: 1, Recovery: mapTask(t, "B", drovertype.Options{Retries: 1})})
			},
			steps: []step{{"A", false}, {"A", false}, {"B", false}, {"B", true}},
			want:  "B",
		},
		{
			name: "A recovers with A: twice",
			task: func(t *testing.T) *drovertype.Task {
				a := mapTask(t, "A", drovertype.Options{})
				a.Recovery = a
				return a
			},
			steps: []step{{"A", false}, {"A", false}},
			fails: true,
		},
		{
			name: "A with retries recovers with A",
			task: func(t *testing.T) *drovertype.Task {
				a := mapTask(t, "A", drovertype.Options{Retries: 2})
				a.Recovery = a
				return a
			},
			steps: []step{{"A", false}, {"A", false}, {"A", false}, {"A", false}},
			fails: true,
		},
		{
			name: "A, B, A: A once, B once",
			task: func(t *testing.T) *drovertype.Task {
				a := mapTask(t, "A", drovertype.Options{})
				b := mapTask(t, "B", drovertype.Options{})
				a.Recovery, b.Recovery = b, a
				return a
			},
			steps: []step{{"A", false}, {"B", false}},
			fails: true,
		},
		{
			name: "chain of three",
			task: func(t *testing.T) *drovertype.Task {
				return mapTask(t, "A", drovertype.Options{Recovery: mapTask(t, "B", drovertype.Options{Recovery: mapTask(t, "C", drovertype.Options{})})})
			},
			steps: []step{{"A", false}, {"B", false}, {"C", true}},
			want:  "C",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFarm(t, &controller.Config{FailurePenalty: -1})
				e := f.engine(nil, 1)
				tk := tc.task(t)
				id := f.run(tk)
				for i, s := range tc.steps {
					a := e.assignOf(id)
					if a.Task.FuncName != s.fn {
						t.Fatalf("attempt %d runs %s, want %s", i, a.Task.FuncName, s.fn)
					}
					if s.ok {
						e.succeed(a, a.Task.FuncName)
					} else {
						e.fail(a, zeroDiv())
					}
				}
				e.none()
				v, err := f.result(id)
				if tc.fails != (err != nil) || (!tc.fails && v != tc.want) {
					t.Fatalf("Result = %v, %v", v, err)
				}
			})
		})
	}
	synctest.Test(t, func(t *testing.T) {
		// A map task recovered by a string task: the result is the string
		// task's TaskResult; the recovery's depend applies.
		f := newFarm(t, &controller.Config{FailurePenalty: -1, Depend: depends})
		e0 := f.engine(map[string]any{"os": "linux"}, 1)
		e1 := f.engine(map[string]any{"os": "mac"}, 1)
		rec := stringTask(t, "a = 1", macOnly)
		id := f.run(mapTask(t, "A", drovertype.Options{Recovery: rec}))
		e0.fail(e0.assignOf(id), zeroDiv())
		a := e1.assignOf(id)
		if a.Task.Kind != drovertype.StringTask {
			t.Fatalf("recovery attempt is a %v task", a.Task.Kind)
		}
		e1.fail(a, zeroDiv())
		v, err := f.result(id)
		if tr, _ := v.(*drovertype.TaskResult); err != nil || tr == nil || tr.Failure == nil {
			t.Fatalf("Result = %v, %v; want a failed TaskResult", v, err)
		}
	})
}

func TestEngineLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// With retries: the attempt fails EngineLost and the retry goes to
		// another engine.
		f := newFarm(t, nil)
		e0 := f.engine(nil, 1)
		e1 := f.engine(nil, 1)
		busy := f.run(mapTask(t, "f", drovertype.Options{}))
		id := f.run(mapTask(t, "f", drovertype.Options{Retries: 1}))
		b := e0.assignOf(busy)
		e1.assignOf(id)
		_ = e1.end.Close()
		synctest.Wait()
		e0.none()
		e0.succeed(b, nil)
		e0.succeed(e0.assignOf(id), "again")
		if v, err := f.result(id); v != "again" || err != nil {
			t.Fatalf("Result = %v, %v", v, err)
		}
		// Engine ids are never reused.
		e2 := f.engine(nil, 1)
		if e2.id != 2 {
			t.Fatalf("new engine id = %d, want 2", e2.id)
		}
		infos, err := f.c.Engines(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 2 || infos[0].ID != 0 || infos[1].ID != 2 {
			t.Fatalf("Engines = %+v", infos)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// Without retries: the task finishes EngineLost; a string task with
		// a TaskResult carrying it; an aborting task TaskAborted; a pending
		// call fails.
		f := newFarm(t, nil)
		e := f.engine(nil, 3)
		m := f.run(mapTask(t, "f", drovertype.Options{}))
		s := f.run(stringTask(t, "x", drovertype.Options{}))
		ab := f.run(mapTask(t, "f", drovertype.Options{}))
		e.assignOf(m)
		e.assignOf(s)
		e.assignOf(ab)
		if err := f.c.Abort(context.Background(), ab); err != nil {
			t.Fatal(err)
		}
		if e.next().Cancel == nil {
			t.Fatal("no Cancel")
		}
		callErr := make(chan error, 1)
		go func() {
			_, err := f.c.Call(context.Background(), e.id, transport.Call{Op: transport.OpKeys})
			callErr <- err
		}()
		if e.next().Call == nil {
			t.Fatal("no Call")
		}
		_ = e.end.Close()
		_, err := f.result(m)
		if err == nil || err.Error() != "engine 0 lost while running task 0" || !errors.Is(err, drovertype.ErrEngineLost) {
			t.Fatalf("Result(map) = %v", err)
		}
		v, err := f.result(s)
		tr, _ := v.(*drovertype.TaskResult)
		if err != nil || tr == nil || !errors.Is(tr.Err(), drovertype.ErrEngineLost) || tr.EngineID != 0 || tr.TaskID != s {
			t.Fatalf("Result(string) = %#v, %v", v, err)
		}
		if _, err := f.result(ab); !errors.Is(err, drovertype.ErrTaskAborted) {
			t.Fatalf("Result(aborting) = %v", err)
		}
		if err := <-callErr; !errors.Is(err, drovertype.ErrEngineLost) || err.Error() != "keys on engine 0: engine lost before it replied" {
			t.Fatalf("Call = %v", err)
		}
		st, _ := f.c.QueueCounts(context.Background())
		if st != (drovertype.QueueCounts{Failed: 3}) {
			t.Fatalf("counts %+v", st)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// The transport closing loses every engine.
		f := newFarm(t, nil)
		e := f.engine(nil, 1)
		id := f.run(mapTask(t, "f", drovertype.Options{}))
		e.assignOf(id)
		_ = f.hub.Controller().Close()
		if _, err := f.result(id); !errors.Is(err, drovertype.ErrEngineLost) {
			t.Fatalf("Result = %v", err)
		}
	})
}

// TestBye: an engine leaving hands back the attempts it did not start;
// they are queued again without counting a failure. An attempt missing
// from the Unstarted list (assigned while the Bye was on the wire) is
// handed back too: the engine never runs anything after its Bye.
func TestBye(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, nil)
		e0 := f.engine(nil, 3)
		ids := []TaskID{f.run(mapTask(t, "f", drovertype.Options{})), f.run(mapTask(t, "f", drovertype.Options{})), f.run(mapTask(t, "f", drovertype.Options{}))}
		a0, a1, a2 := e0.assignOf(ids[0]), e0.assignOf(ids[1]), e0.assignOf(ids[2])
		e0.succeed(a0, "zero")
		e0.send(transport.FromEngine{Bye: &transport.Bye{Reason: "leaving", Unstarted: []transport.AttemptID{a1.Attempt}}})
		_ = a2
		synctest.Wait()
		e1 := f.engine(nil, 1)
		e1.succeed(e1.assignOf(ids[1]), "one")
		e1.succeed(e1.assignOf(ids[2]), "two")
		for i, want := range []string{"zero", "one", "two"} {
			if v, err := f.result(ids[i]); v != want || err != nil {
				t.Fatalf("Result(%d) = %v, %v", ids[i], v, err)
			}
		}
	})
}

// TestOrder: FIFO runs the oldest queued task on the longest-idle engine,
// LIFO the newest on the most recently freed; visible in which engine
// gets which task.
func TestOrder(t *testing.T) {
	for _, tc := range []struct {
		policy  scheduler.Policy
		order   []TaskID // order the queued tasks 1, 2, 3 run in
		engine0 bool     // whether a task goes to engine 0 (longest idle) first
	}{
		{scheduler.FIFO, []TaskID{1, 2, 3}, true},
		{scheduler.LIFO, []TaskID{3, 2, 1}, false},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFarm(t, &controller.Config{Policy: tc.policy, FailurePenalty: -1})
				e := f.engine(nil, 1)
				a := e.assignOf(f.run(mapTask(t, "f", drovertype.Options{})))
				for range 3 {
					f.run(mapTask(t, "f", drovertype.Options{}))
				}
				e.succeed(a, nil)
				for _, id := range tc.order {
					e.succeed(e.assignOf(id), nil)
				}
				// Engines: two idle engines; the first task goes to the
				// longest idle (FIFO) or the newest (LIFO).
				g := newFarm(t, &controller.Config{Policy: tc.policy})
				e0 := g.engine(nil, 1)
				e1 := g.engine(nil, 1)
				g.run(mapTask(t, "f", drovertype.Options{}))
				if tc.engine0 {
					e0.assignOf(0)
					e1.none()
				} else {
					e1.assignOf(0)
					e0.none()
				}
			})
		})
	}
}

// TestDependRouting: a task goes only to an engine whose properties
// satisfy its depend; unconstrained tasks behind it are not blocked.
func TestDependRouting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{Depend: depends})
		cpu := f.engine(map[string]any{"gpu": "no"}, 1)
		gpu := f.engine(map[string]any{"gpu": "yes"}, 1)
		other := f.engine(map[string]any{"gpu": "no"}, 1, "commands")
		need := drovertype.Options{Depend: &drovertype.Depend{Source: "gpu=yes"}}
		g1 := f.run(mapTask(t, "f", need))
		g2 := f.run(mapTask(t, "f", need))
		free := f.run(mapTask(t, "f", drovertype.Options{}))
		a := gpu.assignOf(g1)
		cpu.assignOf(free) // g2 waits for the gpu engine; free is not blocked behind it
		other.none()
		gpu.succeed(a, nil)
		gpu.assignOf(g2)
		// A predicate that panics means "not eligible".
		p := f.run(mapTask(t, "f", drovertype.Options{Depend: &drovertype.Depend{Source: "panic"}}))
		other.none()
		if f.poll(p) {
			t.Fatal("task with panicking depend finished")
		}
		// Command tasks go only to engines that run commands.
		cmd, err := drovertype.NewShellTask("true", drovertype.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ct := f.run(cmd)
		other.assignOf(ct)
	})
}

func TestPropsFromOutcome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{Depend: depends})
		e := f.engine(map[string]any{"os": "linux"}, 1)
		first := f.run(mapTask(t, "f", drovertype.Options{}))
		mac := f.run(mapTask(t, "f", macOnly))
		a := e.assignOf(first)
		now := time.Now()
		e.send(transport.FromEngine{Outcome: &transport.Outcome{
			Attempt: a.Attempt, TaskID: a.TaskID, Started: now, Ended: now,
			Props: &transport.Props{Properties: map[string]any{"os": "mac"}},
		}})
		// The engine is readmitted after the outcome: a scheduling event
		// that sees the new properties.
		e.assignOf(mac)
		infos, err := f.c.Engines(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := []drovertype.EngineInfo{{ID: 0, Name: "driver", Properties: map[string]any{"os": "mac"}, Busy: true, Task: mac}}
		if diff := cmp.Diff(want, infos); diff != "" {
			t.Fatalf("Engines (-want +got):\n%s", diff)
		}
	})
}

func TestWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{Window: 2})
		e := f.engine(nil, 3) // the engine accepts 3, the controller uses 2
		for range 4 {
			f.run(mapTask(t, "f", drovertype.Options{}))
		}
		a0, a1 := e.assignOf(0), e.assignOf(1)
		e.none()
		st, _ := f.c.QueueStatus(context.Background())
		if diff := cmp.Diff([]TaskID{0, 1}, st.Pending); diff != "" {
			t.Fatalf("pending (-want +got):\n%s", diff)
		}
		e.succeed(a1, nil)
		e.assignOf(2)
		e.succeed(a0, nil)
		e.assignOf(3)
		// The engine's own window caps the controller's.
		g := newFarm(t, nil)
		d := g.engine(nil, 1)
		g.run(mapTask(t, "f", drovertype.Options{}))
		g.run(mapTask(t, "f", drovertype.Options{}))
		d.assignOf(0)
		d.none()
	})
}

func TestCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{Depend: depends})
		ctx := context.Background()
		e := f.engine(map[string]any{"os": "linux"}, 1)
		type res struct {
			v   any
			err error
		}
		out := make(chan res, 1)
		call := func(c transport.Call) {
			go func() {
				v, err := f.c.Call(ctx, e.id, c)
				out <- res{v, err}
			}()
		}
		call(transport.Call{Op: transport.OpPull, Names: []string{"a"}})
		m := e.next()
		if m.Call == nil || m.Call.Op != transport.OpPull || m.Call.ID == 0 {
			t.Fatalf("engine got %s", describe(m))
		}
		e.send(transport.FromEngine{Reply: &transport.Reply{ID: m.Call.ID, Value: int64(5)}})
		if r := <-out; r.v != int64(5) || r.err != nil {
			t.Fatalf("Call(pull) = %v, %v", r.v, r.err)
		}
		call(transport.Call{Op: transport.OpPull, Names: []string{"b"}})
		m = e.next()
		e.send(transport.FromEngine{Reply: &transport.Reply{ID: m.Call.ID, Err: drovertype.NewTaskError(drovertype.TaskFailed, "NameError", "name 'b' is not defined")}})
		if r := <-out; r.err == nil || r.err.Error() != "pull on engine 0: NameError: name 'b' is not defined" {
			t.Fatalf("Call(pull missing) = %v, %v", r.v, r.err)
		}
		// Properties set by a call reach the cache, without scheduling.
		id := f.run(mapTask(t, "f", macOnly))
		call(transport.Call{Op: transport.OpSetProperties, Values: map[string]any{"os": "mac"}})
		m = e.next()
		e.send(transport.FromEngine{Reply: &transport.Reply{ID: m.Call.ID, Props: &transport.Props{Properties: map[string]any{"os": "mac"}}}})
		<-out
		e.none()
		if ok, _ := f.c.Spin(ctx); !ok {
			t.Fatal("Spin found nothing to do")
		}
		e.assignOf(id)
		// Unknown engine.
		_, err := f.c.Call(ctx, 9, transport.Call{Op: transport.OpKeys})
		if err == nil || err.Error() != "keys on engine 9: no engine with id 9" || !errors.Is(err, drovertype.ErrNotFound) {
			t.Fatalf("Call(unknown engine) = %v", err)
		}
	})
}

func TestWaitEngines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, nil)
		ctx := context.Background()
		if err := f.c.WaitEngines(ctx, 0); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- f.c.WaitEngines(ctx, 2) }()
		f.engine(nil, 1)
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("WaitEngines returned %v with one engine", err)
		default:
		}
		f.engine(nil, 1)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Graceful: the running attempt ends and is delivered; then the
		// engines are told to shut down.
		f := newFarm(t, nil)
		e := f.engine(nil, 1)
		ctx := context.Background()
		id := f.run(mapTask(t, "f", drovertype.Options{}))
		queued := f.run(mapTask(t, "f", drovertype.Options{}))
		a := e.assignOf(id)
		got := make(chan any, 1)
		go func() {
			v, _ := f.result(id)
			got <- v
		}()
		queuedErr := make(chan error, 1)
		go func() {
			_, err := f.result(queued)
			queuedErr <- err
		}()
		stopped := make(chan error, 1)
		synctest.Wait()
		go func() { stopped <- f.c.Stop(ctx) }()
		synctest.Wait()
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned %v with an attempt running", err)
		default:
		}
		if _, err := f.c.Run(ctx, mapTask(t, "f", drovertype.Options{})); !errors.Is(err, drovertype.ErrClosed) {
			t.Fatalf("Run after Stop = %v", err)
		}
		if _, err := f.c.QueueCounts(ctx); !errors.Is(err, drovertype.ErrClosed) {
			t.Fatalf("QueueCounts after Stop = %v", err)
		}
		e.succeed(a, "last")
		if err := <-stopped; err != nil {
			t.Fatalf("Stop = %v", err)
		}
		if v := <-got; v != "last" {
			t.Fatalf("Result = %v", v)
		}
		if err := <-queuedErr; !errors.Is(err, drovertype.ErrClosed) {
			t.Fatalf("Result(queued) = %v", err)
		}
		if m := e.next(); m.Shutdown == nil {
			t.Fatalf("engine got %s, want Shutdown", describe(m))
		}
		if err := f.c.Stop(ctx); err != nil {
			t.Fatalf("second Stop = %v", err)
		}
		if err := f.c.Start(ctx); !errors.Is(err, drovertype.ErrClosed) {
			t.Fatalf("Start after Stop = %v", err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// Stop's ctx ends: stop at once.
		f := newFarm(t, nil)
		e := f.engine(nil, 1)
		e.assignOf(f.run(mapTask(t, "f", drovertype.Options{})))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := f.c.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Stop = %v", err)
		}
		if m := e.next(); m.Shutdown == nil {
			t.Fatalf("engine got %s, want Shutdown", describe(m))
		}
	})
	t.Run("before start", func(t *testing.T) {
		hub := newHub(t)
		c, err := controller.New(hub.Controller(), nil)
		if err != nil {
			t.Fatal(err)
		}
		// Run before Start is accepted and served once started.
		if _, err := c.Run(context.Background(), mapTask(t, "f", drovertype.Options{})); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := c.QueueCounts(context.Background())
			errc <- err
		}()
		// Whether the request was queued before Stop or not, it fails.
		if err := c.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, drovertype.ErrClosed) {
			t.Fatalf("QueueCounts = %v", err)
		}
		if err := c.Start(context.Background()); !errors.Is(err, drovertype.ErrClosed) {
			t.Fatalf("Start after Stop = %v", err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// Start's ctx cancelled: the controller stops.
		hub := newHub(t)
		c, err := controller.New(hub.Controller(), nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx); err == nil {
			t.Fatal("second Start: no error")
		}
		cancel()
		synctest.Wait()
		if _, err := c.QueueCounts(context.Background()); !errors.Is(err, drovertype.ErrClosed) {
			t.Fatalf("QueueCounts after cancel = %v", err)
		}
		if err := c.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRetryAvoidsFailingEngine: with a window, an engine whose attempt just
// failed still has free slots; the retry goes to another idle engine
// anyway, as in the seed.
func TestRetryAvoidsFailingEngine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{FailurePenalty: -1, Window: 4})
		e0 := f.engine(nil, 4)
		id := f.run(mapTask(t, "f", drovertype.Options{Retries: 1}))
		a := e0.assignOf(id)
		e1 := f.engine(nil, 4)
		e0.fail(a, zeroDiv())
		e1.assignOf(id)
		e0.none()
	})
}

// TestProtocolOddities: messages that make no sense are ignored.
func TestProtocolOddities(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{FailurePenalty: -1})
		e := f.engine(nil, 1)
		// A repeated hello is answered with the same id.
		e.send(transport.FromEngine{Register: &transport.Register{Window: 1}})
		if m := e.next(); m.Registered == nil || m.Registered.EngineID != e.id {
			t.Fatalf("engine got %s", describe(m))
		}
		id := f.run(mapTask(t, "f", drovertype.Options{}))
		a := e.assignOf(id)
		// Outcomes of unknown attempts, replies to unknown calls.
		now := time.Now()
		e.send(
			transport.FromEngine{Outcome: &transport.Outcome{Attempt: a.Attempt + 100, TaskID: id, Value: "bogus", Started: now, Ended: now}},
			transport.FromEngine{Outcome: &transport.Outcome{Attempt: a.Attempt, TaskID: 42, Value: "bogus"}},
			transport.FromEngine{Reply: &transport.Reply{ID: 77}},
		)
		synctest.Wait()
		if f.poll(id) {
			t.Fatal("a bogus outcome finished the task")
		}
		e.succeed(a, "real")
		e.succeed(a, "duplicate")
		if v, err := f.result(id); v != "real" || err != nil {
			t.Fatalf("Result = %v, %v", v, err)
		}
		// A message from an address that never registered.
		stranger := f.hub.NewEngine()
		defer stranger.Close()
		if err := stranger.Send(context.Background(), transport.FromEngine{Props: &transport.Props{}}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if infos, _ := f.c.Engines(context.Background()); len(infos) != 1 {
			t.Fatalf("Engines = %+v", infos)
		}
		// WaitEngine by address.
		got := make(chan drovertype.EngineID, 1)
		go func() {
			id, err := f.c.WaitEngine(context.Background(), stranger.Addr())
			if err != nil {
				t.Error(err)
			}
			got <- id
		}()
		synctest.Wait()
		if err := stranger.Send(context.Background(), transport.FromEngine{Register: &transport.Register{Window: 1}}); err != nil {
			t.Fatal(err)
		}
		if id := <-got; id != 1 {
			t.Fatalf("WaitEngine = %d", id)
		}
	})
}

// TestRepeatedPenalty: an engine failing again while penalized (window >
// 1) serves the later penalty.
func TestRepeatedPenalty(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{Window: 2})
		e := f.engine(nil, 2)
		x := f.run(mapTask(t, "f", drovertype.Options{}))
		y := f.run(mapTask(t, "f", drovertype.Options{}))
		ax, ay := e.assignOf(x), e.assignOf(y)
		other := f.engine(nil, 1)
		e.fail(ax, zeroDiv())
		time.Sleep(time.Second / 2)
		e.fail(ay, zeroDiv())
		start := time.Now()
		z := f.run(mapTask(t, "f", drovertype.Options{}))
		other.assignOf(z)
		w := f.run(mapTask(t, "f", drovertype.Options{}))
		time.Sleep(time.Second/2 + time.Millisecond)
		e.none() // the first penalty ended, not the second
		time.Sleep(time.Second/2 - time.Millisecond)
		e.assignOf(w)
		if got := time.Since(start); got != controller.DefaultFailurePenalty {
			t.Fatalf("readmitted after %v", got)
		}
	})
}
