package engine

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
)

// RunTask runs one attempt of a task (the seed's chain, SEED-SPEC B3):
//
//  1. start time;
//  2. clear_before: reset (namespace and properties), before the body;
//  3. the body: a map task calls its function (a registered Go function,
//     or a Starlark function defined by its source with the namespace as
//     its globals); a string task pushes, executes its code and pulls; a
//     command task runs its command (if the engine allows commands);
//  4. clear_after: reset, whether the body succeeded or failed;
//  5. stop time.
//
// The outcome's Value is a map task's raw value, a string task's
// *drovertype.TaskResult (also on failure: its Failure is then Err), or a
// command task's *drovertype.CommandResult. Err, on failure, is a
// *drovertype.TaskError with the task and engine ids set: TaskFailed with
// Python's name of the error for a failing body, TaskTimeout when the
// task's Timeout passed (counted from the start of this attempt), or the
// error of ctx's cause when ctx ended (a *drovertype.TaskError cause is
// used as is: that is how Serve's Cancel names the kind), Canceled or
// DeadlineExceeded otherwise. A panic in a Go function is a TaskFailed of
// type GoPanic with the stack as traceback.
//
// Unlike the seed, the engine leaves no names of its own in the namespace
// (the seed leaves _ipython_task_function, _ipython_task_args,
// _ipython_task_kwargs and _ipython_task_result).
//
// RunTask waits for the engine to be free; if ctx ends first the outcome
// fails with ctx's error and nothing ran.
func (e *Engine) RunTask(ctx context.Context, a *transport.Assign) *transport.Outcome {
	out := &transport.Outcome{}
	if a == nil {
		out.Err = drovertype.NewNotATask()
		return out
	}
	out.Attempt, out.TaskID = a.Attempt, a.TaskID
	if err := e.lock(ctx); err != nil {
		out.Err = e.idErr(asTaskError(err), a.TaskID)
		return out
	}
	defer e.unlock()
	e.runTask(ctx, a, out)
	return out
}

// idErr returns a copy of te with the task and engine ids set.
func (e *Engine) idErr(te *drovertype.TaskError, id drovertype.TaskID) *drovertype.TaskError {
	c := *te
	c.TaskID = id
	c.EngineID = e.ID()
	return &c
}

// runTask is RunTask with the engine locked.
func (e *Engine) runTask(ctx context.Context, a *transport.Assign, out *transport.Outcome) {
	t := a.Task
	ver := e.propsVer
	start := time.Now()
	out.Started = start
	defer func() {
		if e.propsVer != ver {
			out.Props = &transport.Props{Properties: cloneProps(e.props)}
		}
	}()
	if t == nil {
		out.Err = e.idErr(drovertype.NewNotATask(), a.TaskID)
		out.Ended = time.Now()
		return
	}
	actx := ctx
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeoutCause(ctx, t.Timeout, drovertype.NewAttemptTimeout(a.TaskID, e.ID(), t.Timeout))
		defer cancel()
	}

	var (
		value any
		terr  *drovertype.TaskError
		names []string
		vals  map[string]any
	)
	if t.ClearBefore {
		e.reset()
	}
	budget := a.StepBudget
	if budget == 0 {
		budget = t.StepBudget // the task's own (0: the engine's)
	}
	if actx.Err() != nil {
		terr = e.interrupted(actx)
	} else {
		switch t.Kind {
		case drovertype.MapTask:
			value, terr = e.mapTask(actx, t, budget)
		case drovertype.StringTask:
			names, vals, terr = e.stringTask(actx, t, budget)
		case drovertype.CommandTask:
			value, terr = e.commandTask(actx, t)
		default:
			terr = drovertype.NewValueError(fmt.Sprintf("invalid task kind %d", uint8(t.Kind)))
		}
		// An attempt stopped (cancelled, timed out) fails with the reason,
		// whatever its body returned.
		if actx.Err() != nil {
			terr = e.interrupted(actx)
		}
	}
	if t.ClearAfter {
		e.reset()
	}
	end := time.Now()
	out.Ended = end
	if terr != nil {
		terr = e.idErr(terr, a.TaskID)
		value = nil
	}
	out.Err = terr
	if t.Kind == drovertype.StringTask {
		tr := &drovertype.TaskResult{TaskID: a.TaskID, EngineID: e.ID(), Kind: drovertype.StringTask, Results: map[string]any{}}
		tr.SetTimes(start, end)
		if terr != nil {
			tr.Failure = terr
		} else {
			tr.Results, tr.Keys = vals, names
		}
		out.Value = tr
		return
	}
	out.Value = value
}

// mapTask runs a map task's function.
func (e *Engine) mapTask(ctx context.Context, t *drovertype.Task, steps uint64) (any, *drovertype.TaskError) {
	if t.FuncSource == "" {
		return e.goFunc(ctx, t)
	}
	return e.starlarkFunc(ctx, t, steps)
}

