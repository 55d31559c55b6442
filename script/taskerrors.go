package script

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/drovertype"
)

// Kinds of the errors of the task farm that have no Python type of their
// own (the others use their type: ZeroDivisionError, IndexError,
// KeyError, TaskAborted, TaskTimeout, EngineLost, ...).
const (
	// KindAssertionError: tc.run of something that is not a task (the
	// seed's AssertionError "task must be a Task object!").
	KindAssertionError = "AssertionError"
	// KindAttributeError: a missing name of a ResultNS (ns.x).
	KindAttributeError = "AttributeError"
	// KindException: assigning a TaskResult's ns (the seed's Exception "the
	// ns attribute cannot be changed").
	KindException = "Exception"
)

// TaskErrorKind returns the kind a Starlark program sees for an error of
// the task farm: its Python type name when it has one (the remote error's
// type for a failed task body: "ZeroDivisionError", "NameError"; the seed's
// type for the controller's errors: "IndexError" for "task ID not
// registered: 7", "KeyError" for clear, "TaskAborted", "TaskTimeout"), else
// its drovertype Kind ("EngineLost", "Closed", ...).
func TaskErrorKind(te *drovertype.TaskError) string {
	if te.Type != "" {
		return te.Type
	}
	return string(te.Kind)
}

// taskError returns the error a Starlark program sees for err, an error of
// a task-farm call: an *Error whose kind is TaskErrorKind and whose message
// is the seed's text (wrapping err, so that errors.Is and the remote
// traceback still work). Cancellation (Ctrl-C) is returned unchanged, as a
// Cancelled error.
func taskError(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		var te *drovertype.TaskError
		if !errors.As(err, &te) || te.Kind == drovertype.Canceled || te.Kind == drovertype.DeadlineExceeded {
			return newError(KindCancelled, err, "%v", err)
		}
	}
	var te *drovertype.TaskError
	if errors.As(err, &te) {
		msg := te.Message
		if te.Kind == drovertype.Closed && msg == "" {
			msg = "the task farm is closed"
		}
		return &Error{Kind: TaskErrorKind(te), Msg: msg, Err: err}
	}
	return &Error{Kind: KindError, Msg: err.Error(), Err: err}
}

// remoteTraceback returns "\nRemote traceback (engine 1, task 3):\n..." for
// an error that carries an engine's traceback, else "".
func remoteTraceback(err error) string {
	var te *drovertype.TaskError
	if !errors.As(err, &te) || te.Traceback == "" {
		return ""
	}
	var where []string
	if te.EngineID != drovertype.NoEngine {
		where = append(where, fmt.Sprintf("engine %d", te.EngineID))
	}
	if te.TaskID != drovertype.NoTask {
		where = append(where, fmt.Sprintf("task %d", te.TaskID))
	}
	head := "Remote traceback"
	if len(where) > 0 {
		head += " (" + strings.Join(where, ", ") + ")"
	}
	return "\n" + head + ":\n" + strings.TrimRight(te.Traceback, "\n")
}

// pyRepr returns Python's repr of v for the seed's messages: strings in
// single quotes ('x'), anything else as Starlark prints it.
func pyRepr(v starlark.Value) string {
	s, ok := v.(starlark.String)
	if !ok {
		return v.String()
	}
	q := strings.ReplaceAll(string(s), `\`, `\\`)
	q = strings.ReplaceAll(q, "'", `\'`)
	q = strings.ReplaceAll(q, "\n", `\n`)
	return "'" + q + "'"
}
