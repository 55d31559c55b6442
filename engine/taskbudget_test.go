package engine_test

import (
	"testing"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/transport"
)

// TestTaskStepBudget: a task's own step budget (Options.StepBudget) limits
// its runs on the engine, below or above the engine's; 0 leaves the engine's.
func TestTaskStepBudget(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEngine(t, &engine.Config{StepBudget: 1_000_000})
	loop := "for i in range(100000):\n    pass\nr = 1"

	small, err := drovertype.NewStringTask(loop, nil, "r", drovertype.Options{StepBudget: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := e.RunTask(ctx, &transport.Assign{Attempt: 1, TaskID: 1, Task: small})
	if out.Err == nil {
		t.Fatalf("task with a 1000-step budget ran a 100000-iteration loop: %+v", out)
	}
	taskErr(t, out.Err, drovertype.TaskFailed, "StepBudgetExceeded", "more than 1000 steps")

	big := "for i in range(2000000):\n    pass\nr = 1"
	over, err := drovertype.NewStringTask(big, nil, "r", drovertype.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if out := e.RunTask(ctx, &transport.Assign{Attempt: 2, TaskID: 2, Task: over}); out.Err == nil {
		t.Fatalf("without its own budget the task should hit the engine's 1e6 steps")
	}
	raised, err := drovertype.NewStringTask(big, nil, "r", drovertype.Options{StepBudget: 100_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if out := e.RunTask(ctx, &transport.Assign{Attempt: 3, TaskID: 3, Task: raised}); out.Err != nil {
		t.Fatalf("task with a raised budget: %v", out.Err)
	}
}
