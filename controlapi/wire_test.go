package controlapi_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/controlapi"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
)

// wireRoundTrip encodes t, passes it through JSON and decodes it.
func wireRoundTrip(t *testing.T, task *drovertype.Task) (*drovertype.Task, error) {
	t.Helper()
	w, err := controlapi.EncodeTask(task)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	var back controlapi.Task
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back.Decode()
}

func TestTaskRoundTrip(t *testing.T) {
	t.Parallel()
	rec, _ := drovertype.NewStringTask("r = 1", map[string]any{"x": []byte("b")}, "r", drovertype.Options{Retries: 1})
	mk := func(tk *drovertype.Task, err error) *drovertype.Task {
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	for _, task := range []*drovertype.Task{
		mk(drovertype.NewMapTask("f", []any{int64(1), 2.0, "s", nil}, map[string]any{"k": []any{true}}, drovertype.Options{
			ClearBefore: true, ClearAfter: true, Retries: 3, Timeout: 1500 * time.Millisecond,
			Depend: &drovertype.Depend{Source: "lambda p: p['os'] == 'linux'", IsFunc: true}, Recovery: rec})),
		mk(drovertype.NewMapTask("f", nil, nil, drovertype.Options{})), // empty, non-nil args and kwargs
		mk(drovertype.NewStarlarkMapTask("def g(x):\n    return x\n", "g", []any{map[any]any{int64(1): "one"}}, nil, drovertype.Options{})),
		mk(drovertype.NewStringTask("y = x", map[string]any{"x": int64(1)}, []string{"y", "x"}, drovertype.Options{})),
		mk(drovertype.NewStringTask("", nil, "y", drovertype.Options{})),
		mk(drovertype.NewCommandTask([]string{"echo", "hi"}, drovertype.Options{})),
		mk(drovertype.NewShellTask("echo hi", drovertype.Options{})),
	} {
		got, err := wireRoundTrip(t, task)
		if err != nil {
			t.Errorf("%v task: %v", task.Kind, err)
			continue
		}
		if diff := cmp.Diff(task, got); diff != "" {
			t.Errorf("%v task round trip (-want +got):\n%s", task.Kind, diff)
		}
	}
	// A recovery chain that loops is cut as Clone cuts it.
	loop := mk(drovertype.NewMapTask("f", nil, nil, drovertype.Options{Retries: 2}))
	loop.Recovery = loop
	got, err := wireRoundTrip(t, loop)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(loop.Clone(), got); diff != "" {
		t.Fatalf("looping recovery (-want +got):\n%s", diff)
	}
	// Invalid tasks do not encode, with Validate's error.
	if _, err := controlapi.EncodeTask(&drovertype.Task{Kind: drovertype.MapTask}); err == nil || err.Error() != "a task function must be a FunctionType" {
		t.Fatalf("EncodeTask(invalid) = %v", err)
	}
}

// TestTaskDecodeHostile: wire tasks a drover client would never send.
func TestTaskDecodeHostile(t *testing.T) {
	t.Parallel()
	list, _ := controlapi.EncodeValue([]any{int64(1)})
	dict, _ := controlapi.EncodeValue(map[string]any{"a": int64(1)})
	deepRec := &controlapi.Task{Kind: drovertype.StringTask}
	for range controlapi.MaxRecovery + 2 {
		deepRec = &controlapi.Task{Kind: drovertype.StringTask, Recovery: deepRec}
	}
	for _, tc := range []struct {
		name string
		w    controlapi.Task
		want string
	}{
		{"no kind", controlapi.Task{}, "invalid task kind 0"},
		{"args not CBOR", controlapi.Task{Kind: drovertype.MapTask, FuncName: "f", Args: []byte{0xff}}, "args: invalid CBOR value"},
		{"args a dict", controlapi.Task{Kind: drovertype.MapTask, FuncName: "f", Args: dict}, "args: want a list, got dict"},
		{"kwargs a list", controlapi.Task{Kind: drovertype.MapTask, FuncName: "f", Kwargs: list}, "kwargs: want a dict with string keys, got list"},
		{"push a list", controlapi.Task{Kind: drovertype.StringTask, Push: list}, "push: want a dict"},
		{"args on a string task", controlapi.Task{Kind: drovertype.StringTask, Args: list}, "a string task cannot have args"},
		{"negative timeout", controlapi.Task{Kind: drovertype.StringTask, TimeoutNS: -1}, "timeout must be >= 0"},
		{"negative retries", controlapi.Task{Kind: drovertype.StringTask, Retries: -1}, "retries must be >= 0"},
		{"bad recovery", controlapi.Task{Kind: drovertype.StringTask, Recovery: &controlapi.Task{Kind: 9}}, "recovery_task: "},
		{"deep recovery", *deepRec, "recovery chain longer than 64 tasks"},
	} {
		_, err := tc.w.Decode()
		if err == nil || !errors.Is(err, drovertype.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Decode = %v, want an InvalidArgument error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestOutcomeRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	tr := &drovertype.TaskResult{TaskID: 3, EngineID: 1, Kind: drovertype.StringTask, Results: map[string]any{"a": int64(1)}, Keys: []string{"a"}}
	tr.SetTimes(now, now.Add(time.Second))
	failed := &drovertype.TaskResult{TaskID: 4, Kind: drovertype.StringTask, Failure: drovertype.NewRemoteError(4, 1, "NameError", "x", "tb")}
	for _, tc := range []struct {
		v   any
		err error
	}{
		{int64(5), nil},
		{nil, nil},
		{tr, nil},
		{failed, nil},
		{&drovertype.CommandResult{ExitCode: 2, Stdout: []byte("o")}, nil},
		{nil, drovertype.NewAborted(7)},
		{nil, drovertype.NewClearNotFound(1, []drovertype.TaskID{8})},
	} {
		o := controlapi.EncodeOutcome(tc.v, tc.err)
		b, _ := json.Marshal(o)
		var back controlapi.Outcome
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		v, err := back.Decode()
		if diff := cmp.Diff(tc.v, v); diff != "" {
			t.Errorf("value (-want +got):\n%s", diff)
		}
		if fmtErr(tc.err) != fmtErr(err) || drovertype.KindOf(tc.err) != drovertype.KindOf(err) {
			t.Errorf("error %v, want %v", err, tc.err)
		}
	}
	// A value that cannot cross the wire becomes an error.
	if _, err := func() (any, error) { o := controlapi.EncodeOutcome(struct{}{}, nil); return o.Decode() }(); err == nil ||
		!strings.Contains(err.Error(), "result cannot cross the wire") {
		t.Errorf("EncodeOutcome(struct) = %v", err)
	}
	// Malformed outcomes.
	for _, o := range []controlapi.Outcome{{}, {Done: true}, {Done: true, Value: []byte{1}, Error: &controlapi.Error{}}} {
		if _, err := o.Decode(); err == nil {
			t.Errorf("Decode(%+v): no error", o)
		}
	}
	// A wire error keeps its kind and its full text.
	e := controlapi.WireError(errors.Join(errors.New("context"), drovertype.NewNoTask(3)))
	if err := e.Err(); !errors.Is(err, drovertype.ErrNotFound) || err.Error() != "context\nNo task #3" {
		t.Errorf("Err = %q", err)
	}
	if err := (&controlapi.Error{}).Err(); drovertype.KindOf(err) != drovertype.Internal {
		t.Errorf("empty wire error = %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestEngineCallRoundTrip(t *testing.T) {
	t.Parallel()
	for op := transport.OpPush; op <= transport.OpClearProperties; op++ {
		c := transport.Call{Op: op, Values: map[string]any{"a": int64(1)}, Names: []string{"a"}, Single: true, Code: "x", StepBudget: 9}
		w, err := controlapi.EncodeCall(2, c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := w.Decode()
		if err != nil || !cmp.Equal(c, got) || w.Engine != 2 {
			t.Errorf("%v: %+v, %v", op, got, err)
		}
	}
	if _, err := (&controlapi.EngineCallRequest{Op: "format_disk"}).Decode(); err == nil || !strings.Contains(err.Error(), `unknown engine call operation "format_disk"`) {
		t.Errorf("Decode(bad op) = %v", err)
	}
	if _, err := controlapi.EncodeCall(0, transport.Call{Op: 99}); err == nil {
		t.Error("EncodeCall(bad op): no error")
	}
}

func FuzzTaskDecode(f *testing.F) {
	for _, s := range []string{
		`{"kind":"map","func_name":"f","args":"gQE=","kwargs":"oA=="}`,
		`{"kind":"string","code":"x=1","push":"oWFhAQ==","pull":["x"],"recovery":{"kind":"command","argv":["ls"]}}`,
		`{"kind":"command","shell":"ls","timeout_ns":5,"depend":{"source":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var w controlapi.Task
		if json.Unmarshal(b, &w) != nil {
			return
		}
		task, err := w.Decode()
		if err != nil {
			if !errors.Is(err, drovertype.ErrInvalidArgument) {
				t.Fatalf("error of kind %s: %v", drovertype.KindOf(err), err)
			}
			return
		}
		if err := task.Validate(); err != nil {
			t.Fatalf("decoded an invalid task: %v", err)
		}
		// It encodes again.
		if _, err := controlapi.EncodeTask(task); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}
