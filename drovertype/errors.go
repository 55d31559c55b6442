package drovertype

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind classifies an error of the task farm. Its string value is the error's
// stable wire code: it is what a transport sends, it never changes once
// released, and a code this version does not know survives a round trip
// unchanged (Known reports false for it). Callers branch on kinds with
// errors.Is and the Err* sentinels, or with KindOf.
type Kind string

// Error kinds. The comment on each says what it means and which seed error
// it corresponds to (the seed's Python exception class goes in
// TaskError.Type).
const (
	// TaskAborted: the task was aborted (seed: TaskAborted, no message).
	TaskAborted Kind = "TaskAborted"
	// TaskTimeout: the task waited for an eligible engine longer than the
	// controller's idle timeout (seed: TaskTimeout "task 3 failed to execute
	// due to unmet dependencies for 30 seconds"), or, beyond the seed, one
	// attempt ran longer than the task's Timeout and was stopped.
	TaskTimeout Kind = "TaskTimeout"
	// EngineLost: the engine running the attempt went away (seed: the
	// connection error of a dead remote engine).
	EngineLost Kind = "EngineLost"
	// TaskFailed: the task body failed; TaskError.Type names the remote
	// error (NameError, ZeroDivisionError, a Go error type, ...).
	TaskFailed Kind = "TaskFailed"
	// TaskRejected: the task body said its prerequisites are not on this
	// engine (seed: TaskRejectError). Like the seed, an ordinary failure.
	TaskRejected Kind = "TaskRejected"
	// QueueCleared: an engine command was dropped because an earlier one
	// failed or the engine was reset (seed: QueueCleared).
	QueueCleared Kind = "QueueCleared"
	// InvalidProperty: an engine property value that cannot be stored (seed:
	// InvalidProperty "can't be a value: ...").
	InvalidProperty Kind = "InvalidProperty"
	// NotFound: no such task (seed: IndexError "task ID not registered: 7",
	// "No task #7"; KeyError of clear), or no such result name (ResultNS,
	// TaskResult.Get).
	NotFound Kind = "NotFound"
	// AlreadyCompleted: abort of a finished task (seed: IndexError "Task
	// Already Completed").
	AlreadyCompleted Kind = "AlreadyCompleted"
	// AlreadyAborted: second abort of a running task (seed: IndexError "Task
	// Already Aborted").
	AlreadyAborted Kind = "AlreadyAborted"
	// AlreadyExists: an engine registered twice under one id (seed:
	// ValueError "worker with id 2 already exists.  This should not
	// happen.").
	AlreadyExists Kind = "AlreadyExists"
	// InvalidArgument: bad input to a call (seed: the TypeErrors of the task
	// constructors, ValueError "all sequences must have equal length").
	InvalidArgument Kind = "InvalidArgument"
	// NotAllowed: the engine refuses this kind of task (a command task on an
	// engine started without commands allowed). Beyond the seed.
	NotAllowed Kind = "NotAllowed"
	// Canceled: the operation was cancelled; matches context.Canceled.
	Canceled Kind = "Canceled"
	// DeadlineExceeded: the caller's deadline passed; matches
	// context.DeadlineExceeded.
	DeadlineExceeded Kind = "DeadlineExceeded"
	// Closed: the controller, client or engine is closed.
	Closed Kind = "Closed"
	// Internal: a bug or an unexpected condition (a recovered panic, an
	// error that has no kind).
	Internal Kind = "Internal"
)

// kinds lists every known kind in a fixed order; it must only grow.
var kinds = [...]Kind{
	TaskAborted, TaskTimeout, EngineLost, TaskFailed, TaskRejected,
	QueueCleared, InvalidProperty, NotFound, AlreadyCompleted,
	AlreadyAborted, AlreadyExists, InvalidArgument, NotAllowed, Canceled,
	DeadlineExceeded, Closed, Internal,
}

// Kinds returns every kind this version knows, in a fixed order.
func Kinds() []Kind { return append([]Kind(nil), kinds[:]...) }

// Known reports whether k is one of the kinds this version defines.
func (k Kind) Known() bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// String returns the wire code.
func (k Kind) String() string { return string(k) }

