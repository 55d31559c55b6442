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
	"github.com/drover-dev/drover/transport/memtransport"
)

type TaskID = drovertype.TaskID

func TestNewConfig(t *testing.T) {
	t.Parallel()
	hub, err := memtransport.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Controller().Close()
	for _, tc := range []struct {
		name string
		cfg  *controller.Config
		want string // error text; "" for none
	}{
		{"nil", nil, ""},
		{"zero", &controller.Config{}, ""},
		{"lifo", &controller.Config{Policy: scheduler.LIFO}, ""},
		{"bad policy", &controller.Config{Policy: 7}, "new controller: Config.Policy is Policy(7), want scheduler.FIFO or scheduler.LIFO"},
		{"bad window", &controller.Config{Window: -1}, "new controller: Config.Window is -1, want >= 0"},
		{"negative timers", &controller.Config{FailurePenalty: -1, IdleTimeout: -1}, ""},
		{"nil scheduler", &controller.Config{NewScheduler: func(scheduler.Eligible) (scheduler.Scheduler, error) { return nil, nil }},
			"new controller: Config.NewScheduler: returned nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := controller.New(hub.Controller(), tc.cfg)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("New: error %q, want %q", got, tc.want)
			}
			if c != nil {
				if err := c.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	if _, err := controller.New(nil, nil); err == nil {
		t.Fatal("New(nil end): no error")
	}
}

// TestLifeCycle follows one task through QUEUED, PENDING and FINISHED, and
// checks that ids are consecutive and that Run takes a copy.
func TestLifeCycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, nil)
		tk := mapTask(t, "f", drovertype.Options{}, int64(1))
		id := f.run(tk)
		if id != 0 {
			t.Fatalf("first id = %d, want 0", id)
		}
		tk.Args[0] = int64(99) // the controller has its copy
		synctest.Wait()
		if f.poll(id) {
			t.Fatal("queued task is done")
		}
		e := f.engine(nil, 1)
		a := e.assignOf(id)
		if a.Task == tk || a.Task.Args[0] != int64(1) {
			t.Fatalf("assigned task %+v is not a copy of the task as Run saw it", a.Task)
		}
		st, err := f.c.QueueStatus(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(drovertype.QueueStatus{Pending: []TaskID{0}, Scheduled: []TaskID{}, Succeeded: []TaskID{}, Failed: []TaskID{}}, st); diff != "" {
			t.Fatalf("status while running (-want +got):\n%s", diff)
		}
		e.succeed(a, int64(42))
		v, err := f.result(id)
		if err != nil || v != int64(42) {
			t.Fatalf("Result = %v, %v; want 42, nil", v, err)
		}
		if id := f.run(tk); id != 1 {
			t.Fatalf("second id = %d, want 1", id)
		}
		a = e.assignOf(1)
		if a.Task.Args[0] != int64(99) {
			t.Fatalf("second task's arg = %v, want 99", a.Task.Args[0])
		}
		e.succeed(a, nil)
		if v, err := f.result(1); v != nil || err != nil {
			t.Fatalf("Result(1) = %v, %v; want nil, nil", v, err)
		}
	})
}

func TestRunInvalid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, nil)
		_, err := f.c.Run(context.Background(), nil)
		if err == nil || err.Error() != "run: task must be a Task object!" || !errors.Is(err, drovertype.ErrInvalidArgument) ||
			!errors.Is(err, &drovertype.TaskError{Kind: drovertype.InvalidArgument, Type: "AssertionError"}) {
			t.Fatalf("Run(nil) = %v (the seed's AssertionError)", err)
		}
		_, err = f.c.Run(context.Background(), &drovertype.Task{Kind: drovertype.MapTask})
		if err == nil || err.Error() != "run: a task function must be a FunctionType" {
			t.Fatalf("Run(bad task) = %v", err)
		}
		dep := mapTask(t, "f", drovertype.Options{Depend: &drovertype.Depend{Source: "os=linux"}})
		_, err = f.c.Run(context.Background(), dep)
		if err == nil || !errors.Is(err, drovertype.ErrInvalidArgument) ||
			err.Error() != "run: the task has a depend constraint but the controller has no depend compiler (Config.Depend)" {
			t.Fatalf("Run(depend) without compiler = %v", err)
		}
		// A recovery task's depend counts too.
		rec := mapTask(t, "f", drovertype.Options{Recovery: dep})
		if _, err = f.c.Run(context.Background(), rec); err == nil {
			t.Fatal("Run(recovery with depend) without compiler: no error")
		}
		// No id was taken by the refused tasks.
		if id := f.run(mapTask(t, "f", drovertype.Options{})); id != 0 {
			t.Fatalf("id after refused runs = %d, want 0", id)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := f.c.Run(ctx, mapTask(t, "f", drovertype.Options{})); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run(cancelled ctx) = %v", err)
		}
	})
}

func TestDependCompileErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{Depend: depends})
		_, err := f.c.Run(context.Background(), mapTask(t, "f", drovertype.Options{Depend: &drovertype.Depend{Source: "boom"}}))
		if err == nil || err.Error() != "run: invalid depend: syntax error: boom" || !errors.Is(err, drovertype.ErrInvalidArgument) {
			t.Fatalf("Run(bad depend) = %v", err)
		}
		pc := &controller.Config{Depend: func(*drovertype.Depend) (func(map[string]any) bool, error) { panic("bug") }}
		g := newFarm(t, pc)
		_, err = g.c.Run(context.Background(), mapTask(t, "f", drovertype.Options{Depend: &drovertype.Depend{Source: "x"}}))
		if err == nil || err.Error() != "run: invalid depend: depend compiler panicked: bug" {
			t.Fatalf("Run(panicking compiler) = %v", err)
		}
	})
}

// TestResultKinds checks get_task_result's semantics for every kind of
// outcome.
func TestResultKinds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{FailurePenalty: -1})
		e := f.engine(nil, 1)

		ok := f.run(mapTask(t, "f", drovertype.Options{}))
		e.succeed(e.assignOf(ok), "done")
		bad := f.run(mapTask(t, "f", drovertype.Options{}))
		e.fail(e.assignOf(bad), zeroDiv())
		sok := f.run(stringTask(t, "a = 1", drovertype.Options{}))
		sa := e.assignOf(sok)
		tr := &drovertype.TaskResult{TaskID: sok, EngineID: e.id, Kind: drovertype.StringTask, Results: map[string]any{"a": int64(1)}, Keys: []string{"a"}}
		e.succeed(sa, tr)
		sbad := f.run(stringTask(t, "1/0", drovertype.Options{}))
		e.fail(e.assignOf(sbad), zeroDiv())

		if v, err := f.result(ok); v != "done" || err != nil {
			t.Errorf("map success: %v, %v", v, err)
		}
		v, err := f.result(bad)
		if v != nil || err == nil || err.Error() != "ZeroDivisionError: division by zero" ||
			!errors.Is(err, drovertype.ErrTaskFailed) ||
			!errors.Is(err, &drovertype.TaskError{Kind: drovertype.TaskFailed, Type: "ZeroDivisionError"}) {
			t.Errorf("map failure: %v, %v", v, err)
		}
		v, err = f.result(sok)
		if got, _ := v.(*drovertype.TaskResult); got != tr || err != nil {
			t.Errorf("string success: %v, %v", v, err)
		}
		v, err = f.result(sbad)
		got, _ := v.(*drovertype.TaskResult)
		if err != nil || got == nil || got.Failure == nil || got.Failure.Type != "ZeroDivisionError" {
			t.Errorf("string failure: %#v, %v", v, err)
		}
		// Poll gives the same, done.
		if v, done, err := f.c.Poll(context.Background(), bad); v != nil || !done || !errors.Is(err, drovertype.ErrTaskFailed) {
			t.Errorf("Poll(failed) = %v, %v, %v", v, done, err)
		}
		for _, id := range []TaskID{7, -1} {
			_, err := f.result(id)
			if err == nil || err.Error() != "result: task ID not registered: "+itoa(int64(id)) || !errors.Is(err, drovertype.ErrNotFound) {
				t.Errorf("Result(%d) = %v", id, err)
			}
			_, _, err = f.c.Poll(context.Background(), id)
			if err == nil || err.Error() != "poll: task ID not registered: "+itoa(int64(id)) {
				t.Errorf("Poll(%d) = %v", id, err)
			}
		}
	})
}

func TestResultHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, nil)
		id := f.run(mapTask(t, "f", drovertype.Options{}))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := f.c.Result(ctx, id)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("Result = %v after %v", err, time.Since(start))
		}
		if err.Error() != "result: task 0: context deadline exceeded" {
			t.Fatalf("error text %q", err)
		}
		// The task is not affected: it runs when an engine comes.
		e := f.engine(nil, 1)
		e.succeed(e.assignOf(id), int64(3))
		if v, err := f.result(id); v != int64(3) || err != nil {
			t.Fatalf("Result = %v, %v", v, err)
		}
		// Several waiters, some gone, on one task.
		id = f.run(mapTask(t, "f", drovertype.Options{}))
		a := e.assignOf(id)
		for range 20 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			_, err := f.c.Result(ctx, id)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatal(err)
			}
		}
		got := make(chan any, 2)
		for range 2 {
			go func() {
				v, _ := f.result(id)
				got <- v
			}()
		}
		synctest.Wait()
		e.succeed(a, "x")
		if v1, v2 := <-got, <-got; v1 != "x" || v2 != "x" {
			t.Fatalf("waiters got %v, %v", v1, v2)
		}
	})
}

func TestResults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{FailurePenalty: -1})
		e := f.engine(nil, 4)
		ids := []TaskID{f.run(mapTask(t, "f", drovertype.Options{})), f.run(mapTask(t, "f", drovertype.Options{}))}
		a0, a1 := e.assignOf(0), e.assignOf(1)
		done := make(chan struct{})
		var vals []any
		var errs []error
		go func() {
			defer close(done)
			var err error
			vals, errs, err = f.c.Results(context.Background(), append(ids, 99))
			if err != nil {
				t.Error(err)
			}
		}()
		e.fail(a1, zeroDiv())
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Results returned before every task finished")
		default:
		}
		e.succeed(a0, int64(5))
		<-done
		if vals[0] != int64(5) || errs[0] != nil || vals[1] != nil || !errors.Is(errs[1], drovertype.ErrTaskFailed) ||
			!errors.Is(errs[2], drovertype.ErrNotFound) {
			t.Fatalf("Results = %v, %v", vals, errs)
		}
	})
}

func TestAbortQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, nil)
		id := f.run(mapTask(t, "f", drovertype.Options{Retries: 3}))
		waited := make(chan error, 1)
		go func() {
			_, err := f.result(id)
			waited <- err
		}()
		synctest.Wait()
		if err := f.c.Abort(context.Background(), id); err != nil {
			t.Fatalf("Abort(queued) = %v", err)
		}
		err := <-waited
		if !errors.Is(err, drovertype.ErrTaskAborted) || err.Error() != "TaskAborted" {
			t.Fatalf("waiter got %v", err)
		}
		err = f.c.Abort(context.Background(), id)
		if err == nil || err.Error() != "abort: task 0: Task Already Completed" || !errors.Is(err, drovertype.ErrAlreadyCompleted) {
			t.Fatalf("second Abort = %v", err)
		}
		err = f.c.Abort(context.Background(), 7)
		if err == nil || err.Error() != "abort: No task #7" || !errors.Is(err, drovertype.ErrNotFound) {
			t.Fatalf("Abort(unknown) = %v", err)
		}
		// An aborted task never runs.
		e := f.engine(nil, 1)
		e.none()
	})
}

