package controller_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
)

var macOnly = drovertype.Options{Depend: &drovertype.Depend{Source: "os=mac"}}

// TestIdleTimeout: tasks queued, at least one engine, every engine idle:
// after IdleTimeout every queued task fails with the seed's TaskTimeout.
func TestIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{Depend: depends})
		e := f.engine(map[string]any{"os": "linux"}, 1)
		start := time.Now()
		a := f.run(mapTask(t, "f", macOnly))
		b := f.run(stringTask(t, "x", macOnly))
		time.Sleep(controller.DefaultIdleTimeout - time.Nanosecond)
		if f.poll(a) || f.poll(b) {
			t.Fatal("tasks failed before the idle timeout")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		for _, id := range []drovertype.TaskID{a, b} {
			_, err := f.result(id)
			want := "task " + itoa(int64(id)) + " failed to execute due to unmet dependencies for 30 seconds"
			if err == nil || err.Error() != want || !errors.Is(err, drovertype.ErrTaskTimeout) {
				t.Fatalf("Result(%d) = %v, want %q (a string task too: the seed stores the failure)", id, err, want)
			}
		}
		if got := time.Since(start); got != controller.DefaultIdleTimeout {
			t.Fatalf("timed out after %v", got)
		}
		n, _ := f.c.QueueCounts(context.Background())
		if n.Failed != 2 || n.Scheduled != 0 {
			t.Fatalf("counts %+v: timed-out tasks count as failed", n)
		}
		e.none()
	})
}

func TestIdleTimeoutConfig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, &controller.Config{Depend: depends, IdleTimeout: 1500 * time.Millisecond})
		f.engine(nil, 1)
		id := f.run(mapTask(t, "f", macOnly))
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		_, err := f.result(id)
		if err == nil || err.Error() != "task 0 failed to execute due to unmet dependencies for 1.5 seconds" {
			t.Fatalf("Result = %v", err)
		}
		g := newFarm(t, &controller.Config{Depend: depends, IdleTimeout: -1})
		g.engine(nil, 1)
		id = g.run(mapTask(t, "f", macOnly))
		time.Sleep(time.Hour)
		if g.poll(id) {
			t.Fatal("disabled idle timeout fired")
		}
	})
}

// TestIdleTimeoutArming checks the seed's checkIdle rule: never armed with
// no engine or while an engine is busy or penalized; restarted at every
// scheduling event.
func TestIdleTimeoutArming(t *testing.T) {
	const timeout = controller.DefaultIdleTimeout
	t.Run("no engine", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFarm(t, nil)
			id := f.run(mapTask(t, "f", drovertype.Options{}))
			time.Sleep(10 * timeout)
			if f.poll(id) {
				t.Fatal("task timed out with no engine")
			}
			// The last engine leaving disarms it too.
			g := newFarm(t, &controller.Config{Depend: depends})
			e := g.engine(nil, 1)
			id = g.run(mapTask(t, "f", macOnly))
			time.Sleep(timeout / 2)
			_ = e.end.Close()
			time.Sleep(10 * timeout)
			if g.poll(id) {
				t.Fatal("task timed out after the last engine left")
			}
		})
	})
	t.Run("busy engine", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFarm(t, &controller.Config{Depend: depends})
			e := f.engine(map[string]any{"os": "linux"}, 1)
			long := f.run(mapTask(t, "f", drovertype.Options{}))
			a := e.assignOf(long)
			id := f.run(mapTask(t, "f", macOnly))
			time.Sleep(10 * timeout)
			if f.poll(id) {
				t.Fatal("task timed out while the engine was busy")
			}
			e.succeed(a, nil)
			synctest.Wait()
			start := time.Now()
			if _, err := f.result(id); !errors.Is(err, drovertype.ErrTaskTimeout) {
				t.Fatalf("Result = %v", err)
			}
			if got := time.Since(start); got != timeout {
				t.Fatalf("timed out %v after the engine became idle, want %v", got, timeout)
			}
		})
	})
	t.Run("penalized engine", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFarm(t, &controller.Config{Depend: depends, FailurePenalty: time.Minute})
			e := f.engine(map[string]any{"os": "linux"}, 1)
			bad := f.run(mapTask(t, "f", drovertype.Options{}))
			id := f.run(mapTask(t, "f", macOnly))
			e.fail(e.assignOf(bad), zeroDiv())
			synctest.Wait()
			start := time.Now()
			if _, err := f.result(id); !errors.Is(err, drovertype.ErrTaskTimeout) {
				t.Fatalf("Result = %v", err)
			}
			if got := time.Since(start); got != time.Minute+timeout {
				t.Fatalf("timed out after %v, want penalty + timeout", got)
			}
		})
	})
	t.Run("restarted", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFarm(t, &controller.Config{Depend: depends})
			f.engine(map[string]any{"os": "linux"}, 1)
			start := time.Now()
			id := f.run(mapTask(t, "f", macOnly))
			time.Sleep(timeout - time.Second)
			if ok, err := f.c.Spin(context.Background()); ok || err != nil { // restarts the countdown
				t.Fatal(ok, err)
			}
			time.Sleep(timeout - time.Second)
			f.run(mapTask(t, "f", macOnly)) // so does run
			time.Sleep(timeout - time.Second)
			if f.poll(id) {
				t.Fatal("countdown was not restarted")
			}
			if _, err := f.result(id); !errors.Is(err, drovertype.ErrTaskTimeout) {
				t.Fatalf("Result = %v", err)
			}
			if got := time.Since(start); got != 3*timeout-2*time.Second {
				t.Fatalf("timed out after %v", got)
			}
		})
	})
	t.Run("dispatch when it fires", func(t *testing.T) {
		// An engine whose properties changed without a scheduling event:
		// failIdle schedules first, and times nothing out if it dispatched.
		synctest.Test(t, func(t *testing.T) {
			f := newFarm(t, &controller.Config{Depend: depends})
			e := f.engine(map[string]any{"os": "linux"}, 1)
			id := f.run(mapTask(t, "f", macOnly))
			other := f.run(mapTask(t, "f", macOnly))
			e.send(propsMsg(map[string]any{"os": "mac"}))
			e.none()
			time.Sleep(timeout)
			e.assignOf(id)
			if f.poll(other) {
				t.Fatal("the idle timer failed tasks although it dispatched one")
			}
		})
	})
}