// description is the Go-style text of a kind's sentinel.
func (k Kind) description() string {
	switch k {
	case TaskAborted:
		return "task aborted"
	case TaskTimeout:
		return "task timed out"
	case EngineLost:
		return "engine lost"
	case TaskFailed:
		return "task failed"
	case TaskRejected:
		return "task rejected"
	case QueueCleared:
		return "engine queue cleared"
	case InvalidProperty:
		return "invalid engine property"
	case NotFound:
		return "not found"
	case AlreadyCompleted:
		return "task already completed"
	case AlreadyAborted:
		return "task already aborted"
	case AlreadyExists:
		return "already exists"
	case InvalidArgument:
		return "invalid argument"
	case NotAllowed:
		return "not allowed"
	case Canceled:
		return "canceled"
	case DeadlineExceeded:
		return "deadline exceeded"
	case Closed:
		return "closed"
	case Internal:
		return "internal error"
	}
	return "error kind " + strconv.Quote(string(k))
}

// kindError is the type of the Err* sentinels: immutable, one per kind.
type kindError struct{ kind Kind }

func (e *kindError) Error() string { return e.kind.description() }

// Sentinels, one per kind. Any error whose chain holds a *TaskError of that
// kind matches with errors.Is, including errors decoded from the wire.
var (
	ErrTaskAborted      error = &kindError{TaskAborted}
	ErrTaskTimeout      error = &kindError{TaskTimeout}
	ErrEngineLost       error = &kindError{EngineLost}
	ErrTaskFailed       error = &kindError{TaskFailed}
	ErrTaskRejected     error = &kindError{TaskRejected}
	ErrQueueCleared     error = &kindError{QueueCleared}
	ErrInvalidProperty  error = &kindError{InvalidProperty}
	ErrNotFound         error = &kindError{NotFound}
	ErrAlreadyCompleted error = &kindError{AlreadyCompleted}
	ErrAlreadyAborted   error = &kindError{AlreadyAborted}
	ErrAlreadyExists    error = &kindError{AlreadyExists}
	ErrInvalidArgument  error = &kindError{InvalidArgument}
	ErrNotAllowed       error = &kindError{NotAllowed}
	ErrCanceled         error = &kindError{Canceled}
	ErrDeadlineExceeded error = &kindError{DeadlineExceeded}
	ErrClosed           error = &kindError{Closed}
	ErrInternal         error = &kindError{Internal}
)

// TaskError is an error of the task farm that can cross the wire: a kind
// (the stable code), the name of the remote error type, the message, the
// remote traceback, and the task and engine it concerns.
//
// errors.Is(err, ErrX) is true when err's chain holds a *TaskError of kind
// X; a *TaskError target matches by Kind, and also by Type when the target's
// Type is set (errors.Is(err, &TaskError{Kind: TaskFailed, Type:
// "ZeroDivisionError"})). A Canceled or DeadlineExceeded TaskError also
// matches context.Canceled or context.DeadlineExceeded. Cause, when set
// in-process, is reachable with errors.Unwrap but is not serialized.
type TaskError struct {
	// Kind is the stable code.
	Kind Kind `json:"kind"`
	// Type is the seed's or the remote's error type name: "TaskAborted",
	// "IndexError", "ZeroDivisionError", a Go error's type. May be empty.
	Type string `json:"type,omitempty"`
	// Message is the error text without the type, as the seed words it.
	Message string `json:"message,omitempty"`
	// Traceback is the remote traceback text, if any.
	Traceback string `json:"traceback,omitempty"`
	// TaskID is the task concerned, or NoTask.
	TaskID TaskID `json:"task_id"`
	// EngineID is the engine concerned, or NoEngine.
	EngineID EngineID `json:"engine_id"`
	// Cause is the underlying local error, if any (not serialized).
	Cause error `json:"-"`
}

// NewTaskError returns a TaskError of the given kind, type name and message,
// concerning no particular task or engine.
func NewTaskError(kind Kind, typ, msg string) *TaskError {
	return &TaskError{Kind: kind, Type: typ, Message: msg, TaskID: NoTask, EngineID: NoEngine}
}

// Error returns the message as the seed prints it: a failed task body gives
// "Type: message" (like the last line of a Python traceback); other errors
// give the message alone; an error without a message gives its type name,
// or else its kind ("TaskAborted").
func (e *TaskError) Error() string {
	switch {
	case e.Message == "" && e.Type != "":
		return e.Type
	case e.Message == "":
		return string(e.Kind)
	case (e.Kind == TaskFailed || e.Kind == TaskRejected) && e.Type != "":
		return e.Type + ": " + e.Message
	}
	return e.Message
}

