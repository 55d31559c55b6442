package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/transport"
)

func run(t *testing.T, e *engine.Engine, task *drovertype.Task) *transport.Outcome {
	t.Helper()
	return runCtx(t.Context(), e, task)
}

func runCtx(ctx context.Context, e *engine.Engine, task *drovertype.Task) *transport.Outcome {
	return e.RunTask(ctx, &transport.Assign{Attempt: 1, TaskID: 9, Task: task})
}

func mapTask(t *testing.T, fn string, args []any, kwargs map[string]any, opts drovertype.Options) *drovertype.Task {
	t.Helper()
	task, err := drovertype.NewMapTask(fn, args, kwargs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func starTask(t *testing.T, src, fn string, args []any, kwargs map[string]any, opts drovertype.Options) *drovertype.Task {
	t.Helper()
	task, err := drovertype.NewStarlarkMapTask(src, fn, args, kwargs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func stringTask(t *testing.T, code string, push map[string]any, pull any, opts drovertype.Options) *drovertype.Task {
	t.Helper()
	task, err := drovertype.NewStringTask(code, push, pull, opts)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// outErr asserts that the outcome failed with the given kind and type.
func outErr(t *testing.T, out *transport.Outcome, kind drovertype.Kind, typ, msg string) *drovertype.TaskError {
	t.Helper()
	if out.Err == nil {
		t.Fatalf("outcome succeeded with %#v, want %s %s", out.Value, kind, typ)
	}
	te := taskErr(t, out.Err, kind, typ, msg)
	if te.TaskID != 9 {
		t.Errorf("error TaskID = %d, want 9", te.TaskID)
	}
	return te
}

func testRegistry() *engine.Registry {
	r := engine.NewRegistry()
	r.MustRegister("add", func(_ context.Context, args []any, kwargs map[string]any) (any, error) {
		sum := int64(0)
		for _, a := range args {
			sum += a.(int64)
		}
		if s, ok := kwargs["scale"]; ok {
			sum *= s.(int64)
		}
		return sum, nil
	})
	r.MustRegister("fails", func(context.Context, []any, map[string]any) (any, error) {
		return nil, errors.New("it broke")
	})
	r.MustRegister("typed", func(context.Context, []any, map[string]any) (any, error) {
		return nil, drovertype.NewTaskError(drovertype.TaskFailed, "ValueError", "bad value")
	})
	r.MustRegister("panics", func(context.Context, []any, map[string]any) (any, error) {
		panic("kaboom")
	})
	r.MustRegister("struct", func(context.Context, []any, map[string]any) (any, error) {
		return struct{}{}, nil
	})
	r.MustRegister("wait", func(ctx context.Context, _ []any, _ map[string]any) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	return r
}

func TestMapTaskGo(t *testing.T) {
	t.Parallel()
	e := newEngine(t, &engine.Config{ID: 2, Registry: testRegistry()})
	out := run(t, e, mapTask(t, "add", []any{int64(1), int64(2)}, map[string]any{"scale": int64(10)}, drovertype.Options{}))
	if out.Err != nil || out.Value != int64(30) {
		t.Fatalf("add: %#v, %v", out.Value, out.Err)
	}
	if out.Attempt != 1 || out.TaskID != 9 || out.Started.IsZero() || out.Ended.Before(out.Started) || out.Props != nil {
		t.Errorf("outcome fields: %+v", out)
	}
	outErr(t, run(t, e, mapTask(t, "fails", nil, nil, drovertype.Options{})), drovertype.TaskFailed, "Error", "it broke")
	te := outErr(t, run(t, e, mapTask(t, "typed", nil, nil, drovertype.Options{})), drovertype.TaskFailed, "ValueError", "bad value")
	if te.EngineID != 2 {
		t.Errorf("EngineID = %d, want 2", te.EngineID)
	}
	te = outErr(t, run(t, e, mapTask(t, "panics", nil, nil, drovertype.Options{})), drovertype.TaskFailed, "GoPanic", "kaboom")
	if !strings.Contains(te.Traceback, "task_test.go") {
		t.Errorf("panic traceback has no stack: %q", te.Traceback)
	}
	outErr(t, run(t, e, mapTask(t, "struct", nil, nil, drovertype.Options{})), drovertype.TaskFailed, "TypeError", "not plain data")
	outErr(t, run(t, e, mapTask(t, "nope", nil, nil, drovertype.Options{})), drovertype.TaskFailed, "NameError", `no Go function registered under "nope" on engine 2`)
	// The engine still works after a panic.
	if out := run(t, e, mapTask(t, "add", []any{int64(1)}, nil, drovertype.Options{})); out.Err != nil {
		t.Errorf("after a panic: %v", out.Err)
	}
}

func TestMapTaskStarlark(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEngine(t, nil)
	src := "def scale(x, by=1):\n    return x * factor * by + offset()\n"
	if err := e.Execute(ctx, "factor = 2\ndef offset():\n    return 0"); err != nil {
		t.Fatal(err)
	}
	out := run(t, e, starTask(t, src, "scale", []any{int64(5)}, map[string]any{"by": int64(3)}, drovertype.Options{}))
	if out.Err != nil || out.Value != int64(30) {
		t.Fatalf("scale: %#v, %v", out.Value, out.Err)
	}
	// Globals resolve live in the namespace.
	if err := e.Execute(ctx, "factor = 10\ndef offset():\n    return 1"); err != nil {
		t.Fatal(err)
	}
	if out := run(t, e, starTask(t, src, "scale", []any{int64(5)}, nil, drovertype.Options{})); out.Err != nil || out.Value != int64(51) {
		t.Fatalf("scale after the globals changed: %#v, %v, want 51", out.Value, out.Err)
	}
	// The function leaves nothing in the namespace.
	if keys, _ := e.Keys(ctx); !cmp.Equal(keys, []string{"factor", "id", "offset", "properties"}) {
		t.Errorf("namespace after map tasks: %v", keys)
	}
	// Values round trip; tuples become lists.
	out = run(t, e, starTask(t, "def f(*a, **k):\n    return [a, k]", "f", []any{"s", 1.5, nil, []any{int64(1)}}, map[string]any{"z": true}, drovertype.Options{}))
	want := []any{[]any{"s", 1.5, nil, []any{int64(1)}}, map[string]any{"z": true}}
	if out.Err != nil || !cmp.Equal(out.Value, want) {
		t.Errorf("f: %#v, %v", out.Value, out.Err)
	}
	// As the seed defines the function afresh for every task, a mutable
	// default is fresh every time.
	acc := starTask(t, "def acc(x, seen=[]):\n    seen.append(x)\n    return len(seen)", "acc", []any{int64(1)}, nil, drovertype.Options{})
	for range 2 {
		if out := run(t, e, acc); out.Err != nil || out.Value != int64(1) {
			t.Errorf("acc: %#v, %v, want 1 each time", out.Value, out.Err)
		}
	}
	// Errors.
	outErr(t, run(t, e, starTask(t, "def f(x):\n    return x / 0", "f", []any{int64(1)}, nil, drovertype.Options{})), drovertype.TaskFailed, "ZeroDivisionError", "division by zero")
	outErr(t, run(t, e, starTask(t, "def f(:", "f", nil, nil, drovertype.Options{})), drovertype.TaskFailed, "SyntaxError", "<engine>:1")
	outErr(t, run(t, e, starTask(t, "def f():\n    return 1", "g", nil, nil, drovertype.Options{})), drovertype.TaskFailed, "NameError", `does not define "g"`)
	outErr(t, run(t, e, starTask(t, "g = 3", "g", nil, nil, drovertype.Options{})), drovertype.TaskFailed, "TypeError", drovertype.MsgTaskFunction)
	outErr(t, run(t, e, starTask(t, "def f(x):\n    return x", "f", nil, nil, drovertype.Options{})), drovertype.TaskFailed, "TypeError", "missing 1 argument")
	outErr(t, run(t, e, starTask(t, "def f():\n    return lambda: 1", "f", nil, nil, drovertype.Options{})), drovertype.TaskFailed, "TypeError", "result of f")
	// A closure over local variables is refused.
	closure := "def outer():\n    y = 1\n    def inner():\n        return y\n    return inner\nf = outer()\n"
	outErr(t, run(t, e, starTask(t, closure, "f", nil, nil, drovertype.Options{})), drovertype.TaskFailed, "TypeError",
		"a task function cannot be a closure: f (function inner) uses y, local to an enclosing function")
	// A runaway map task stops at its step budget (the Assign's).
	loop := starTask(t, "def spin():\n    while True:\n        pass", "spin", nil, nil, drovertype.Options{})
	o := e.RunTask(ctx, &transport.Assign{Attempt: 1, TaskID: 9, Task: loop, StepBudget: 10_000})
	outErr(t, o, drovertype.TaskFailed, "StepBudgetExceeded", "more than 10000 steps")
}

func TestStringTask(t *testing.T) {
	t.Parallel()
	e := newEngine(t, &engine.Config{ID: 5})
	tests := []struct {
		name string
		pull any
		want map[string]any
		keys []string
	}{
		{"one name", "b", map[string]any{"b": int64(3)}, []string{"b"}},
		{"list", []string{"a", "b", "c"}, map[string]any{"a": int64(1), "b": int64(3), "c": "x"}, []string{"a", "b", "c"}},
		{"one-element list", []string{"b"}, map[string]any{"b": int64(3)}, []string{"b"}},
		{"repeated", []string{"b", "a", "b"}, map[string]any{"a": int64(1), "b": int64(3)}, []string{"b", "a"}},
		{"none", nil, map[string]any{}, []string{}},
	}
	for _, tc := range tests {
		task := stringTask(t, "b = a + 2\nc = 'x'", map[string]any{"a": int64(1)}, tc.pull, drovertype.Options{})
		before := time.Now().Truncate(time.Second)
		out := run(t, e, task)
		if out.Err != nil {
			t.Fatalf("%s: %v", tc.name, out.Err)
		}
		tr, ok := out.Value.(*drovertype.TaskResult)
		if !ok {
			t.Fatalf("%s: value %T, want *drovertype.TaskResult", tc.name, out.Value)
		}
		if diff := cmp.Diff(tc.want, tr.Results); diff != "" {
			t.Errorf("%s: results (-want +got):\n%s", tc.name, diff)
		}
		if diff := cmp.Diff(tc.keys, tr.Keys, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: keys (-want +got):\n%s", tc.name, diff)
		}
		if tr.TaskID != 9 || tr.EngineID != 5 || tr.Kind != drovertype.StringTask || tr.Failure != nil {
			t.Errorf("%s: result fields %+v", tc.name, tr)
		}
		if tr.SubmittedAt.Before(before) || tr.CompletedAt.Before(tr.SubmittedAt) || tr.Duration != tr.CompletedAt.Sub(tr.SubmittedAt) ||
			tr.Submitted != tr.SubmittedAt.Format("2006/01/02 15:04:05") || tr.Completed != tr.CompletedAt.Format("2006/01/02 15:04:05") {
			t.Errorf("%s: times %q %q %v", tc.name, tr.Submitted, tr.Completed, tr.Duration)
		}
		if !tr.SubmittedAt.Equal(out.Started) || !tr.CompletedAt.Equal(out.Ended) {
			t.Errorf("%s: result times differ from the outcome's", tc.name)
		}
	}
	// A failure: the TaskResult carries it, with no results.
	for _, tc := range []struct {
		code string
		pull any
		typ  string
	}{
		{"b = a / 0", "b", "ZeroDivisionError"},
		{"b = 1", "missing", "NameError"},
		{"b = (", "b", "SyntaxError"},
	} {
		out := run(t, e, stringTask(t, tc.code, map[string]any{"a": int64(1)}, tc.pull, drovertype.Options{}))
		te := outErr(t, out, drovertype.TaskFailed, tc.typ, "")
		tr := out.Value.(*drovertype.TaskResult)
		if tr.Failure != te || len(tr.Results) != 0 || tr.Keys != nil || tr.TaskID != 9 || tr.EngineID != 5 || tr.Submitted == "" {
			t.Errorf("%q: failed result %+v", tc.code, tr)
		}
	}
}

// TestChain: clear_before resets before the body (and the push), clear_after
// after it, on success and on failure; the properties the resets clear are
// reported in the outcome.
func TestChain(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEngine(t, &engine.Config{Properties: map[string]any{"p": 1}})
	if err := e.Push(ctx, map[string]any{"old": int64(1)}); err != nil {
		t.Fatal(err)
	}
	// clear_before: "old" is gone when the code runs (after the reset)...
	out := run(t, e, stringTask(t, "r = old", nil, "r", drovertype.Options{ClearBefore: true}))
	outErr(t, out, drovertype.TaskFailed, "NameError", "name 'old' is not defined")
	if out.Props == nil || len(out.Props.Properties) != 0 {
		t.Errorf("clear_before cleared the properties; outcome Props = %+v, want an empty map", out.Props)
	}
	// ... and the pushed values are there (the push comes after the reset).
	e.Push(ctx, map[string]any{"old": int64(1)})
	out = run(t, e, stringTask(t, "r = a\nhas = len(properties)", map[string]any{"a": int64(7)}, []string{"r", "has"}, drovertype.Options{ClearBefore: true}))
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	if got := out.Value.(*drovertype.TaskResult).Results; !cmp.Equal(got, map[string]any{"r": int64(7), "has": int64(0)}) {
		t.Errorf("clear_before: %v", got)
	}
	if _, err := e.Pull(ctx, "old"); err == nil {
		t.Errorf("clear_before did not empty the namespace")
	}
	// clear_after, on success: the result is pulled, then the namespace is emptied.
	e.SetProperties(ctx, map[string]any{"q": 1})
	out = run(t, e, stringTask(t, "r = 1", nil, "r", drovertype.Options{ClearAfter: true}))
	if out.Err != nil || out.Value.(*drovertype.TaskResult).Results["r"] != int64(1) {
		t.Fatalf("clear_after: %+v", out)
	}
	if keys, _ := e.Keys(ctx); !cmp.Equal(keys, []string{"id", "properties"}) {
		t.Errorf("namespace after clear_after: %v", keys)
	}
	if out.Props == nil || len(out.Props.Properties) != 0 {
		t.Errorf("clear_after: outcome Props = %+v", out.Props)
	}
	// clear_after on failure.
	e.Push(ctx, map[string]any{"x": 1})
	out = run(t, e, starTask(t, "def f():\n    fail('no')", "f", nil, nil, drovertype.Options{ClearAfter: true}))
	outErr(t, out, drovertype.TaskFailed, "AssertionError", "no")
	if _, err := e.Pull(ctx, "x"); err == nil {
		t.Errorf("clear_after did not run after a failure")
	}
	// Properties changed by the task are reported.
	out = run(t, e, stringTask(t, "properties['seen'] = id", nil, nil, drovertype.Options{}))
	if out.Err != nil || out.Props == nil || !cmp.Equal(out.Props.Properties, map[string]any{"seen": int64(0)}) {
		t.Errorf("Props after a task that set one: %+v (err %v)", out.Props, out.Err)
	}
	// A task that does not change them reports none.
	if out := run(t, e, stringTask(t, "y = 1", nil, nil, drovertype.Options{})); out.Props != nil {
		t.Errorf("Props = %+v after a task that changed none", out.Props)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	e := newEngine(t, &engine.Config{ID: 3, Registry: testRegistry(), AllowCommands: true, Env: helperEnviron()})
	opts := drovertype.Options{Timeout: 50 * time.Millisecond}
	for _, task := range []*drovertype.Task{
		starTask(t, "def spin():\n    while True:\n        pass", "spin", nil, nil, opts),
		stringTask(t, "while True:\n    pass", nil, nil, opts),
		mapTask(t, "wait", nil, nil, opts),
		{Kind: drovertype.CommandTask, Argv: helperArgv("block"), Options: opts},
	} {
		out := run(t, e, task)
		te := outErr(t, out, drovertype.TaskTimeout, "TaskTimeout", "task 9 timed out after 50ms on engine 3")
		if !errors.Is(te, drovertype.ErrTaskTimeout) {
			t.Errorf("%s task: errors.Is(ErrTaskTimeout) = false", task.Kind)
		}
	}
	// A task that finishes in time is not affected.
	if out := run(t, e, mapTask(t, "add", []any{int64(1)}, nil, drovertype.Options{Timeout: time.Hour})); out.Err != nil {
		t.Errorf("task within its timeout: %v", out.Err)
	}
}

// TestCancelTask: an attempt whose ctx is cancelled with a TaskError cause
// fails with that error; with a plain cancel, Canceled.
func TestCancelTask(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	e := newEngine(t, &engine.Config{Registry: testRegistry(), Print: func(string) { started <- struct{}{} }})
	ctx, cancel := context.WithCancelCause(t.Context())
	done := make(chan *transport.Outcome, 1)
	go func() {
		done <- runCtx(ctx, e, stringTask(t, "print('go')\nwhile True:\n    pass", nil, nil, drovertype.Options{}))
	}()
	<-started
	cancel(drovertype.NewAborted(9))
	outErr(t, <-done, drovertype.TaskAborted, "TaskAborted", "")

	ctx2, cancel2 := context.WithCancel(t.Context())
	cancel2()
	out := runCtx(ctx2, e, mapTask(t, "add", nil, nil, drovertype.Options{}))
	outErr(t, out, drovertype.Canceled, "Canceled", "")
}

func TestCommandTask(t *testing.T) {
	t.Parallel()
	e := newEngine(t, &engine.Config{ID: 1, AllowCommands: true, Env: helperEnviron(), Dir: t.TempDir()})
	out := run(t, e, &drovertype.Task{Kind: drovertype.CommandTask, Argv: helperArgv("echo", "to out", "to err", "3")})
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	want := &drovertype.CommandResult{ExitCode: 3, Stdout: []byte("to out"), Stderr: []byte("to err")}
	if diff := cmp.Diff(want, out.Value); diff != "" {
		t.Errorf("echo (-want +got):\n%s", diff)
	}
	sh, err := drovertype.NewShellTask("echo $((6*7)); pwd >&2; exit 0", drovertype.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out = run(t, e, sh)
	res, ok := out.Value.(*drovertype.CommandResult)
	if out.Err != nil || !ok || string(res.Stdout) != "42\n" || res.ExitCode != 0 || len(res.Stderr) == 0 {
		t.Errorf("shell line: %+v, %v", out.Value, out.Err)
	}
	// Killed by a signal: minus the signal number, as Python's subprocess.
	sh, _ = drovertype.NewShellTask("kill -9 $$", drovertype.Options{})
	if out := run(t, e, sh); out.Err != nil || out.Value.(*drovertype.CommandResult).ExitCode != -9 {
		t.Errorf("kill -9: %+v, %v", out.Value, out.Err)
	}
	outErr(t, run(t, e, &drovertype.Task{Kind: drovertype.CommandTask, Argv: []string{"/no/such/program"}}), drovertype.TaskFailed, "FileNotFoundError", "/no/such/program")
	// Output beyond MaxOutput is dropped.
	small := newEngine(t, &engine.Config{AllowCommands: true, MaxOutput: 4})
	sh, _ = drovertype.NewShellTask("echo 123456789", drovertype.Options{})
	if out := run(t, small, sh); out.Err != nil || string(out.Value.(*drovertype.CommandResult).Stdout) != "1234" {
		t.Errorf("MaxOutput 4: %+v, %v", out.Value, out.Err)
	}
	// Not allowed by default.
	no := newEngine(t, &engine.Config{ID: 8})
	te := outErr(t, run(t, no, sh), drovertype.NotAllowed, "NotAllowed", "engine 8 does not run command tasks")
	if !errors.Is(te, drovertype.ErrNotAllowed) {
		t.Errorf("errors.Is(ErrNotAllowed) = false")
	}
}

func ExampleEngine() {
	ctx := context.Background()
	e, err := engine.New(&engine.Config{ID: 1})
	if err != nil {
		panic(err)
	}
	e.Push(ctx, map[string]any{"a": 5})
	e.Execute(ctx, "a += 1\nsquares = [i * i for i in range(a)]")
	v, _ := e.Pull(ctx, []string{"a", "squares"})
	fmt.Println(v)
	err = e.Execute(ctx, "b = a / 0")
	fmt.Println(err)
	// Output:
	// [6 [0 1 4 9 16 25]]
	// ZeroDivisionError: floating-point division by zero
}

func ExampleEngine_RunTask() {
	reg := engine.NewRegistry()
	reg.MustRegister("double", func(_ context.Context, args []any, _ map[string]any) (any, error) {
		return args[0].(int64) * 2, nil
	})
	e, _ := engine.New(&engine.Config{Registry: reg})
	ctx := context.Background()
	goTask, _ := drovertype.NewMapTask("double", []any{int64(21)}, nil, drovertype.Options{})
	fmt.Println(e.RunTask(ctx, &transport.Assign{Attempt: 1, TaskID: 0, Task: goTask}).Value)
	starTask, _ := drovertype.NewStarlarkMapTask("def triple(x):\n    return 3 * x\n", "triple", []any{int64(5)}, nil, drovertype.Options{})
	fmt.Println(e.RunTask(ctx, &transport.Assign{Attempt: 2, TaskID: 1, Task: starTask}).Value)
	strTask, _ := drovertype.NewStringTask("b = a * 10", map[string]any{"a": 4}, "b", drovertype.Options{})
	fmt.Println(e.RunTask(ctx, &transport.Assign{Attempt: 3, TaskID: 2, Task: strTask}).Value.(*drovertype.TaskResult).Results)
	// Output:
	// 42
	// 15
	// map[b:40]
}