// goFunc calls a registered Go function, recovering a panic.
func (e *Engine) goFunc(ctx context.Context, t *drovertype.Task) (v any, terr *drovertype.TaskError) {
	fn, ok := e.registry[t.FuncName]
	if !ok {
		return nil, drovertype.NewTaskError(drovertype.TaskFailed, typeNameError,
			fmt.Sprintf("no Go function registered under %q on engine %d", t.FuncName, e.ID()))
	}
	defer func() {
		if r := recover(); r != nil {
			v, terr = nil, panicError(r, debug.Stack())
		}
	}()
	res, err := fn(ctx, t.Args, t.Kwargs)
	if err != nil {
		if ctx.Err() != nil {
			return nil, e.interrupted(ctx)
		}
		return nil, goError(err)
	}
	if err := drovertype.ValidateValue(res); err != nil {
		return nil, typeError(fmt.Sprintf("result of Go function %q is not plain data: %v", t.FuncName, err))
	}
	return res, nil
}

// starlarkFunc defines a map task's Starlark function from its source, with
// the namespace as its globals, and calls it.
func (e *Engine) starlarkFunc(ctx context.Context, t *drovertype.Task, steps uint64) (any, *drovertype.TaskError) {
	p, err := e.cached(t.FuncSource, false)
	if err != nil {
		return nil, syntaxError(err)
	}
	args := make(starlark.Tuple, len(t.Args))
	for i, a := range t.Args {
		v, err := toStarlark(a)
		if err != nil {
			return nil, typeError(fmt.Sprintf("args[%d]: %v", i, err))
		}
		args[i] = v
	}
	var kwargs []starlark.Tuple
	if len(t.Kwargs) > 0 {
		keys := make([]string, 0, len(t.Kwargs))
		for k := range t.Kwargs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		kwargs = make([]starlark.Tuple, len(keys))
		for i, k := range keys {
			v, err := toStarlark(t.Kwargs[k])
			if err != nil {
				return nil, typeError(fmt.Sprintf("kwargs[%q]: %v", k, err))
			}
			kwargs[i] = starlark.Tuple{starlark.String(k), v}
		}
	}
	var result any
	terr := e.runStarlark(ctx, steps, func(th *starlark.Thread) error {
		fv, ok := starlark.Value(p.funcs[t.FuncName]), p.funcs[t.FuncName] != nil
		if !ok {
			globals, err := p.prog.Init(th, e.ns)
			if err != nil {
				return err
			}
			fv, ok = globals[t.FuncName]
			if ok && p.onlyDefs && p.constDefs[t.FuncName] {
				if fn, isFn := fv.(*starlark.Function); isFn && reusable(fn) {
					if p.funcs == nil {
						p.funcs = make(map[string]*starlark.Function)
					}
					p.funcs[t.FuncName] = fn
				}
			}
		}
		if !ok {
			return drovertype.NewTaskError(drovertype.TaskFailed, typeNameError,
				fmt.Sprintf("the source of the task function does not define %q at top level", t.FuncName))
		}
		fn, ok := fv.(*starlark.Function)
		if !ok {
			return typeError(drovertype.MsgTaskFunction + " (" + t.FuncName + " is a " + fv.Type() + ")")
		}
		if n := fn.NumFreeVars(); n > 0 {
			free := make([]string, n)
			for i := range free {
				b, _ := fn.FreeVar(i)
				free[i] = b.Name
			}
			what := t.FuncName
			if fn.Name() != t.FuncName {
				what += " (function " + fn.Name() + ")"
			}
			return typeError(fmt.Sprintf("a task function cannot be a closure: %s uses %s, local to an enclosing function; define it at top level and pass such values as arguments",
				what, strings.Join(free, ", ")))
		}
		res, err := starlark.Call(th, fn, args, kwargs)
		if err != nil {
			return err
		}
		x, cerr := fromStarlark(res)
		if cerr != nil {
			return typeError(fmt.Sprintf("result of %s: %v", t.FuncName, cerr))
		}
		result = x
		return nil
	})
	if terr != nil {
		return nil, terr
	}
	return result, nil
}

// stringTask pushes, executes and pulls. It returns the pulled names (in
// pull order, without repeats) and values.
func (e *Engine) stringTask(ctx context.Context, t *drovertype.Task, steps uint64) ([]string, map[string]any, *drovertype.TaskError) {
	if err := e.push(t.Push); err != nil {
		err.Kind = drovertype.TaskFailed
		return nil, nil, err
	}
	if err := e.exec(ctx, t.Code, steps); err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(t.Pull))
	vals := make(map[string]any, len(t.Pull))
	for _, n := range t.Pull {
		if _, dup := vals[n]; dup {
			continue
		}
		v, err := e.pullOne(n)
		if err != nil {
			return nil, nil, err
		}
		names = append(names, n)
		vals[n] = v
	}
	return names, vals, nil
}
