package engine_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/transport"
)

// TestServeOutcomeNotHeldBehindLongAttempt: the outcome of a finished
// attempt reaches the controller while the next attempt runs; batching
// outcomes must not hold one back for as long as the attempts queued
// behind it take (the task would look unfinished, its waiters would wait,
// its window slot would stay taken).
func TestServeOutcomeNotHeldBehindLongAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, started := blocker()
		e := newEngine(t, &engine.Config{Registry: reg, Window: 8})
		d := serve(t, e, 1)
		d.send(
			assign(1, 10, mapTask(t, "add", []any{int64(1)}, nil, drovertype.Options{})),
			assign(2, 11, mapTask(t, "block", nil, nil, drovertype.Options{})),
		)
		<-started // attempt 2 runs, so attempt 1 is over
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		msgs, err := d.ctrl.Recv(ctx)
		if err != nil {
			t.Fatalf("no outcome of attempt 1 while attempt 2 runs: %v", err)
		}
		if o := msgs[0].Outcome; o == nil || o.Attempt != 1 || o.Value != int64(1) {
			t.Fatalf("got %+v, want the outcome of attempt 1", msgs[0])
		}
		d.send(transport.ToEngine{Cancel: &transport.Cancel{Attempt: 2}})
		if o := d.outcome(); o.Attempt != 2 {
			t.Fatalf("got %+v, want the outcome of attempt 2", o)
		}
	})
}

// TestServePropsNotHeldBehindLongAttempt: a property change made by a direct
// call while the engine is busy reaches the controller before the attempts
// queued behind it have run (depend sees the engine's properties).
func TestServePropsNotHeldBehindLongAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, started := blocker()
		e := newEngine(t, &engine.Config{Registry: reg, Window: 8})
		d := serve(t, e, 1)
		block := mapTask(t, "block", nil, nil, drovertype.Options{})
		d.send(assign(1, 10, block), assign(2, 11, block))
		<-started
		set := make(chan error, 1)
		go func() { set <- e.SetProperties(t.Context(), map[string]any{"direct": true}) }()
		synctest.Wait() // the direct call waits for the engine
		d.send(transport.ToEngine{Cancel: &transport.Cancel{Attempt: 1}})
		if err := <-set; err != nil {
			t.Fatal(err)
		}
		<-started // attempt 2 runs
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		var props *transport.Props
		for props == nil {
			msgs, err := d.ctrl.Recv(ctx)
			if err != nil {
				t.Fatalf("no Props while attempt 2 runs: %v", err)
			}
			for _, m := range msgs {
				switch {
				case m.Props != nil:
					props = m.Props
				case m.Outcome != nil && m.Outcome.Attempt == 1:
				default:
					t.Fatalf("unexpected %+v", m)
				}
			}
		}
		if props.Properties["direct"] != true {
			t.Fatalf("Props %+v", props.Properties)
		}
		d.send(transport.ToEngine{Cancel: &transport.Cancel{Attempt: 2}})
		if o := d.outcome(); o.Attempt != 2 {
			t.Fatalf("got %+v, want the outcome of attempt 2", o)
		}
	})
}
