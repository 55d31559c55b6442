package drover_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/drover-dev/drover"
)

// squares is a registry with one Go function, "square".
func squares() *drover.Registry {
	reg := drover.NewRegistry()
	reg.MustRegister("square", func(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
		x, ok := args[0].(int64)
		if !ok {
			return nil, fmt.Errorf("square: want an integer, got %T", args[0])
		}
		return x * x, nil
	})
	return reg
}

// Run a registered Go function on a farm of two engines and get its result.
func Example() {
	ctx := context.Background()
	farm, err := drover.Open(ctx, &drover.Config{Engines: 2, Registry: squares()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer farm.Close(ctx)

	task, err := drover.NewMapTask("square", []any{int64(7)}, nil, drover.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	id, err := farm.Run(ctx, task)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := farm.Result(ctx, id)
	fmt.Println(id, v, err)
	// Output: 0 49 <nil>
}

// Map a function over a sequence: results come back in input order.
func ExampleFarm_Map() {
	ctx := context.Background()
	farm, err := drover.Open(ctx, &drover.Config{Engines: 2, Registry: squares()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer farm.Close(ctx)

	square, _ := drover.NewMapTask("square", nil, nil, drover.Options{})
	values, err := farm.Map(ctx, square, []any{int64(1), int64(2), int64(3), int64(4)})
	fmt.Println(values, err)

	_, err = farm.Map(ctx, square, []any{int64(1)}, []any{int64(1), int64(2)})
	fmt.Println(err)
	// Output:
	// [1 4 9 16] <nil>
	// map: all sequences must have equal length
}

// A string task pushes values into an engine's namespace, runs Starlark
// code there and pulls values back into a TaskResult.
func ExampleNewStringTask() {
	ctx := context.Background()
	farm, err := drover.Open(ctx, &drover.Config{Engines: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer farm.Close(ctx)

	task, _ := drover.NewStringTask("b = a * 2\nc = str(b)", map[string]any{"a": int64(21)}, []string{"b", "c"}, drover.Options{})
	id, _ := farm.Run(ctx, task)
	v, _ := farm.Result(ctx, id)
	tr := v.(*drover.TaskResult)
	fmt.Println(tr.Results["b"], tr.Results["c"], tr.Failure == nil)

	// A failing string task still gives its TaskResult, carrying the error.
	bad, _ := drover.NewStringTask("x = 1 // 0", nil, "x", drover.Options{})
	id, _ = farm.Run(ctx, bad)
	v, err = farm.Result(ctx, id)
	fmt.Println(err, v.(*drover.TaskResult).Failure)
	// Output:
	// 42 42 true
	// <nil> ZeroDivisionError: floored division by zero
}

// A failed map task's result is its error, whose kind errors.Is tells.
func ExampleFarm_Result() {
	ctx := context.Background()
	farm, err := drover.Open(ctx, &drover.Config{Engines: 1, FailurePenalty: -1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer farm.Close(ctx)

	div, _ := drover.NewStarlarkMapTask("def div(a, b):\n    return a // b\n", "div", []any{int64(1), int64(0)}, nil, drover.Options{Retries: 1})
	id, _ := farm.Run(ctx, div)
	_, err = farm.Result(ctx, id)
	fmt.Println(err)
	fmt.Println(errors.Is(err, drover.ErrTaskFailed), errors.Is(err, drover.ErrTaskAborted))

	_, err = farm.Result(ctx, 99)
	fmt.Println(err)
	// Output:
	// ZeroDivisionError: floored division by zero
	// true false
	// result: task ID not registered: 99
}
