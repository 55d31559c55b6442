package script_test

import (
	"context"
	"fmt"
	"os"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/script"
)

// CompileDepend turns a task's depend constraint into a predicate over an
// engine's properties; an error in the constraint (here a missing
// property) means "not on this engine".
func ExampleCompileDepend() {
	pred, err := script.CompileDepend(&drover.Depend{Source: "properties.get('gpu', False) and properties['mem'] >= 8"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pred(map[string]any{"gpu": true, "mem": int64(16)}))
	fmt.Println(pred(map[string]any{"mem": int64(16)}))
	fmt.Println(pred(map[string]any{"gpu": true}))

	fn, _ := script.CompileDepend(&drover.Depend{Source: "lambda p: p['mem'] > 32", IsFunc: true})
	fmt.Println(fn(map[string]any{"mem": int64(64)}))
	// Output:
	// true
	// false
	// false
	// true
}

// sessionClient gives a drover.Client the Engine method script.TaskClient
// wants.
type sessionClient struct{ drover.Client }

func (c sessionClient) Engine(id drover.EngineID) script.EngineClient { return c.Client.Engine(id) }

// A session whose `tc` is an in-process farm.
func ExampleConfig_tasks() {
	ctx := context.Background()
	farm, err := drover.Open(ctx, &drover.Config{Engines: 2, Depend: script.CompileDepend})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer farm.Close(ctx)
	s, err := script.NewSession(&script.Config{Stdout: os.Stdout, Stderr: os.Stdout, Tasks: sessionClient{farm}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close(ctx)
	for _, chunk := range []string{
		"def cube(x): return x * x * x",
		"tc.map(cube, range(5))",
		"tr = tc.run(StringTask('y = x + 1', push={'x': 41}, pull='y'), block=True)",
		"tr, tr.ns.y",
		"catch(tc.get_task_result, 99)",
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
	// [0, 1, 8, 27, 64]
	// (TaskResult[ID:5]:{"y": 42}, 42)
	// (None, IndexError: task ID not registered: 99)
}
