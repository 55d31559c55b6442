package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/script"
)

// Python names of the errors of user code, as IPython reports them.
const (
	typeNameError        = "NameError"
	typeSyntaxError      = "SyntaxError"
	typeTypeError        = "TypeError"
	typeValueError       = "ValueError"
	typeKeyError         = "KeyError"
	typeRecursionError   = "RecursionError"
	typeStepBudget       = "StepBudgetExceeded"
	typeGoPanic          = "GoPanic"
	typeGenericError     = "Error"
	typeFileNotFound     = "FileNotFoundError"
	typePermissionError  = "PermissionError"
	typeOSError          = "OSError"
	msgStepBudgetPrefix  = "step budget exceeded"
	msgRecursionExceeded = "maximum recursion depth exceeded"
)

// ErrStepBudget matches (errors.Is) the failure of a Starlark run stopped by
// its step budget: a *drovertype.TaskError of kind TaskFailed and type
// "StepBudgetExceeded".
var ErrStepBudget error = &drovertype.TaskError{Kind: drovertype.TaskFailed, Type: typeStepBudget}

// ErrRecursion matches the failure of a Starlark run whose call stack grew
// beyond the engine's MaxCallDepth: kind TaskFailed, type "RecursionError".
var ErrRecursion error = &drovertype.TaskError{Kind: drovertype.TaskFailed, Type: typeRecursionError}

// runState records why a Starlark run stopped, beyond its error text.
type runState struct {
	budget     uint64
	overBudget bool
	tooDeep    bool
}

// starlarkError converts the error of a Starlark run (parse, resolve or
// evaluation) into a TaskError of kind TaskFailed whose Type is Python's
// name for it, or, when the run was interrupted, into the error of the
// interruption (ctx's cause, the step budget, the recursion limit).
func (e *Engine) starlarkError(ctx context.Context, err error, st *runState) *drovertype.TaskError {
	var ee *starlark.EvalError
	isEval := errors.As(err, &ee)
	if isEval && strings.HasPrefix(ee.Msg, "Starlark computation cancelled") {
		switch {
		case st != nil && st.overBudget:
			te := drovertype.NewTaskError(drovertype.TaskFailed, typeStepBudget,
				fmt.Sprintf("%s: the run took more than %d steps (raise the engine's or the task's step budget if this is not a runaway)", msgStepBudgetPrefix, st.budget))
			te.Traceback = ee.Backtrace()
			te.EngineID = e.ID()
			return te
		case st != nil && st.tooDeep:
			te := drovertype.NewTaskError(drovertype.TaskFailed, typeRecursionError,
				fmt.Sprintf("%s (more than %d nested calls)", msgRecursionExceeded, e.maxDepth))
			te.Traceback = ee.Backtrace()
			te.EngineID = e.ID()
			return te
		case ctx.Err() != nil:
			return e.interrupted(ctx)
		}
	}
	var te *drovertype.TaskError
	switch {
	case isEval:
		typ, msg := classify(ee)
		te = drovertype.NewTaskError(drovertype.TaskFailed, typ, msg)
		te.Traceback = fixTraceback(ee.Backtrace())
		// An error raised by a built-in with a kind of its own (a
		// property that cannot be stored) keeps its type.
		var inner *drovertype.TaskError
		if errors.As(ee.Unwrap(), &inner) && inner.Type != "" {
			te.Type, te.Message = inner.Type, inner.Message
		}
	default:
		te = syntaxError(err)
	}
	te.Cause = err
	te.EngineID = e.ID()
	return te
}

// syntaxError converts a parse or resolve error (or any other error of
// compilation) into a SyntaxError.
func syntaxError(err error) *drovertype.TaskError {
	var se syntax.Error
	var rl resolve.ErrorList
	msg := err.Error()
	switch {
	case errors.As(err, &se):
		msg = se.Error()
	case errors.As(err, &rl) && len(rl) > 0:
		msg = rl[0].Pos.String() + ": " + rl[0].Msg
		if len(rl) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(rl)-1)
		}
	}
	te := drovertype.NewTaskError(drovertype.TaskFailed, typeSyntaxError, msg)
	te.Cause = err
	return te
}

// interrupted returns the error of a run stopped through its ctx: the
// ctx's cause when it is a *drovertype.TaskError (Cancel from the
// controller, the attempt's timeout), else Canceled or DeadlineExceeded.
func (e *Engine) interrupted(ctx context.Context) *drovertype.TaskError {
	cause := causeOf(ctx)
	if te, ok := errors.AsType[*drovertype.TaskError](cause); ok && te != nil {
		c := *te
		if c.EngineID == drovertype.NoEngine {
			c.EngineID = e.ID()
		}
		return &c
	}
	kind, msg := drovertype.Canceled, "cancelled"
	if errors.Is(cause, context.DeadlineExceeded) {
		kind, msg = drovertype.DeadlineExceeded, "deadline exceeded"
	}
	te := drovertype.NewTaskError(kind, string(kind), msg)
	te.Cause = cause
	te.EngineID = e.ID()
	return te
}

const undefinedPrefix = "internal error: predeclared variable "

// classify returns Python's error type name and the message for a Starlark
// evaluation error: drover's one classifier, shared with the shell and
// scripts (script.ClassifyEvalError).
func classify(ee *starlark.EvalError) (typ, msg string) {
	return script.ClassifyEvalError(ee)
}

// fixTraceback rewrites the engine's internal texts in a Starlark backtrace.
func fixTraceback(tb string) string {
	if i := strings.Index(tb, undefinedPrefix); i >= 0 {
		rest := tb[i+len(undefinedPrefix):]
		name, after, ok := strings.Cut(rest, " is uninitialized")
		if ok {
			tb = tb[:i] + "name '" + name + "' is not defined" + after
		}
	}
	return tb
}

// goError converts the error of a registered Go function into a TaskError
// of kind TaskFailed: a *drovertype.TaskError keeps its type and message; a
// plain error gets its Go type name ("Error" for errors.New and
// fmt.Errorf).
func goError(err error) *drovertype.TaskError {
	if te, ok := errors.AsType[*drovertype.TaskError](err); ok && te != nil {
		c := *te
		if c.Kind != drovertype.TaskFailed && c.Kind != drovertype.TaskRejected {
			c.Kind = drovertype.TaskFailed
			if c.Type == "" {
				c.Type = string(te.Kind)
			}
		}
		return &c
	}
	typ := fmt.Sprintf("%T", err)
	switch typ {
	case "*errors.errorString", "*fmt.wrapError", "*fmt.wrapErrors":
		typ = typeGenericError
	}
	te := drovertype.NewTaskError(drovertype.TaskFailed, typ, err.Error())
	te.Cause = err
	return te
}
