package drovertype_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	dt "github.com/drover-dev/drover/drovertype"
)

// TestKindCodesAreStable pins the wire codes. A released code must never
// change; a new kind is added at the end of this table and of dt.Kinds.
func TestKindCodesAreStable(t *testing.T) {
	t.Parallel()
	want := []struct {
		kind     dt.Kind
		code     string
		sentinel error
	}{
		{dt.TaskAborted, "TaskAborted", dt.ErrTaskAborted},
		{dt.TaskTimeout, "TaskTimeout", dt.ErrTaskTimeout},
		{dt.EngineLost, "EngineLost", dt.ErrEngineLost},
		{dt.TaskFailed, "TaskFailed", dt.ErrTaskFailed},
		{dt.TaskRejected, "TaskRejected", dt.ErrTaskRejected},
		{dt.QueueCleared, "QueueCleared", dt.ErrQueueCleared},
		{dt.InvalidProperty, "InvalidProperty", dt.ErrInvalidProperty},
		{dt.NotFound, "NotFound", dt.ErrNotFound},
		{dt.AlreadyCompleted, "AlreadyCompleted", dt.ErrAlreadyCompleted},
		{dt.AlreadyAborted, "AlreadyAborted", dt.ErrAlreadyAborted},
		{dt.AlreadyExists, "AlreadyExists", dt.ErrAlreadyExists},
		{dt.InvalidArgument, "InvalidArgument", dt.ErrInvalidArgument},
		{dt.NotAllowed, "NotAllowed", dt.ErrNotAllowed},
		{dt.Canceled, "Canceled", dt.ErrCanceled},
		{dt.DeadlineExceeded, "DeadlineExceeded", dt.ErrDeadlineExceeded},
		{dt.Closed, "Closed", dt.ErrClosed},
		{dt.Internal, "Internal", dt.ErrInternal},
	}
	kinds := dt.Kinds()
	if len(kinds) != len(want) {
		t.Fatalf("Kinds() has %d kinds, the table %d: update the table (append only)", len(kinds), len(want))
	}
	for i, w := range want {
		if kinds[i] != w.kind || string(w.kind) != w.code || w.kind.String() != w.code || !w.kind.Known() {
			t.Errorf("kind %d: Kinds()=%q const=%q, want code %q", i, kinds[i], w.kind, w.code)
		}
		if dt.KindOf(w.sentinel) != w.kind {
			t.Errorf("KindOf(Err%s) = %q", w.code, dt.KindOf(w.sentinel))
		}
		// A wire error of every kind matches its sentinel and no other one.
		wire := decode(t, encode(t, dt.NewTaskError(dt.Kind(w.code), "", "m")))
		for _, o := range want {
			if got := errors.Is(wire, o.sentinel); got != (o.kind == w.kind) {
				t.Errorf("errors.Is(%s error, Err%s) = %v", w.code, o.code, got)
			}
		}
	}
	if dt.Kind("NoSuchKind").Known() {
		t.Error("unknown kind reported known")
	}
}

func encode(t *testing.T, e *dt.TaskError) []byte {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t *testing.T, b []byte) *dt.TaskError {
	t.Helper()
	var e dt.TaskError
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

func TestSeedErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      *dt.TaskError
		kind     dt.Kind
		typ      string
		text     string
		sentinel error
	}{
		{"aborted", dt.NewAborted(4), dt.TaskAborted, "TaskAborted", "TaskAborted", dt.ErrTaskAborted},
		{"idle timeout", dt.NewIdleTimeout(3, 30*time.Second), dt.TaskTimeout, "TaskTimeout",
			"task 3 failed to execute due to unmet dependencies for 30 seconds", dt.ErrTaskTimeout},
		{"idle timeout fraction", dt.NewIdleTimeout(3, 1500*time.Millisecond), dt.TaskTimeout, "TaskTimeout",
			"task 3 failed to execute due to unmet dependencies for 1.5 seconds", dt.ErrTaskTimeout},
		{"attempt timeout", dt.NewAttemptTimeout(3, 2, 5*time.Second), dt.TaskTimeout, "TaskTimeout",
			"task 3 timed out after 5s on engine 2", dt.ErrTaskTimeout},
		{"engine lost", dt.NewEngineLost(3, 2), dt.EngineLost, "EngineLost", "engine 2 lost while running task 3", dt.ErrEngineLost},
		{"not registered", dt.NewNotRegistered(7), dt.NotFound, "IndexError", "task ID not registered: 7", dt.ErrNotFound},
		{"no task", dt.NewNoTask(7), dt.NotFound, "IndexError", "No task #7", dt.ErrNotFound},
		{"already completed", dt.NewAlreadyCompleted(7), dt.AlreadyCompleted, "IndexError", "Task Already Completed", dt.ErrAlreadyCompleted},
		{"already aborted", dt.NewAlreadyAborted(7), dt.AlreadyAborted, "IndexError", "Task Already Aborted", dt.ErrAlreadyAborted},
		{"clear", dt.NewClearNotFound(1, []dt.TaskID{7, 8}), dt.NotFound, "KeyError",
			"Cleared 1 results, but no tasks found for ids: 7, 8", dt.ErrNotFound},
		{"unequal", dt.NewUnequalLengths(), dt.InvalidArgument, "ValueError", "all sequences must have equal length", dt.ErrInvalidArgument},
		{"duplicate engine", dt.NewDuplicateEngine(2), dt.AlreadyExists, "ValueError",
			"worker with id 2 already exists.  This should not happen.", dt.ErrAlreadyExists},
		{"queue cleared", dt.NewQueueCleared(2), dt.QueueCleared, "QueueCleared", "engine 2: command queue cleared", dt.ErrQueueCleared},
		{"remote", dt.NewRemoteError(5, 1, "ZeroDivisionError", "division by zero", "Traceback ..."), dt.TaskFailed,
			"ZeroDivisionError", "ZeroDivisionError: division by zero", dt.ErrTaskFailed},
		{"rejected", &dt.TaskError{Kind: dt.TaskRejected, Type: "TaskRejectError", Message: "no data here"}, dt.TaskRejected,
			"TaskRejectError", "TaskRejectError: no data here", dt.ErrTaskRejected},
		{"kind only", &dt.TaskError{Kind: dt.Closed}, dt.Closed, "", "Closed", dt.ErrClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.err.Kind != tc.kind || tc.err.Type != tc.typ || tc.err.Error() != tc.text {
				t.Errorf("got %s %s %q, want %s %s %q", tc.err.Kind, tc.err.Type, tc.err.Error(), tc.kind, tc.typ, tc.text)
			}
			wrapped := fmt.Errorf("abort: task 7: %w", tc.err)
			back := decode(t, encode(t, tc.err))
			for _, e := range []error{tc.err, wrapped, back, fmt.Errorf("op: %w", back)} {
				if !errors.Is(e, tc.sentinel) {
					t.Errorf("errors.Is(%v, %v) = false", e, tc.sentinel)
				}
				if dt.KindOf(e) != tc.kind {
					t.Errorf("KindOf(%v) = %s", e, dt.KindOf(e))
				}
			}
			if d := cmp.Diff(tc.err, back, cmpopts.IgnoreFields(dt.TaskError{}, "Cause")); d != "" {
				t.Errorf("JSON round trip (-want +got):\n%s", d)
			}
		})
	}
}

