package controlapi_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/controlapi"
	"github.com/drover-dev/drover/drovertype"
)

func endpointRequests(h *harness, op string) int {
	for _, ep := range h.api.Stats().Endpoints {
		if ep.Name == op {
			return ep.NumRequests
		}
	}
	return -1
}

// TestRunWait: a client that knows the controller speaks 1.2 runs a task
// and gets its outcome with one run_wait request; one that does not (as
// with a 1.1 controller) submits and asks result. A task the controller
// refuses has no id.
func TestRunWait(t *testing.T) {
	t.Parallel()
	h, c := rowsFarm(t)
	ctx := t.Context()
	if !c.RunWaits() {
		t.Fatalf("RunWaits after Info of version %s", controlapi.Version)
	}
	old, err := controlapi.NewClient(h.client.Conn, nil) // no Info: speaks 1.0
	if err != nil {
		t.Fatal(err)
	}
	echo, err := controlapi.EncodeTask(&drovertype.Task{Kind: drovertype.MapTask, FuncName: "echo", Args: []any{"hi"}})
	if err != nil {
		t.Fatal(err)
	}
	boom, _ := controlapi.EncodeTask(&drovertype.Task{Kind: drovertype.MapTask, FuncName: "boom", Args: []any{}})
	for _, tt := range []struct {
		name             string
		c                *controlapi.Client
		runWait, submits int
	}{{"1.2", c, 1, 0}, {"1.0", old, 0, 1}} {
		rw0, sub0 := endpointRequests(h, controlapi.OpRunWait), endpointRequests(h, controlapi.OpSubmit)
		id, o, err := tt.c.RunWait(ctx, echo)
		if err != nil || id == drovertype.NoTask {
			t.Fatalf("%s: RunWait = %d, %v", tt.name, id, err)
		}
		if v, err := o.Decode(); v != "hi" || err != nil {
			t.Errorf("%s: outcome %v, %v", tt.name, v, err)
		}
		if rw, sub := endpointRequests(h, controlapi.OpRunWait)-rw0, endpointRequests(h, controlapi.OpSubmit)-sub0; rw != tt.runWait || sub != tt.submits {
			t.Errorf("%s: %d run_wait and %d submit requests, want %d and %d", tt.name, rw, sub, tt.runWait, tt.submits)
		}
		id, o, err = tt.c.RunWait(ctx, boom)
		if err != nil || id == drovertype.NoTask {
			t.Fatalf("%s: RunWait(boom) = %d, %v", tt.name, id, err)
		}
		if _, err := o.Decode(); !errors.Is(err, drover.ErrTaskFailed) {
			t.Errorf("%s: outcome of boom: %v", tt.name, err)
		}
		bad := &controlapi.Task{Kind: drovertype.MapTask}
		if id, _, err := tt.c.RunWait(ctx, bad); id != drovertype.NoTask || drovertype.KindOf(err) != drovertype.InvalidArgument {
			t.Errorf("%s: RunWait(invalid task) = %d, %v", tt.name, id, err)
		}
	}
	inv := drovertype.InvalidArgument
	for _, tt := range []struct{ name, body, want string }{
		{"no task", `{}`, "task must be a Task object!"},
		{"null task", `{"task":null}`, "task must be a Task object!"},
		{"tasks", `{"task":[1]}`, "invalid request"},
		{"bad kind", `{"task":{"kind":"nope"}}`, `unknown task kind "nope"`},
		{"bad args", `{"task":{"kind":"map","func_name":"f","args":"!!!"}}`, "illegal base64"},
		{"bad wait", `{"task":{"kind":"map","func_name":"echo"},"wait_ms":"x"}`, "invalid request"},
	} {
		r := h.request(t, controlapi.OpRunWait, []byte(tt.body))
		r.wantError(t, tt.name, inv, tt.want)
		if _, has := r.body["id"]; has {
			t.Errorf("%s: refused task has an id: %s", tt.name, r.raw)
		}
	}
}

// BenchmarkRunWait: one run_wait request at a time (client over loopback
// TCP, controller with an in-process engine): the control API's part of a
// blocking run's round trip. Waiting requests are served by parked
// workers, whose stacks are grown already.
func BenchmarkRunWait(b *testing.B) {
	_, c := rowsFarm(b)
	ctx := b.Context()
	t, err := controlapi.EncodeTask(&drovertype.Task{Kind: drovertype.MapTask, FuncName: "echo", Args: []any{int64(1)}})
	if err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, o, err := c.RunWait(ctx, t); err != nil || o.Error != nil {
			b.Fatalf("RunWait: %v, %+v", err, o)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}
