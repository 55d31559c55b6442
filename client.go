package drover

import (
	"context"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
)

// Client is a task farm as its users see it: run tasks, get their results,
// abort them, wait for them, inspect and clear the queue, map a function
// over sequences, and reach the engines' namespaces and properties. It is
// the Go form of IPython 0.10's task client (BlockingTaskClient).
//
// Every method takes a ctx first and honours it: a method that waits
// returns ctx's error when ctx ends, without affecting the farm. A Farm
// (Open) implements Client with a controller and engines in this process;
// a remote client implements it over the network. Implementations are
// safe for concurrent use.
type Client interface {
	// Run queues a copy of t (validated first; the caller's task is not
	// changed) and returns its id: consecutive from 0, never reused.
	Run(ctx context.Context, t *Task) (TaskID, error)
	// RunWait runs t and waits for its result: Run then Result in one
	// call, which a Remote makes with one request to the controller
	// (control API 1.2) instead of two. id is NoTask when t was not
	// queued, and err is then what Run would return; otherwise value and
	// err are what Result(ctx, id) would return. When ctx ends before the
	// task has finished, the task goes on and err is ctx's error; a
	// Remote may then return NoTask for a task it queued (it learns the id
	// with the controller's answer): use Run and Result when the id
	// matters.
	RunWait(ctx context.Context, t *Task) (id TaskID, value any, err error)
	// Result waits for task id to finish and returns its result: a map
	// task's raw value; a command task's *CommandResult; a string task's
	// *TaskResult (also when the task failed: the TaskResult carries the
	// failure). A map or command
	// task that failed, and any task aborted or timed out, returns its
	// *TaskError as the error (errors.Is with ErrTaskFailed,
	// ErrTaskAborted, ErrTaskTimeout, ErrEngineLost...). An unknown or
	// cleared id: "task ID not registered: 7" (ErrNotFound). The value may
	// be shared with other callers: treat it as read-only.
	Result(ctx context.Context, id TaskID) (any, error)
	// Poll is Result without waiting: done reports whether the task has
	// finished (the seed's get_task_result(id, block=False)).
	Poll(ctx context.Context, id TaskID) (value any, done bool, err error)
	// Results waits for every task in ids and returns what Result would
	// for each, in order. err is ctx's or ErrClosed only.
	Results(ctx context.Context, ids []TaskID) (values []any, errs []error, err error)
	// Abort aborts a queued task at once, or stops its running attempt
	// (the task then finishes with TaskAborted, without retry). Errors:
	// "Task Already Completed", "Task Already Aborted", "No task #7".
	Abort(ctx context.Context, id TaskID) error
	// Barrier waits until every task in ids has finished; it never reports
	// their failures, and unknown ids count as finished.
	Barrier(ctx context.Context, ids ...TaskID) error
	// Spin runs the scheduler and reports whether it dispatched a task
	// (engine property changes do not trigger scheduling by themselves).
	Spin(ctx context.Context) (bool, error)
	// QueueStatus lists the tasks running, queued (in queue order),
	// succeeded and failed. Every finished task is counted (the seed
	// counted only string tasks).
	QueueStatus(ctx context.Context) (QueueStatus, error)
	// QueueCounts returns the sizes of QueueStatus's lists.
	QueueCounts(ctx context.Context) (QueueCounts, error)
	// Clear forgets the results of the finished tasks in ids and returns
	// how many it dropped; ids that are not finished tasks give the seed's
	// KeyError "Cleared 1 results, but no tasks found for ids: 7, 8" (the
	// others are dropped anyway).
	Clear(ctx context.Context, ids ...TaskID) (int, error)
	// ClearAll forgets every finished task's result.
	ClearAll(ctx context.Context) (int, error)

	// Map runs one map task per element of the zipped sequences (proto
	// gives the function and options; its Args must be empty), waits for
	// all of them and returns their results in input order. The sequences
	// must have equal length ("all sequences must have equal length"). If
	// some elements failed, err is the first failing element's error (in
	// input order), and values holds the others' results.
	Map(ctx context.Context, proto *Task, seqs ...[]any) (values []any, err error)
	// MapAsync is Map without waiting: it returns the tasks' ids, in input
	// order. Every element is checked before any task is submitted; if
	// submitting fails part way (ctx ended, the client closed), the ids of
	// the tasks already submitted are returned with the error (Map leaves
	// those tasks to run).
	MapAsync(ctx context.Context, proto *Task, seqs ...[]any) ([]TaskID, error)
	// Parallel returns Map bound to proto (the seed's parallel decorator).
	Parallel(proto *Task) func(ctx context.Context, seqs ...[]any) ([]any, error)

	// Engines lists the registered engines with their properties as the
	// controller last saw them.
	Engines(ctx context.Context) ([]EngineInfo, error)
	// Engine returns a handle on engine id's namespace and properties. It
	// does no I/O: an unknown id shows in the handle's calls.
	Engine(id EngineID) EngineClient

	// Close releases the client (a Farm stops its controller and engines,
	// letting running attempts end unless ctx ends first). Calls made
	// after Close fail with ErrClosed.
	Close(ctx context.Context) error
}