// TestAbortRunning: beyond the seed, the running attempt is cancelled; the
// task finishes TaskAborted whatever the attempt's outcome, without retry.
func TestAbortRunning(t *testing.T) {
	for _, name := range []string{"cancelled", "succeeded anyway", "failed anyway"} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFarm(t, nil)
				e := f.engine(nil, 1)
				id := f.run(mapTask(t, "f", drovertype.Options{Retries: 3}))
				a := e.assignOf(id)
				if err := f.c.Abort(context.Background(), id); err != nil {
					t.Fatalf("Abort(running) = %v", err)
				}
				m := e.next()
				if m.Cancel == nil || m.Cancel.Attempt != a.Attempt || m.Cancel.Kind != drovertype.TaskAborted {
					t.Fatalf("engine got %s, want Cancel of attempt %d", describe(m), a.Attempt)
				}
				err := f.c.Abort(context.Background(), id)
				if err == nil || err.Error() != "abort: task 0: Task Already Aborted" || !errors.Is(err, drovertype.ErrAlreadyAborted) {
					t.Fatalf("second Abort = %v", err)
				}
				if f.poll(id) {
					t.Fatal("task done before its attempt ended")
				}
				next := f.run(mapTask(t, "f", drovertype.Options{}))
				switch name {
				case "cancelled":
					e.fail(a, drovertype.NewAborted(id))
				case "succeeded anyway":
					e.succeed(a, int64(1))
				case "failed anyway":
					e.fail(a, zeroDiv())
				}
				if _, err := f.result(id); !errors.Is(err, drovertype.ErrTaskAborted) {
					t.Fatalf("Result = %v, want TaskAborted", err)
				}
				if name == "failed anyway" {
					// The attempt's own failure costs the penalty.
					e.none()
					time.Sleep(controller.DefaultFailurePenalty)
				}
				e.assignOf(next) // no retry of the aborted task
				e.none()
			})
		})
	}
}

func TestBarrier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{FailurePenalty: -1})
		ctx := context.Background()
		if err := f.c.Barrier(ctx); err != nil {
			t.Fatalf("Barrier() = %v", err)
		}
		if err := f.c.Barrier(ctx, 42, -3); err != nil {
			t.Fatalf("Barrier(unknown) = %v", err)
		}
		e := f.engine(nil, 1)
		a := f.run(mapTask(t, "f", drovertype.Options{}))
		b := f.run(mapTask(t, "f", drovertype.Options{}))
		done := make(chan error, 1)
		go func() { done <- f.c.Barrier(ctx, a, b, a, 42) }()
		e.fail(e.assignOf(a), zeroDiv())
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Barrier returned %v before task %d finished", err, b)
		default:
		}
		e.succeed(e.assignOf(b), nil)
		if err := <-done; err != nil {
			t.Fatalf("Barrier = %v, want nil (failures are not reported)", err)
		}
		// ctx
		c := f.run(mapTask(t, "f", drovertype.Options{}))
		e.assignOf(c)
		tctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := f.c.Barrier(tctx, c); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Barrier(ctx) = %v", err)
		}
	})
}

func TestQueueStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{FailurePenalty: -1, Depend: depends})
		e := f.engine(nil, 1)
		e.succeed(e.assignOf(f.run(mapTask(t, "f", drovertype.Options{}))), int64(1))    // 0 succeeded
		e.fail(e.assignOf(f.run(mapTask(t, "f", drovertype.Options{}))), zeroDiv())      // 1 failed
		e.succeed(e.assignOf(f.run(stringTask(t, "a=1", drovertype.Options{}))), nil)    // 2 succeeded
		e.fail(e.assignOf(f.run(stringTask(t, "1/0", drovertype.Options{}))), zeroDiv()) // 3 failed
		running := f.run(mapTask(t, "f", drovertype.Options{}))                          // 4 pending
		e.assignOf(running)
		aborted := f.run(mapTask(t, "f", drovertype.Options{})) // 5 aborted
		if err := f.c.Abort(context.Background(), aborted); err != nil {
			t.Fatal(err)
		}
		f.run(mapTask(t, "f", drovertype.Options{}))                                             // 6 queued
		f.run(mapTask(t, "f", drovertype.Options{Depend: &drovertype.Depend{Source: "os=mac"}})) // 7 queued
		f.run(mapTask(t, "f", drovertype.Options{}))                                             // 8 queued
		st, err := f.c.QueueStatus(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := drovertype.QueueStatus{
			Pending: []TaskID{4}, Scheduled: []TaskID{6, 7, 8}, Succeeded: []TaskID{0, 2}, Failed: []TaskID{1, 3, 5},
		}
		if diff := cmp.Diff(want, st); diff != "" {
			t.Fatalf("QueueStatus (-want +got):\n%s", diff)
		}
		n, err := f.c.QueueCounts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(drovertype.QueueCounts{Pending: 1, Scheduled: 3, Succeeded: 2, Failed: 3}, n); diff != "" {
			t.Fatalf("QueueCounts (-want +got):\n%s", diff)
		}
	})
}