// Unwrap returns Cause.
func (e *TaskError) Unwrap() error { return e.Cause }

// Is reports whether e matches target; see TaskError.
func (e *TaskError) Is(target error) bool {
	switch t := target.(type) {
	case *kindError:
		return e.Kind == t.kind
	case *TaskError:
		return t != nil && e.Kind == t.Kind && (t.Type == "" || t.Type == e.Type)
	}
	switch target {
	case context.Canceled:
		return e.Kind == Canceled
	case context.DeadlineExceeded:
		return e.Kind == DeadlineExceeded
	}
	return false
}

// KindOf returns the kind of err: that of the first *TaskError or Err*
// sentinel in its chain; Canceled or DeadlineExceeded for the context
// errors; Internal for any other non-nil error; "" for nil.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var k Kind
	walk(err, func(e error) bool {
		switch t := e.(type) {
		case *TaskError:
			k = t.Kind
			return true
		case *kindError:
			k = t.kind
			return true
		}
		switch e {
		case context.Canceled:
			k = Canceled
			return true
		case context.DeadlineExceeded:
			k = DeadlineExceeded
			return true
		}
		return false
	})
	if k == "" {
		return Internal
	}
	return k
}

// walk visits err's chain depth first (as errors.Is does) until f returns
// true.
func walk(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walk(e, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// FromError converts err into a *TaskError for the wire. The first
// *TaskError in err's chain is returned as is (its seed text is kept; the
// wrapping context is the local caller's); a sentinel becomes a TaskError of
// its kind; context.Canceled and context.DeadlineExceeded become Canceled
// and DeadlineExceeded; anything else becomes Internal with err's text,
// err's Go type as Type and err as Cause. FromError(nil) is nil.
func FromError(err error) *TaskError {
	if err == nil {
		return nil
	}
	if te, ok := errors.AsType[*TaskError](err); ok && te != nil {
		return te
	}
	k := KindOf(err)
	if k != Internal {
		te := NewTaskError(k, "", "")
		te.Cause = err
		return te
	}
	te := NewTaskError(Internal, fmt.Sprintf("%T", err), err.Error())
	te.Cause = err
	return te
}

// Seed message texts. Constructors below and the task constructors use them;
// the Starlark layer can use them for input only it can see.
const (
	MsgTaskFunction         = "a task function must be a FunctionType"
	MsgTaskArgs             = "a task args must be a list or tuple"
	MsgTaskKwargs           = "a task kwargs must be a dict"
	MsgTaskExpression       = "a task expression must be a string"
	MsgPull                 = "pull must be str or a sequence of strs"
	MsgPush                 = "push must be a dict"
	MsgTaskAlreadyCompleted = "Task Already Completed"
	MsgTaskAlreadyAborted   = "Task Already Aborted"
	MsgUnequalLengths       = "all sequences must have equal length"
	MsgNotATask             = "task must be a Task object!"
)

// NewTypeError returns an InvalidArgument error of Python type TypeError.
func NewTypeError(msg string) *TaskError { return NewTaskError(InvalidArgument, "TypeError", msg) }

// NewValueError returns an InvalidArgument error of Python type ValueError.
func NewValueError(msg string) *TaskError { return NewTaskError(InvalidArgument, "ValueError", msg) }

// NewNotATask returns the seed's error for something that is not a task
// where one is expected (a nil *Task): AssertionError "task must be a Task
// object!" (kind InvalidArgument).
func NewNotATask() *TaskError { return NewTaskError(InvalidArgument, "AssertionError", MsgNotATask) }

// NewAborted returns the error of an aborted task: kind TaskAborted, type
// TaskAborted, no message (as the seed).
func NewAborted(id TaskID) *TaskError {
	e := NewTaskError(TaskAborted, "TaskAborted", "")
	e.TaskID = id
	return e
}

// NewIdleTimeout returns the seed's idle-timeout failure: "task 3 failed to
// execute due to unmet dependencies for 30 seconds". The seed's timeout is a
// whole number of seconds; a timeout that is not prints as a decimal
// ("for 1.5 seconds").
func NewIdleTimeout(id TaskID, timeout time.Duration) *TaskError {
	e := NewTaskError(TaskTimeout, "TaskTimeout", fmt.Sprintf(
		"task %d failed to execute due to unmet dependencies for %s seconds", id, seconds(timeout)))
	e.TaskID = id
	return e
}

// NewAttemptTimeout returns the failure of an attempt stopped by the task's
// Timeout (beyond the seed): "task 3 timed out after 5s on engine 2".
func NewAttemptTimeout(id TaskID, engine EngineID, limit time.Duration) *TaskError {
	e := NewTaskError(TaskTimeout, "TaskTimeout", fmt.Sprintf(
		"task %d timed out after %v on engine %d", id, limit, engine))
	e.TaskID, e.EngineID = id, engine
	return e
}

// NewEngineLost returns the failure of an attempt whose engine went away:
// "engine 2 lost while running task 3".
func NewEngineLost(id TaskID, engine EngineID) *TaskError {
	e := NewTaskError(EngineLost, "EngineLost", fmt.Sprintf(
		"engine %d lost while running task %d", engine, id))
	e.TaskID, e.EngineID = id, engine
	return e
}

// NewNotRegistered returns the seed's result-lookup error for an unknown or
// cleared task: IndexError "task ID not registered: 7".
func NewNotRegistered(id TaskID) *TaskError {
	e := NewTaskError(NotFound, "IndexError", fmt.Sprintf("task ID not registered: %d", id))
	e.TaskID = id
	return e
}

// NewNoTask returns the seed's abort error for an unknown or cleared task:
// IndexError "No task #7".
func NewNoTask(id TaskID) *TaskError {
	e := NewTaskError(NotFound, "IndexError", fmt.Sprintf("No task #%d", id))
	e.TaskID = id
	return e
}

// NewAlreadyCompleted returns the seed's abort error for a finished task:
// IndexError "Task Already Completed".
func NewAlreadyCompleted(id TaskID) *TaskError {
	e := NewTaskError(AlreadyCompleted, "IndexError", MsgTaskAlreadyCompleted)
	e.TaskID = id
	return e
}

// NewAlreadyAborted returns the seed's error for a second abort of a running
// task: IndexError "Task Already Aborted".
func NewAlreadyAborted(id TaskID) *TaskError {
	e := NewTaskError(AlreadyAborted, "IndexError", MsgTaskAlreadyAborted)
	e.TaskID = id
	return e
}

// NewClearNotFound returns the seed's clear error: KeyError "Cleared 1
// results, but no tasks found for ids: 7, 8" (cleared is the number of
// results that were dropped nevertheless).
func NewClearNotFound(cleared int, missing []TaskID) *TaskError {
	ids := make([]string, len(missing))
	for i, id := range missing {
		ids[i] = strconv.FormatInt(int64(id), 10)
	}
	return NewTaskError(NotFound, "KeyError", fmt.Sprintf(
		"Cleared %d results, but no tasks found for ids: %s", cleared, strings.Join(ids, ", ")))
}

// NewUnequalLengths returns the seed's map error: ValueError "all sequences
// must have equal length".
func NewUnequalLengths() *TaskError { return NewValueError(MsgUnequalLengths) }

// NewDuplicateEngine returns the seed's registration error: ValueError
// "worker with id 2 already exists.  This should not happen." (two spaces,
// as the seed).
func NewDuplicateEngine(id EngineID) *TaskError {
	e := NewTaskError(AlreadyExists, "ValueError", fmt.Sprintf(
		"worker with id %d already exists.  This should not happen.", id))
	e.EngineID = id
	return e
}

// NewQueueCleared returns the error of an engine command dropped because an
// earlier command failed or the engine was reset.
func NewQueueCleared(engine EngineID) *TaskError {
	e := NewTaskError(QueueCleared, "QueueCleared", fmt.Sprintf("engine %d: command queue cleared", engine))
	e.EngineID = engine
	return e
}

// NewRemoteError returns the failure of a task body: kind TaskFailed, the
// remote error's type name, message and traceback.
func NewRemoteError(id TaskID, engine EngineID, typ, msg, traceback string) *TaskError {
	e := NewTaskError(TaskFailed, typ, msg)
	e.TaskID, e.EngineID, e.Traceback = id, engine, traceback
	return e
}

// seconds formats d in seconds: whole seconds as an integer (as the seed's
// %i), anything else as a decimal.
func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
