package script_test

import (
	"context"
	"errors"
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

// Classify names an error as Python would: the same names in the shell,
// in scripts, in jobs and on the task farm's engines.
func ExampleClassify() {
	ctx := context.Background()
	s, err := script.NewSession(&script.Config{Stdout: os.Stdout, Stderr: os.Stdout})
	if err != nil {
		panic(err)
	}
	defer s.Close(ctx)
	for _, src := range []string{`1 // 0`, `{}["x"]`, `[][1]`, `int("zz")`, `fail("boom")`, `jobs[7]`, `undefined_name`} {
		_, _, err := s.Exec(ctx, "<stdin>", src)
		kind, msg := script.Classify(err)
		fmt.Printf("%-16s %s: %s\n", src, kind, msg)
	}
	// Output:
	// 1 // 0           ZeroDivisionError: floored division by zero
	// {}["x"]          KeyError: key "x" not in dict
	// [][1]            IndexError: index 1 out of range: empty list
	// int("zz")        ValueError: int: invalid literal with base 10: zz
	// fail("boom")     AssertionError: boom
	// jobs[7]          KeyError: 7
	// undefined_name   NameError: <stdin>:1:1: undefined: undefined_name
}

// Ctrl-C in a front end cancels the statement's context with the cause
// ErrKeyboardInterrupt; FormatError then ends with "KeyboardInterrupt", as
// Python reports an interrupted statement.
func ExampleErrKeyboardInterrupt() {
	s, err := script.NewSession(&script.Config{Stdout: os.Stdout, Stderr: os.Stdout})
	if err != nil {
		panic(err)
	}
	defer s.Close(context.Background())
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(script.ErrKeyboardInterrupt) // as if Ctrl-C came at once
	_, _, err = s.Exec(ctx, "<stdin>", "while True: pass")
	fmt.Println(script.FormatError(err))
	// Output:
	// Traceback (most recent call last):
	//   <stdin>:1:1: in <toplevel>
	// KeyboardInterrupt
}

// exit(code) ends the chunk with a *SystemExit carrying the status.
func ExampleSystemExit() {
	s, err := script.NewSession(&script.Config{Stdout: os.Stdout, Stderr: os.Stdout})
	if err != nil {
		panic(err)
	}
	defer s.Close(context.Background())
	_, _, err = s.Exec(context.Background(), "<stdin>", "print('bye')\nexit(3)\nprint('not reached')")
	var exit *script.SystemExit
	if errors.As(err, &exit) {
		fmt.Println("exit status", exit.Code)
	}
	// Output:
	// bye
	// exit status 3
}
