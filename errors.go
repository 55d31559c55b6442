package drover

import "github.com/drover-dev/drover/drovertype"

// Error kinds, re-exported from package drovertype. Use them with
// errors.Is: errors.Is(err, drover.ErrTaskAborted). Errors that crossed
// the wire match as well (they carry the kind's stable code).
var (
	// ErrTaskAborted: the task was aborted (seed: TaskAborted).
	ErrTaskAborted = drovertype.ErrTaskAborted
	// ErrTaskTimeout: the task waited for an eligible engine longer than
	// the idle timeout (seed: TaskTimeout), or an attempt ran longer than
	// the task's Timeout.
	ErrTaskTimeout = drovertype.ErrTaskTimeout
	// ErrEngineLost: the engine running the task went away.
	ErrEngineLost = drovertype.ErrEngineLost
	// ErrTaskFailed: the task body failed; the *TaskError's Type names the
	// error (ZeroDivisionError, NameError, a Go error type...).
	ErrTaskFailed = drovertype.ErrTaskFailed
	// ErrTaskRejected: the task body rejected the engine (seed:
	// TaskRejectError); an ordinary failure.
	ErrTaskRejected = drovertype.ErrTaskRejected
	// ErrQueueCleared: an engine command was dropped (seed: QueueCleared).
	ErrQueueCleared = drovertype.ErrQueueCleared
	// ErrInvalidProperty: an engine property value that cannot be stored.
	ErrInvalidProperty = drovertype.ErrInvalidProperty
	// ErrNotFound: no such task, engine or name.
	ErrNotFound = drovertype.ErrNotFound
	// ErrAlreadyCompleted: abort of a finished task.
	ErrAlreadyCompleted = drovertype.ErrAlreadyCompleted
	// ErrAlreadyAborted: second abort of a running task.
	ErrAlreadyAborted = drovertype.ErrAlreadyAborted
	// ErrInvalidArgument: bad input (the seed's TypeErrors and
	// ValueErrors).
	ErrInvalidArgument = drovertype.ErrInvalidArgument
	// ErrNotAllowed: the engine refuses this kind of task.
	ErrNotAllowed = drovertype.ErrNotAllowed
	// ErrClosed: the farm or client is closed.
	ErrClosed = drovertype.ErrClosed
)

// KindOf returns the kind of err (see drovertype.KindOf).
func KindOf(err error) Kind { return drovertype.KindOf(err) }