func TestClear(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{FailurePenalty: -1})
		ctx := context.Background()
		e := f.engine(nil, 1)
		for range 3 {
			e.succeed(e.assignOf(f.run(mapTask(t, "f", drovertype.Options{}))), nil)
		}
		running := f.run(mapTask(t, "f", drovertype.Options{}))
		ra := e.assignOf(running)
		queued := f.run(mapTask(t, "f", drovertype.Options{}))

		if n, err := f.c.Clear(ctx); n != 0 || err != nil {
			t.Fatalf("Clear() = %d, %v", n, err)
		}
		if n, err := f.c.Clear(ctx, 0); n != 1 || err != nil {
			t.Fatalf("Clear(0) = %d, %v", n, err)
		}
		if _, err := f.result(0); err == nil || err.Error() != "result: task ID not registered: 0" {
			t.Fatalf("Result(cleared) = %v", err)
		}
		n, err := f.c.Clear(ctx, 1, 0, running, queued, 99)
		if n != 1 || err == nil || !errors.Is(err, drovertype.ErrNotFound) ||
			err.Error() != "clear: Cleared 1 results, but no tasks found for ids: 0, 3, 4, 99" {
			t.Fatalf("Clear(mixed) = %d, %v", n, err)
		}
		if _, err := f.result(1); err == nil {
			t.Fatal("task 1 still there after a Clear that reported an error")
		}
		// Queued and running tasks were not affected.
		e.succeed(ra, "r")
		e.succeed(e.assignOf(queued), "q")
		if v, err := f.result(running); v != "r" || err != nil {
			t.Fatalf("Result(running) = %v, %v", v, err)
		}
		if v, err := f.result(queued); v != "q" || err != nil {
			t.Fatalf("Result(queued) = %v, %v", v, err)
		}
		if n, err := f.c.ClearAll(ctx); n != 3 || err != nil {
			t.Fatalf("ClearAll = %d, %v", n, err)
		}
		if n, err := f.c.ClearAll(ctx); n != 0 || err != nil {
			t.Fatalf("second ClearAll = %d, %v", n, err)
		}
		st, _ := f.c.QueueCounts(ctx)
		if st != (drovertype.QueueCounts{}) {
			t.Fatalf("counts after ClearAll: %+v", st)
		}
		// Ids are not reused.
		if id := f.run(mapTask(t, "f", drovertype.Options{})); id != 5 {
			t.Fatalf("id after clear = %d, want 5", id)
		}
	})
}

func TestSpin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{Depend: depends})
		ctx := context.Background()
		if ok, err := f.c.Spin(ctx); ok || err != nil {
			t.Fatalf("Spin(empty) = %v, %v", ok, err)
		}
		e := f.engine(map[string]any{"os": "linux"}, 1)
		id := f.run(mapTask(t, "f", drovertype.Options{Depend: &drovertype.Depend{Source: "os=mac"}}))
		e.none()
		// Properties changing does not schedule (the seed) ...
		e.send(propsMsg(map[string]any{"os": "mac"}))
		e.none()
		// ... spin does.
		if ok, err := f.c.Spin(ctx); !ok || err != nil {
			t.Fatalf("Spin = %v, %v", ok, err)
		}
		e.assignOf(id)
		if ok, _ := f.c.Spin(ctx); ok {
			t.Fatal("Spin with nothing to do reported true")
		}
	})
}
