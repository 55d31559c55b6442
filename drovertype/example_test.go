package drovertype_test

import (
	"errors"
	"fmt"

	dt "github.com/drover-dev/drover/drovertype"
)

func ExampleNewStringTask() {
	task, err := dt.NewStringTask("b = a * 2", map[string]any{"a": 21}, "b", dt.Options{Retries: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	c := task.Clone() // what Run sends; the caller's task stays as it is
	c.Push["a"] = 0
	fmt.Println(task.Kind, task.Pull, task.PullSingle, task.Push["a"], task.Retries)

	_, err = dt.NewStringTask("b = 1", nil, 5, dt.Options{})
	fmt.Println(err)
	// Output:
	// string [b] true 21 1
	// pull must be str or a sequence of strs
}

func ExampleTaskError() {
	err := fmt.Errorf("result: %w", dt.NewNotRegistered(7))
	fmt.Println(err)
	fmt.Println(errors.Is(err, dt.ErrNotFound), dt.KindOf(err))

	remote := dt.NewRemoteError(3, 1, "ZeroDivisionError", "division by zero", "")
	fmt.Println(remote, errors.Is(remote, dt.ErrTaskFailed))
	// Output:
	// result: task ID not registered: 7
	// true NotFound
	// ZeroDivisionError: division by zero true
}
