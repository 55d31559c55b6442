package script_test

import (
	"context"
	"fmt"
	"os"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/script"
)

// A session runs REPL chunks; a background job runs a function defined in
// an earlier chunk.
func ExampleSession_Exec() {
	ctx := context.Background()
	s, err := script.NewSession(&script.Config{Stdout: os.Stdout, Stderr: os.Stdout})
	if err != nil {
		panic(err)
	}
	defer s.Close(ctx)
	for _, chunk := range []string{
		"def square(n): return n * n",
		"j = jobs.new(square, 12)",
		"j.wait()",
		"j.result",
		"jobs()",
		"jobs.result(5)",
		"value, err = catch(lambda: jobs[5])",
		"err.kind, err.message",
	} {
		v, isExpr, err := s.Exec(ctx, "<stdin>", chunk)
		if err != nil {
			fmt.Println(script.FormatError(err))
			continue
		}
		if isExpr && v != starlark.None {
			fmt.Println(v)
		}
	}
	// Output:
	// True
	// 144
	// Completed jobs:
	// 0 : <function square>
	//
	// ERROR: Job #5 not found
	// ("KeyError", "5")
}

func ExampleToStarlark() {
	v, err := script.ToStarlark(map[string]any{"n": 1, "tags": []string{"a", "b"}, "pair": script.Tuple{1.5, nil}})
	if err != nil {
		panic(err)
	}
	fmt.Println(v)
	_, err = script.ToStarlark(make(chan int))
	fmt.Println(err)
	// Output:
	// {"n": 1, "pair": (1.5, None), "tags": ["a", "b"]}
	// ToStarlark: value: cannot convert Go type chan int
}

func ExampleFromStarlark() {
	v, _ := starlark.EvalOptions(script.Dialect(), &starlark.Thread{}, "x", `[1, "two", (3.0,), {"k": None}, {1: 2}]`, nil)
	g, err := script.FromStarlark(v)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%#v\n", g)
	// Output:
	// []interface {}{1, "two", script.Tuple{3}, map[string]interface {}{"k":interface {}(nil)}, script.Dict{script.Item{Key:1, Value:2}}}
}

func ExampleIsIncomplete() {
	for _, src := range []string{"x = 1", "f(1,", "def f():", "def f():\n    return 1", "def f():\n    return 1\n"} {
		fmt.Printf("%q: %v\n", src, script.IsIncomplete(src))
	}
	// Output:
	// "x = 1": false
	// "f(1,": true
	// "def f():": true
	// "def f():\n    return 1": true
	// "def f():\n    return 1\n": false
}
