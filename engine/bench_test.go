package engine_test

import (
	"context"
	"testing"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/transport"
)

func benchEngine(b *testing.B) *engine.Engine {
	reg := engine.NewRegistry()
	reg.MustRegister("double", func(_ context.Context, args []any, _ map[string]any) (any, error) {
		return args[0].(int64) * 2, nil
	})
	e, err := engine.New(&engine.Config{Registry: reg})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkRunTaskGo: a trivial registered Go function, called directly.
func BenchmarkRunTaskGo(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	task := &drovertype.Task{Kind: drovertype.MapTask, FuncName: "double", Args: []any{int64(21)}}
	a := &transport.Assign{Attempt: 1, TaskID: 1, Task: task}
	for b.Loop() {
		out := e.RunTask(ctx, a)
		if out.Err != nil || out.Value != int64(42) {
			b.Fatalf("outcome %+v", out)
		}
	}
}

// BenchmarkRunTaskStarlark: a trivial Starlark map task.
func BenchmarkRunTaskStarlark(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	task := &drovertype.Task{Kind: drovertype.MapTask, FuncName: "double", FuncSource: "def double(x):\n    return 2 * x\n", Args: []any{int64(21)}}
	a := &transport.Assign{Attempt: 1, TaskID: 1, Task: task}
	for b.Loop() {
		out := e.RunTask(ctx, a)
		if out.Err != nil || out.Value != int64(42) {
			b.Fatalf("outcome %+v", out)
		}
	}
}

// BenchmarkRunTaskString: a string task's push, code and pull.
func BenchmarkRunTaskString(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	task := &drovertype.Task{Kind: drovertype.StringTask, Code: "b = a * 2", Push: map[string]any{"a": int64(21)}, Pull: []string{"b"}}
	a := &transport.Assign{Attempt: 1, TaskID: 1, Task: task}
	for b.Loop() {
		out := e.RunTask(ctx, a)
		if out.Err != nil {
			b.Fatalf("outcome %+v", out.Err)
		}
	}
}

// BenchmarkRunTaskStarlarkCancellable: as BenchmarkRunTaskStarlark with a
// cancellable context.Context (direct callers; Serve uses a cheaper
// context of its own).
func BenchmarkRunTaskStarlarkCancellable(b *testing.B) {
	e := benchEngine(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	task := &drovertype.Task{Kind: drovertype.MapTask, FuncName: "double", FuncSource: "def double(x):\n    return 2 * x\n", Args: []any{int64(21)}}
	a := &transport.Assign{Attempt: 1, TaskID: 1, Task: task}
	for b.Loop() {
		out := e.RunTask(ctx, a)
		if out.Err != nil || out.Value != int64(42) {
			b.Fatalf("outcome %+v", out)
		}
	}
}

// BenchmarkLoop10M: the default step budget lets a loop of ten million
// iterations run; this measures it.
func BenchmarkLoop10M(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	for b.Loop() {
		if err := e.Execute(ctx, "total = 0\nfor i in range(10000000):\n    total += i\n"); err != nil {
			b.Fatal(err)
		}
	}
}
