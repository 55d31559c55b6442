package script

import (
	"context"
	"errors"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/drover-dev/drover/bgjob"
	"github.com/drover-dev/drover/drovertype"
)

// Python's names for the failures of Starlark's own operations and
// built-ins (see Classify). The kinds of drover's built-ins are the Kind
// constants of errors.go.
const (
	// KindZeroDivisionError: 1 / 0, 1 // 0, 1 % 0.
	KindZeroDivisionError = "ZeroDivisionError"
	// KindIndexError: an index out of range ([][1], [].pop()).
	KindIndexError = "IndexError"
	// KindUnboundLocalError: a local variable read before it is assigned.
	KindUnboundLocalError = "UnboundLocalError"
	// KindFileNotFoundError: jobs.sh of a command that does not exist.
	KindFileNotFoundError = "FileNotFoundError"
	// KindPermissionError: jobs.sh of a file that cannot be executed.
	KindPermissionError = "PermissionError"
	// KindOSError: jobs.sh of a command that cannot be started otherwise.
	KindOSError = "OSError"
)

// undefinedPredeclared is the start of Starlark's message for a read of a
// predeclared name that has no value (an engine's namespace).
const undefinedPredeclared = "internal error: predeclared variable "

// Classify returns the kind of err, Python's name for it, and its message
// without the kind. It is the one classifier of the errors a Starlark
// program can meet, used by KindOf, catch, FormatError and the engines of
// the task farm:
//
//   - an *Error in err's chain (drover's built-ins): its Kind and Msg;
//   - a *SystemExit (exit(), quit()): KindSystemExit;
//   - a killed job (bgjob.ErrKilled): KindKilled, "job killed";
//   - a *starlark.EvalError: the type Python raises for the same failure
//     (see ClassifyEvalError);
//   - an error of the task farm (*drovertype.TaskError): TaskErrorKind;
//   - a parse or resolve error: KindNameError when every problem is an
//     undefined name, else KindSyntaxError, with the error's text;
//   - context.Canceled or context.DeadlineExceeded: KindCancelled;
//   - anything else: KindError with err's text.
//
// Classify(nil) is "", "".
func Classify(err error) (kind, msg string) {
	if err == nil {
		return "", ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind, e.Msg
	}
	var se *SystemExit
	if errors.As(err, &se) {
		return KindSystemExit, se.message()
	}
	if errors.Is(err, bgjob.ErrKilled) {
		return KindKilled, bgjob.ErrKilled.Error()
	}
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		return ClassifyEvalError(ee)
	}
	var te *drovertype.TaskError
	if errors.As(err, &te) {
		return TaskErrorKind(te), te.Message
	}
	var synErr syntax.Error
	var resErr resolve.Error
	var resList resolve.ErrorList
	switch {
	case errors.As(err, &resList):
		return compileKind(resList), err.Error()
	case errors.As(err, &synErr), errors.As(err, &resErr):
		return KindSyntaxError, err.Error()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return KindCancelled, err.Error()
	}
	return KindError, err.Error()
}

// compileKind is KindNameError when every error of a resolve is an
// undefined name, else KindSyntaxError.
func compileKind(errs resolve.ErrorList) string {
	if len(errs) == 0 {
		return KindSyntaxError
	}
	for _, e := range errs {
		if !strings.HasPrefix(e.Msg, "undefined: ") {
			return KindSyntaxError
		}
	}
	return KindNameError
}

// ClassifyEvalError returns the Python exception type and the message for
// a Starlark evaluation error: the kind of an *Error or the type of a
// *drovertype.TaskError raised by a built-in; NameError for a predeclared
// name without a value; AssertionError for fail() (the message without
// its "fail: " prefix); KindCancelled for a cancelled thread; else, from
// Starlark's message text, ZeroDivisionError, NameError,
// UnboundLocalError, KeyError, IndexError, AttributeError, ValueError or
// TypeError, as Python raises for the same operation; KindError when none
// fits.
func ClassifyEvalError(ee *starlark.EvalError) (kind, msg string) {
	msg = ee.Msg
	if rest, ok := strings.CutPrefix(msg, undefinedPredeclared); ok {
		name, _ := strings.CutSuffix(rest, " is uninitialized")
		return KindNameError, "name '" + name + "' is not defined"
	}
	var e *Error
	if errors.As(ee.Unwrap(), &e) {
		return e.Kind, e.Msg
	}
	var te *drovertype.TaskError
	if errors.As(ee.Unwrap(), &te) && te.Type != "" {
		return te.Type, te.Message
	}
	if n := len(ee.CallStack); n > 0 && ee.CallStack[n-1].Name == "fail" && ee.CallStack[n-1].Pos.Filename() == "<builtin>" {
		return KindAssertionError, strings.TrimPrefix(msg, "fail: ")
	}
	if strings.HasPrefix(msg, "Starlark computation cancelled") {
		return KindCancelled, msg
	}
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(msg, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("division by zero", "modulo by zero"):
		return KindZeroDivisionError, msg
	case has("global variable ") && has(" referenced before assignment"):
		return KindNameError, msg
	case has("local variable ") && has(" referenced before assignment"):
		return KindUnboundLocalError, msg
	case has(" not in dict", "key not found", "missing key", "keyword ") && !has("argument"):
		return KindKeyError, msg
	case has("out of range", "pop from empty"):
		if has("out of range") && (has("want value in") || has("code point")) {
			return KindValueError, msg
		}
		return KindIndexError, msg
	case has("field or method"):
		return KindAttributeError, msg
	case has("invalid literal", "invalid float literal", "value not in list", "element not found", "substring not found",
		"invalid syntax", "not a valid", "empty sequence", "empty separator", "must not be zero", "negative shift count"):
		return KindValueError, msg
	case has("got ", "want ", "unhashable", "not iterable", "argument", "invalid call of non-function",
		"unsupported", "unknown binary op", "does not accept", "has no len", "not callable", "cannot compare",
		"not supported", " not implemented", "format requires"):
		return KindTypeError, msg
	}
	return KindError, msg
}