func TestTaskErrorMatching(t *testing.T) {
	t.Parallel()
	zde := dt.NewRemoteError(1, 0, "ZeroDivisionError", "division by zero", "")
	if !errors.Is(zde, &dt.TaskError{Kind: dt.TaskFailed, Type: "ZeroDivisionError"}) {
		t.Error("type match failed")
	}
	if errors.Is(zde, &dt.TaskError{Kind: dt.TaskFailed, Type: "NameError"}) {
		t.Error("matched another type")
	}
	if !errors.Is(zde, &dt.TaskError{Kind: dt.TaskFailed}) {
		t.Error("kind match failed")
	}
	if errors.Is(zde, (*dt.TaskError)(nil)) {
		t.Error("matched a nil *TaskError")
	}
	canceled := decode(t, encode(t, dt.NewTaskError(dt.Canceled, "", "")))
	if !errors.Is(canceled, context.Canceled) || errors.Is(canceled, context.DeadlineExceeded) {
		t.Error("Canceled does not match context.Canceled alone")
	}
	deadline := dt.NewTaskError(dt.DeadlineExceeded, "", "")
	if !errors.Is(deadline, context.DeadlineExceeded) {
		t.Error("DeadlineExceeded does not match context.DeadlineExceeded")
	}
	cause := &dt.TaskError{Kind: dt.TaskFailed, Type: "*errors.errorString", Message: "EOF", Cause: io.EOF}
	if !errors.Is(cause, io.EOF) {
		t.Error("Cause not reachable")
	}
	if errors.Is(dt.NewAborted(1), dt.ErrTaskTimeout) {
		t.Error("aborted matched timeout")
	}
	if dt.ErrTaskAborted.Error() != "task aborted" {
		t.Errorf("sentinel text %q", dt.ErrTaskAborted.Error())
	}
}

func TestFromErrorAndKindOf(t *testing.T) {
	t.Parallel()
	te := dt.NewNotRegistered(9)
	joined := errors.Join(errors.New("x"), fmt.Errorf("y: %w", te))
	tests := []struct {
		name string
		err  error
		kind dt.Kind
		want *dt.TaskError // nil: compare only kind
	}{
		{"nil", nil, "", nil},
		{"task error wrapped", fmt.Errorf("result: %w", te), dt.NotFound, te},
		{"joined", joined, dt.NotFound, te},
		{"sentinel", fmt.Errorf("op: %w", dt.ErrClosed), dt.Closed, nil},
		{"canceled", fmt.Errorf("op: %w", context.Canceled), dt.Canceled, nil},
		{"deadline", context.DeadlineExceeded, dt.DeadlineExceeded, nil},
		{"plain", io.ErrUnexpectedEOF, dt.Internal, nil},
	}
	for _, tc := range tests {
		if got := dt.KindOf(tc.err); got != tc.kind {
			t.Errorf("%s: KindOf = %q, want %q", tc.name, got, tc.kind)
		}
		w := dt.FromError(tc.err)
		if tc.err == nil {
			if w != nil {
				t.Errorf("FromError(nil) = %v", w)
			}
			continue
		}
		if tc.want != nil && w != tc.want {
			t.Errorf("%s: FromError = %#v, want the wrapped *TaskError", tc.name, w)
		}
		if w.Kind != tc.kind || !errors.Is(w, tc.err) && tc.want == nil {
			t.Errorf("%s: FromError = %#v", tc.name, w)
		}
	}
	plain := dt.FromError(io.ErrUnexpectedEOF)
	if plain.Message != "unexpected EOF" || plain.Type != "*errors.errorString" || plain.TaskID != dt.NoTask {
		t.Errorf("FromError(plain) = %#v", plain)
	}
}
