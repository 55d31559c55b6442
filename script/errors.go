package script

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/drover-dev/drover/bgjob"
	"github.com/drover-dev/drover/drovertype"
)

// Error kinds. Every error a Starlark program can observe (through catch, or
// in a shell's error message) has one of these kinds; see KindOf. The names
// follow the Python exception that IPython raises in the same situation, so
// that a script ported from IPython reads the same.
const (
	// KindKeyError: a lookup by key failed (jobs[99] for an unknown job).
	KindKeyError = "KeyError"
	// KindValueError: an argument has the right type but a bad value
	// (an expression job with three namespaces, a negative timeout).
	KindValueError = "ValueError"
	// KindTypeError: an argument has the wrong type (jobs.new(42)).
	KindTypeError = "TypeError"
	// KindNameError: a global name was read before it was defined.
	KindNameError = "NameError"
	// KindSyntaxError: source text did not parse or resolve (a statement
	// given to jobs.new as an expression, an undefined name in it).
	KindSyntaxError = "SyntaxError"
	// KindKilled: a job was killed.
	KindKilled = "Killed"
	// KindCancelled: the computation was interrupted (Ctrl-C in the shell,
	// a cancelled context).
	KindCancelled = "Cancelled"
	// KindError: any other failure, including fail(...) and the errors of
	// Starlark's own built-ins (division by zero, index out of range, ...).
	KindError = "Error"
)

// Error is an error with a kind, raised by drover's Starlark built-ins. Its
// text is "Kind: message" (for example "KeyError: 99"), as Python prints an
// exception. Err, if not nil, is the underlying cause (often a bgjob
// sentinel such as bgjob.ErrNotFound), so errors.Is works through it.
//
// An Error is immutable and safe for concurrent use.
type Error struct {
	Kind string // one of the Kind constants
	Msg  string // the message, without the kind
	Err  error  // the cause, or nil
}

// Error returns "Kind: message", or the kind alone when there is no
// message (TaskAborted).
func (e *Error) Error() string {
	if e.Msg == "" {
		return e.Kind
	}
	return e.Kind + ": " + e.Msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// newError returns an *Error of the given kind.
func newError(kind string, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// KindOf returns the kind of err, one of the Kind constants: the Kind of
// the first *Error in its chain; for an error of the task farm (a
// *drovertype.TaskError in the chain), its Python type name when it has one
// (ZeroDivisionError, IndexError, TaskAborted, ...), else its drovertype
// Kind (see TaskErrorKind); KindSyntaxError for parse and resolve
// errors; KindKilled for bgjob.ErrKilled; KindCancelled for cancellation
// (context.Canceled, context.DeadlineExceeded, or a Starlark thread that was
// cancelled); KindError for anything else. KindOf(nil) is "".
func KindOf(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var te *drovertype.TaskError
	if errors.As(err, &te) {
		return TaskErrorKind(te)
	}
	var se syntax.Error
	var re resolve.Error
	var rl resolve.ErrorList
	switch {
	case errors.As(err, &se), errors.As(err, &re), errors.As(err, &rl):
		return KindSyntaxError
	case errors.Is(err, bgjob.ErrKilled):
		return KindKilled
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return KindCancelled
	}
	var ee *starlark.EvalError
	if errors.As(err, &ee) && strings.HasPrefix(ee.Msg, "Starlark computation cancelled") {
		return KindCancelled
	}
	return KindError
}

// messageOf returns the message of err without its kind or backtrace: the
// Msg of an *Error, the message of a Starlark error without the "fail: "
// prefix that fail() adds, the text otherwise.
func messageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	var te *drovertype.TaskError
	if errors.As(err, &te) {
		return te.Message
	}
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		msg := ee.Msg
		if n := len(ee.CallStack); n > 0 && ee.CallStack[n-1].Name == "fail" &&
			ee.CallStack[n-1].Pos.Filename() == "<builtin>" {
			msg = strings.TrimPrefix(msg, "fail: ")
		}
		return msg
	}
	return err.Error()
}

// FormatError returns the text a user should see for err: for a Starlark
// evaluation error, its backtrace ("Traceback (most recent call last): ...
// Error: message"), without drover's internal frames; otherwise err's text.
// An error of a task that failed on an engine is followed by the engine's
// traceback ("Remote traceback (engine 1, task 3): ...").
func FormatError(err error) string {
	if err == nil {
		return ""
	}
	return formatLocal(err) + remoteTraceback(err)
}

func formatLocal(err error) string {
	var ee *starlark.EvalError
	if !errors.As(err, &ee) {
		return err.Error()
	}
	stack := ee.CallStack
	suffix := ""
	if last := len(stack) - 1; last >= 0 && stack[last].Pos.Filename() == "<builtin>" {
		if name := stack[last].Name; name != nsName {
			suffix = " in " + name
		}
		stack = stack[:last]
	}
	return fmt.Sprintf("%sError%s: %s", stack, suffix, ee.Msg)
}

// errorValue is the Starlark value of an error caught by catch(): it has
// .kind, .message and .traceback, and prints as "Kind: message".
type errorValue struct {
	kind, msg, tb string
	err           error
}

var (
	_ starlark.HasAttrs   = (*errorValue)(nil)
	_ starlark.Comparable = (*errorValue)(nil)
)

func newErrorValue(err error) *errorValue {
	kind, msg := KindOf(err), messageOf(err)
	if kind == KindKilled {
		msg = bgjob.ErrKilled.Error() // rather than the cancellation it caused
	}
	return &errorValue{kind: kind, msg: msg, tb: FormatError(err), err: err}
}

func (e *errorValue) String() string {
	if e.msg == "" {
		return e.kind
	}
	return e.kind + ": " + e.msg
}
func (e *errorValue) Type() string          { return "error" }
func (e *errorValue) Freeze()               {}
func (e *errorValue) Truth() starlark.Bool  { return true }
func (e *errorValue) Hash() (uint32, error) { return starlark.String(e.String()).Hash() }
func (e *errorValue) AttrNames() []string   { return []string{"kind", "message", "traceback"} }

func (e *errorValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "kind":
		return starlark.String(e.kind), nil
	case "message":
		return starlark.String(e.msg), nil
	case "traceback":
		return starlark.String(e.tb), nil
	}
	return nil, nil
}

func (e *errorValue) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	o := y.(*errorValue)
	eq := e.kind == o.kind && e.msg == o.msg
	switch op {
	case syntax.EQL:
		return eq, nil
	case syntax.NEQ:
		return !eq, nil
	}
	return false, fmt.Errorf("%s %s %s not implemented", e.Type(), op, y.Type())
}