// EngineClient reaches one engine's namespace and properties. Each call
// runs on the engine in its command order (behind the task attempts
// already assigned to it). Errors from the engine are *TaskError values
// with the seed's types (NameError for a missing name...); an engine that
// is gone gives ErrNotFound or ErrEngineLost. Safe for concurrent use.
type EngineClient interface {
	// ID returns the engine's id.
	ID() EngineID
	// Push merges values into the namespace.
	Push(ctx context.Context, values map[string]any) error
	// Pull returns the value of one name.
	Pull(ctx context.Context, name string) (any, error)
	// PullMany returns the values of names, in order.
	PullMany(ctx context.Context, names ...string) ([]any, error)
	// Execute runs Starlark code in the namespace.
	Execute(ctx context.Context, code string) error
	// Reset empties the namespace (re-seeding `id`) and clears the
	// properties.
	Reset(ctx context.Context) error
	// Keys lists the names in the namespace, sorted.
	Keys(ctx context.Context) ([]string, error)
	// Properties returns the named properties, or all of them with no
	// names.
	Properties(ctx context.Context, names ...string) (map[string]any, error)
	// SetProperties merges values into the properties. The controller's
	// cached copy (what depend sees) is updated; scheduling is not
	// triggered (use Spin).
	SetProperties(ctx context.Context, values map[string]any) error
	// DelProperties deletes the named properties.
	DelProperties(ctx context.Context, names ...string) error
	// HasProperties reports, for each name, whether it is a property.
	HasProperties(ctx context.Context, names ...string) ([]bool, error)
	// ClearProperties deletes every property.
	ClearProperties(ctx context.Context) error
}

// Task types, re-exported from package drovertype so that users of the
// farm need only this package.
type (
	// TaskID identifies a task: consecutive from 0, never reused.
	TaskID = drovertype.TaskID
	// EngineID identifies an engine within a controller; never reused.
	EngineID = drovertype.EngineID
	// Task is a task definition (map, string or command task).
	Task = drovertype.Task
	// Options are the options every task takes.
	Options = drovertype.Options
	// Depend is a task's constraint on engine properties.
	Depend = drovertype.Depend
	// TaskResult is a string task's result.
	TaskResult = drovertype.TaskResult
	// CommandResult is a command task's result.
	CommandResult = drovertype.CommandResult
	// ResultNS is a string task's results read by name.
	ResultNS = drovertype.ResultNS
	// TaskError is an error of the task farm, with a stable Kind.
	TaskError = drovertype.TaskError
	// Kind classifies a TaskError.
	Kind = drovertype.Kind
	// QueueStatus is the verbose queue status.
	QueueStatus = drovertype.QueueStatus
	// QueueCounts is the short queue status.
	QueueCounts = drovertype.QueueCounts
	// EngineInfo describes an engine.
	EngineInfo = drovertype.EngineInfo
	// Func is a Go function that map tasks call by name.
	Func = engine.Func
	// Registry holds the Go functions of a farm's engines.
	Registry = engine.Registry
	// DependCompiler compiles depend constraints (script.CompileDepend is
	// the Starlark one).
	DependCompiler = controller.DependCompiler
)

// NewRegistry returns an empty function registry.
func NewRegistry() *Registry { return engine.NewRegistry() }

// NewMapTask returns a map task calling the Go function registered on the
// engines under fn, with args (a slice, or nil) and kwargs (a map with
// string keys, or nil); errors use the seed's TypeError texts.
func NewMapTask(fn string, args, kwargs any, opts Options) (*Task, error) {
	return drovertype.NewMapTask(fn, args, kwargs, opts)
}

// NewStarlarkMapTask returns a map task calling the Starlark function name
// defined by source, run with the engine's namespace as its globals.
func NewStarlarkMapTask(source, name string, args, kwargs any, opts Options) (*Task, error) {
	return drovertype.NewStarlarkMapTask(source, name, args, kwargs, opts)
}

// NewStringTask returns a string task: push the values of push into the
// engine's namespace, run code there, pull the names in pull back (nil, one
// name, or a slice of names).
func NewStringTask(code string, push, pull any, opts Options) (*Task, error) {
	return drovertype.NewStringTask(code, push, pull, opts)
}

// NewCommandTask returns a command task running argv (engines must allow
// commands).
func NewCommandTask(argv []string, opts Options) (*Task, error) {
	return drovertype.NewCommandTask(argv, opts)
}

// NewShellTask returns a command task running line with /bin/sh -c.
func NewShellTask(line string, opts Options) (*Task, error) {
	return drovertype.NewShellTask(line, opts)
}
