package drover_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/controlapi"
	"github.com/drover-dev/drover/drovertest"
	"github.com/drover-dev/drover/drovertype"
)

// TestRunWaitLikeRunResult: RunWait gives what Run then Result give, on
// a Farm and on a Remote (one run_wait request), errors included.
func TestRunWaitLikeRunResult(t *testing.T) {
	t.Parallel()
	rf := newRemote(t, &drover.Config{Engines: 1, FailurePenalty: -1, Registry: drovertest.Registry(t, map[string]drover.Func{"add": add})}, nil)
	ctx := t.Context()
	ok, _ := drover.NewMapTask("add", []any{int64(2), int64(40)}, nil, drover.Options{})
	failing, _ := drover.NewMapTask("add", []any{int64(-5)}, nil, drover.Options{})
	str, _ := drover.NewStringTask("b = [a, a * 2.5]", map[string]any{"a": int64(2)}, "b", drover.Options{})
	withDepend, _ := drover.NewMapTask("add", nil, nil, drover.Options{Depend: &drover.Depend{Source: "x"}})
	badValue := &drover.Task{Kind: drovertype.MapTask, FuncName: "f", Args: []any{struct{}{}}}
	type outcome struct {
		Queued bool
		Value  any
		Text   string
		Kind   drover.Kind
	}
	clients := []drover.Client{rf.farm, rf.remote}
	for _, tt := range []struct {
		name string
		task *drover.Task
	}{{"ok", ok}, {"failing", failing}, {"string", str}, {"nil", nil}, {"bad value", badValue}, {"depend", withDepend}} {
		var got [2]outcome
		for i, c := range clients {
			id, v, err := c.RunWait(ctx, tt.task)
			text := ""
			if err != nil {
				text = strings.ReplaceAll(err.Error(), fmt.Sprintf("task %d", id), "task N")
			}
			if tr, isTR := v.(*drover.TaskResult); isTR {
				v = tr.Results // its times and ids differ
			}
			got[i] = outcome{id != drovertype.NoTask, v, text, drover.KindOf(err)}
			// What Run then Result give.
			var want outcome
			rid, err := c.Run(ctx, tt.task)
			if err == nil {
				v, err = c.Result(ctx, rid)
				want.Queued = true
			}
			if tr, isTR := v.(*drover.TaskResult); isTR {
				v = tr.Results
			}
			want.Value, want.Kind = v, drover.KindOf(err)
			if err != nil {
				want.Text = strings.ReplaceAll(err.Error(), fmt.Sprintf("task %d", rid), "task N")
			}
			if d := cmp.Diff(want, got[i]); d != "" {
				t.Errorf("%s on %T: RunWait differs from Run, Result (-want +got):\n%s", tt.name, c, d)
			}
		}
		if d := cmp.Diff(got[0], got[1]); d != "" {
			t.Errorf("%s: (-farm +remote):\n%s", tt.name, d)
		}
	}
	if got := got0(t, rf); got != int64(42) {
		t.Errorf("RunWait = %v", got)
	}
	// The remote made run_wait requests, not submits, for them.
	for _, ep := range rf.api.Stats().Endpoints {
		if ep.Name == controlapi.OpRunWait && ep.NumRequests < 4 {
			t.Errorf("%d run_wait requests", ep.NumRequests)
		}
	}
}

func got0(t *testing.T, rf *remoteFarm) any {
	t.Helper()
	ok, _ := drover.NewMapTask("add", []any{int64(2), int64(40)}, nil, drover.Options{})
	_, v, err := rf.remote.RunWait(t.Context(), ok)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRunWaitLong: a task that outlasts the controller's wait is waited
// for with result requests; when ctx ends first, RunWait returns the
// task's id and ctx's error, and the task goes on.
func TestRunWaitLong(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	rf := newRemote(t, &drover.Config{Engines: 1, Registry: blockReg(t, b)}, &controlapi.Config{MaxWait: 5 * time.Millisecond})
	ctx := t.Context()
	r := rf.remote
	blk, _ := drover.NewMapTask("block", nil, nil, drover.Options{})
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	id, v, err := r.RunWait(short, blk)
	if id == drovertype.NoTask || v != nil || !errors.Is(err, context.DeadlineExceeded) ||
		err.Error() != fmt.Sprintf("result: task %d: context deadline exceeded", id) {
		t.Fatalf("RunWait(short ctx) = %d, %v, %v", id, v, err)
	}
	<-b.started
	rounds := 0
	for _, ep := range rf.api.Stats().Endpoints {
		if ep.Name == controlapi.OpResult {
			rounds = ep.NumRequests
		}
	}
	if rounds < 2 {
		t.Fatalf("%d result requests after run_wait, want several rounds of 5ms in 100ms", rounds)
	}
	if _, done, err := r.Poll(ctx, id); done || err != nil {
		t.Fatalf("Poll = %v, %v", done, err)
	}
	// Another RunWait waits across rounds until the task finishes.
	got := make(chan error, 1)
	go func() {
		_, v, err := r.RunWait(ctx, blk)
		if err == nil && v != int64(2) {
			err = fmt.Errorf("value %#v", v)
		}
		got <- err
	}()
	close(b.release)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if v, err := r.Result(ctx, id); v != int64(1) || err != nil {
		t.Fatalf("Result = %v, %v", v, err)
	}
}
