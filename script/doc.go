// Package script is drover's Starlark layer: the Python-like dialect, the
// Session behind `drover shell` and `drover run`, the predeclared `jobs`
// object (IPython's BackgroundJobManager, on a bgjob.Manager), `catch`,
// Python's dir, help, exit and quit, the Starlark Evaluator for expression
// jobs, and conversion between Go and Starlark values (ToStarlark,
// FromStarlark).
//
// # Tasks
//
// A session also has the task farm's Starlark surface (IPython 0.10's
// kernel.task; docs/tasks.md is the reference): the constructors MapTask,
// StringTask and CommandTask, and, when Config.Tasks is set, the task client
// `tc` (run, get_task_result, abort, barrier, spin, queue_status, clear, map,
// mapper, parallel, engines) with TaskResult, ResultNS and engine values. A
// Starlark function given to MapTask (or as depend) travels to the engines
// as its source text, which the session keeps for every chunk that defines
// functions (funcsource.go). Task data (arguments, results, properties)
// crosses between Starlark and the farm through ToTaskData and
// FromTaskData, the farm's one conversion (the engines use it too).
// CompileDepend is the controller's depend compiler for Starlark
// constraints.
//
// # Globals
//
// A Session keeps its global variables in one table shared by every chunk
// run with Exec (and every file run with ExecFile), with Python's
// semantics: a function reads the current value of a global when it runs,
// whichever chunk defined it, and a function body may name a global that
// is defined later. (Starlark's own REPL compiles each chunk as a separate
// module, so a function keeps reading the values of its own chunk; drover
// rewrites each chunk before compiling it, see namespace.go.) Undefined
// names at top level are still reported before the chunk runs.
//
// # Snapshots
//
// A background job runs on its own goroutine while the session goes on.
// Starlark values are not safe for concurrent mutation, so a job never
// shares a mutable value with the code that created it: jobs.new copies
// the job's arguments, the namespaces of an expression job, and every
// global its functions may read, when the job is created. Lists, dicts and
// sets are deep-copied (sharing and cycles preserved); functions are shared
// and their default values and captured variables frozen; drover's own
// values (jobs, job objects, errors) are shared; other values are frozen
// and shared. A job's result is frozen when it completes, so the session
// and other jobs can read it at the same time. The cost of a job is thus
// proportional to the size of what it reads.
//
// # Errors
//
// Errors that a Starlark program sees have a kind, the name of the Python
// exception raised in the same situation: drover's built-ins use IPython's
// (KeyError for jobs[99], ValueError for an expression job with three
// namespaces, TypeError for jobs.new(42), NameError, SyntaxError,
// FileNotFoundError for jobs.sh of a missing program), and Starlark's own
// failures get the type Python raises for the same operation
// (ZeroDivisionError, IndexError, KeyError, ValueError, TypeError,
// AttributeError, AssertionError for fail()). Classify is the one
// classifier, shared with the task farm's engines, so a failure has the
// same kind in the shell, in a job and on an engine. drover's built-ins
// return an *Error, whose text is "Kind: message" (for example
// "KeyError: 99") and which wraps the cause (a bgjob sentinel where there
// is one, so errors.Is works); KindOf finds the kind of any error and
// FormatError the text Python would print for it (the backtrace, then
// "Kind: message"). Errors of the task farm (*drovertype.TaskError) have
// the kind of their Python type: the remote error's for a failed task
// (ZeroDivisionError), the seed's for the controller's (IndexError "task
// ID not registered: 7", TaskAborted); see TaskErrorKind. A statement
// interrupted by Ctrl-C (its context cancelled with the cause
// ErrKeyboardInterrupt) fails with a KeyboardInterrupt; exit() and quit()
// end a chunk with a *SystemExit. In Starlark, catch(fn, *args, **kwargs)
// returns (value, None) or (None, error), where error has .kind, .message
// and .traceback; it does not catch interruptions or exit().
//
// Where IPython only logs an error (an unknown job number for result,
// remove, traceback; removing a running job), drover prints
// "ERROR: <message>" on the session's Stderr (in a job: on the job's
// output) and returns None.
package script
