// Package drover is a task farm for Go: the Go port of IPython 0.10's
// kernel.task (a controller that queues tasks and places them on engines),
// with Starlark as the engines' language.
//
// Open starts a farm in this process — a controller and a number of
// engines connected by an in-memory transport — and returns a *Farm, which
// implements Client:
//
//	reg := drover.NewRegistry()
//	reg.MustRegister("square", func(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
//		x := args[0].(int64)
//		return x * x, nil
//	})
//	farm, err := drover.Open(ctx, &drover.Config{Engines: 2, Registry: reg})
//	...
//	defer farm.Close(ctx)
//	task, _ := drover.NewMapTask("square", []any{int64(7)}, nil, drover.Options{})
//	id, _ := farm.Run(ctx, task)
//	v, err := farm.Result(ctx, id) // int64(49)
//
// # Tasks
//
// A map task calls a function — a Go function registered on the engines by
// name, or a Starlark function shipped as source — with arguments, and its
// result is the function's return value. A string task pushes values into
// an engine's Starlark namespace, runs code there, and pulls named values
// back into a *TaskResult. A command task (beyond the seed) runs a program
// on an engine that allows commands. Every task takes Options: clear the
// engine before or after, retries, a recovery task, a depend constraint on
// engine properties, and a timeout per attempt.
//
// # Semantics
//
// The controller follows the seed (IPython 0.10's TaskController): task ids
// are consecutive from 0 and never reused; a failed attempt is retried
// (retries=N gives N+1 attempts), then the recovery task runs under the
// same id, with the seed's loop guard; an engine whose attempt failed is
// kept out of scheduling for a failure penalty (1 s by default); tasks that
// no engine can take fail after an idle timeout (30 s by default, counted
// while every engine is idle); FIFO (the default) or LIFO order.
//
// Where drover deliberately differs from the seed:
//
//   - Abort of a running task stops its attempt on the engine (the seed let
//     it run to its end); the task finishes TaskAborted, as in the seed.
//   - QueueStatus counts every finished task as succeeded or failed (the
//     seed counted only string tasks; aborted and timed-out tasks count as
//     failed).
//   - Engine ids are never reused (the seed reused them); a lost engine's
//     attempts fail with EngineLost and are retried elsewhere when the task
//     has retries left.
//   - Poll makes "not finished yet" explicit, where the seed returned None
//     (indistinguishable from a task that returned None).
//   - Each engine may have several attempts assigned at once (Config.Window,
//     8 by default; 1 is the seed's behaviour).
//
// # Errors
//
// Errors carry a Kind with a stable code; test them with errors.Is and the
// Err* variables (ErrTaskAborted, ErrTaskTimeout, ErrEngineLost,
// ErrTaskFailed, ErrNotFound, ...). A task body's error is a *TaskError
// whose Type names the remote error (ZeroDivisionError, NameError, or a Go
// error's type) and whose text is the seed's ("ZeroDivisionError: division
// by zero").
//
// Package drovertest starts a farm for tests.
package drover