// TestFailurePenalty: an engine whose attempt failed is kept out of
// scheduling for FailurePenalty; the retry goes to another idle engine
// first.
func TestFailurePenalty(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFarm(t, nil)
		e := f.engine(nil, 1)
		id := f.run(mapTask(t, "f", drovertype.Options{Retries: 1}))
		e.fail(e.assignOf(id), zeroDiv())
		start := time.Now()
		e.none()
		time.Sleep(controller.DefaultFailurePenalty - time.Nanosecond)
		e.none()
		time.Sleep(time.Nanosecond)
		a := e.assignOf(id)
		if got := time.Since(start); got != controller.DefaultFailurePenalty {
			t.Fatalf("retry after %v", got)
		}
		e.succeed(a, int64(2))
		if v, err := f.result(id); v != int64(2) || err != nil {
			t.Fatalf("Result = %v, %v", v, err)
		}
		// A success readmits at once.
		e.succeed(e.assignOf(f.run(mapTask(t, "f", drovertype.Options{}))), nil)
		e.assignOf(f.run(mapTask(t, "f", drovertype.Options{})))
	})
	synctest.Test(t, func(t *testing.T) {
		// Two engines: the retry goes to the other one at once.
		f := newFarm(t, nil)
		e0 := f.engine(nil, 1)
		e1 := f.engine(nil, 1)
		id := f.run(mapTask(t, "f", drovertype.Options{Retries: 1}))
		e0.fail(e0.assignOf(id), zeroDiv())
		e1.assignOf(id)
		// e0 serves its penalty: a new task waits for it.
		next := f.run(mapTask(t, "f", drovertype.Options{}))
		e0.none()
		time.Sleep(controller.DefaultFailurePenalty)
		e0.assignOf(next)
	})
	synctest.Test(t, func(t *testing.T) {
		// No penalty: the task is requeued first, then the engine is
		// readmitted, so the retry goes to another idle engine if any.
		f := newFarm(t, &controller.Config{FailurePenalty: -1, Window: 1})
		e0 := f.engine(nil, 1)
		id := f.run(mapTask(t, "f", drovertype.Options{Retries: 2}))
		a := e0.assignOf(id)
		e1 := f.engine(nil, 1)
		e0.fail(a, zeroDiv())
		e1.assignOf(id)
		e0.none()
		// With one engine the retry lands on it at once.
		g := newFarm(t, &controller.Config{FailurePenalty: -1})
		e := g.engine(nil, 1)
		id = g.run(mapTask(t, "f", drovertype.Options{Retries: 1}))
		e.fail(e.assignOf(id), zeroDiv())
		e.assignOf(id)
	})
}
