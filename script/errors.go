package script

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/drover-dev/drover/bgjob"
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
	// KindCancelled: the computation was interrupted (a cancelled
	// context, a thread cancelled for another reason than Ctrl-C).
	KindCancelled = "Cancelled"
	// KindKeyboardInterrupt: the statement was interrupted by Ctrl-C (see
	// ErrKeyboardInterrupt).
	KindKeyboardInterrupt = "KeyboardInterrupt"
	// KindSystemExit: exit() or quit() (see SystemExit).
	KindSystemExit = "SystemExit"
	// KindError: any other failure, one that Python has no more precise
	// name for.
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

// KindOf returns the kind of err, Python's name for it: see Classify.
// KindOf(nil) is "".
func KindOf(err error) string {
	kind, _ := Classify(err)
	return kind
}

// messageOf returns the message of err without its kind or backtrace (see
// Classify).
func messageOf(err error) string {
	_, msg := Classify(err)
	return msg
}

// ErrKeyboardInterrupt is the cause with which a front end cancels the
// context of Exec or ExecFile when the user presses Ctrl-C
// (context.WithCancelCause). The error that Exec or ExecFile then returns
// matches it with errors.Is, has kind KindKeyboardInterrupt, and
// FormatError ends it with the line "KeyboardInterrupt", as Python reports
// an interrupted statement.
var ErrKeyboardInterrupt = errors.New("KeyboardInterrupt")

// interrupted is the error of a statement interrupted by Ctrl-C: it
// matches ErrKeyboardInterrupt and wraps what the statement returned.
type interrupted struct{ err error }

func (e *interrupted) Error() string        { return e.err.Error() }
func (e *interrupted) Unwrap() error        { return e.err }
func (e *interrupted) Is(target error) bool { return target == ErrKeyboardInterrupt }

// keyboardInterrupt returns the error of a statement that ended with err
// because ctx was cancelled: a KeyboardInterrupt when the cause is
// ErrKeyboardInterrupt, else err unchanged.
func keyboardInterrupt(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil || !errors.Is(context.Cause(ctx), ErrKeyboardInterrupt) {
		return err
	}
	var se *SystemExit
	if errors.As(err, &se) {
		return err
	}
	return &Error{Kind: KindKeyboardInterrupt, Err: &interrupted{err}}
}

// SystemExit is the error of exit(code) or quit(code): the program asked to
// end. Exec and ExecFile return it (find it with errors.As); catch does
// not catch it. Code is the exit status (exit() and exit(None): 0; an int:
// that; anything else: 1, and Msg is its text, which a front end prints
// on standard error, as Python does). It is immutable: safe for concurrent
// use.
type SystemExit struct {
	Code int
	Msg  string
}

func (e *SystemExit) Error() string {
	if m := e.message(); m != "" {
		return KindSystemExit + ": " + m
	}
	return KindSystemExit
}

func (e *SystemExit) message() string {
	if e.Msg != "" {
		return e.Msg
	}
	if e.Code != 0 {
		return fmt.Sprint(e.Code)
	}
	return ""
}

// FormatError returns the text a user should see for err, as Python shows
// an uncaught exception: for a Starlark evaluation error, its backtrace
// ("Traceback (most recent call last): ..."), without the frames of
// built-ins; then the line "Kind: message" (see Classify), or the kind alone
// when there is no message ("KeyboardInterrupt"). An error of a task that
// failed on an engine is followed by the engine's traceback ("Remote
// traceback (engine 1, task 3): ...").
func FormatError(err error) string {
	if err == nil {
		return ""
	}
	kind, msg := Classify(err)
	last := kind
	if msg != "" {
		last += ": " + msg
	}
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		// Frames of built-ins (catch, the built-in that failed, drover's
		// internal <ns>) are left out, as Python shows only frames of code.
		stack := slices.DeleteFunc(slices.Clone(ee.CallStack), func(fr starlark.CallFrame) bool {
			return fr.Pos.Filename() == "<builtin>"
		})
		last = stack.String() + last
	}
	return last + remoteTraceback(err)
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
