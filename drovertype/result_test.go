package drovertype_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	dt "github.com/drover-dev/drover/drovertype"
)

func TestTaskResultTimes(t *testing.T) {
	t.Parallel()
	start := time.Date(2009, 7, 3, 9, 5, 7, 250e6, time.UTC)
	var r dt.TaskResult
	r.SetTimes(start, start.Add(1500*time.Millisecond))
	want := dt.TaskResult{Submitted: "2009/07/03 09:05:07", Completed: "2009/07/03 09:05:08",
		SubmittedAt: start, CompletedAt: start.Add(1500 * time.Millisecond), Duration: 1500 * time.Millisecond}
	if d := cmp.Diff(want, r); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestTaskResultAccess(t *testing.T) {
	t.Parallel()
	ok := &dt.TaskResult{TaskID: 3, Kind: dt.StringTask, Results: map[string]any{"a": 5, "__y": 1, "x__": 2, "_p": 3},
		Keys: []string{"a", "__y", "x__", "_p"}}
	if !ok.Succeeded() || ok.Err() != nil {
		t.Fatal("success reported as failure")
	}
	if v, err := ok.Get("a"); err != nil || v != 5 {
		t.Errorf("Get(a) = %v, %v", v, err)
	}
	_, err := ok.Get("b")
	if te, isTE := errors.AsType[*dt.TaskError](err); !isTE || te.Type != "KeyError" || te.Message != "'b'" || te.Kind != dt.NotFound {
		t.Errorf("Get(b) = %#v", err)
	}
	ns, err := ok.NS()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"a", "__y", "x__", "_p"}, ns.Names()); d != "" {
		t.Errorf("Names (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"a", "_p"}, ns.ReprNames()); d != "" {
		t.Errorf("ReprNames (-want +got):\n%s", d)
	}
	if v, err := ns.Attr("_p"); err != nil || v != 3 || ns.Len() != 4 {
		t.Errorf("Attr(_p) = %v, %v", v, err)
	}
	_, err = ns.Attr("it's")
	if err == nil || err.Error() != `'ResultNS' object has no attribute "it's"` || !errors.Is(err, dt.ErrNotFound) {
		t.Errorf("Attr(missing) = %v", err)
	}

	failed := &dt.TaskResult{TaskID: 4, Failure: dt.NewRemoteError(4, 1, "NameError", "name 'q' is not defined", "")}
	for _, err := range []error{failed.Err(), second(failed.Get("a")), second(failed.NS())} {
		if !errors.Is(err, &dt.TaskError{Kind: dt.TaskFailed, Type: "NameError"}) {
			t.Errorf("failure not raised: %v", err)
		}
	}
	var zero dt.ResultNS
	if zero.Len() != 0 || len(zero.Names()) != 0 {
		t.Error("zero ResultNS not empty")
	}
}

func second[T any](_ T, err error) error { return err }

func TestResultNSOrder(t *testing.T) {
	t.Parallel()
	ns := dt.NewResultNS([]string{"b", "zz", "a", "b"}, map[string]any{"a": 1, "b": 2, "c": 3})
	if d := cmp.Diff([]string{"b", "a", "c"}, ns.Names()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestQueueStatusAndStates(t *testing.T) {
	t.Parallel()
	q := dt.QueueStatus{Pending: []dt.TaskID{1}, Scheduled: []dt.TaskID{2, 3}, Failed: []dt.TaskID{0}}
	if d := cmp.Diff(dt.QueueCounts{Pending: 1, Scheduled: 2, Failed: 1}, q.Counts()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	b, _ := json.Marshal(q.Counts())
	if string(b) != `{"pending":1,"scheduled":2,"succeeded":0,"failed":1}` {
		t.Errorf("counts JSON %s", b)
	}
	for s, name := range map[dt.TaskState]string{dt.Unknown: "Unknown", dt.Queued: "Queued", dt.Pending: "Pending", dt.Finished: "Finished", 9: "TaskState(9)"} {
		if s.String() != name {
			t.Errorf("%d.String() = %q", s, s.String())
		}
		var back dt.TaskState
		b, err := s.MarshalText()
		if s == 9 {
			if err == nil {
				t.Error("invalid state marshalled")
			}
			continue
		}
		if err != nil || back.UnmarshalText(b) != nil || back != s {
			t.Errorf("text round trip of %v: %s %v %v", s, b, err, back)
		}
	}
	var s dt.TaskState
	if s.UnmarshalText([]byte("Running")) == nil {
		t.Error("unknown state accepted")
	}
}

func TestTaskResultJSON(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := dt.TaskResult{TaskID: 7, EngineID: 2, Kind: dt.CommandTask,
		Command: &dt.CommandResult{ExitCode: 1, Stdout: []byte("out"), Stderr: []byte("err")},
		Failure: nil}
	r.SetTimes(start, start.Add(time.Second))
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back dt.TaskResult
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(r, back); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	f := dt.TaskResult{TaskID: 1, EngineID: dt.NoEngine, Kind: dt.MapTask, Failure: dt.NewAborted(1)}
	b, _ = json.Marshal(f)
	if err := json.Unmarshal(b, &back); err != nil || !errors.Is(back.Err(), dt.ErrTaskAborted) {
		t.Errorf("failed result round trip: %s → %v %v", b, back.Err(), err)
	}
}
