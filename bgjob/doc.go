// Package bgjob runs and tracks background jobs: Go functions, expressions
// evaluated by a pluggable Evaluator (package script supplies a Starlark one),
// and external commands. It is the Go port of IPython's BackgroundJobManager
// (IPython.lib.backgroundjobs), following modern IPython where versions
// differ: job numbers start at 0 and are never reused, and Flush has no
// abort. Unlike the original it can kill a running job of any kind, keeps
// each job's output apart, and is safe for concurrent use.
//
// # Jobs
//
// Manager.New starts a job and returns it at once; the job runs in its own
// goroutine (and, for a command, its own process group). The target decides
// the kind:
//
//   - a Go function, with its arguments bound at New (a Func, or any func
//     whose first parameter may be a context.Context, with results (),
//     (T), (error) or (T, error));
//   - a string: an expression, compiled at New by Config.Evaluator with up
//     to two namespaces (globals, locals);
//   - a Cmd: a command line (Argv, or Shell for /bin/sh -c).
//
// Every error of New (bad target or arguments, a syntax error, an unknown
// executable) is returned before a job number is taken.
//
// A job is Running when New returns it (as IPython's Thread.start() returns
// once the thread runs; Created is only the zero Job's state), then Completed
// (it returned without error; a command exited with status 0) or Dead (it returned an error, panicked, a
// command exited with another status or by a signal, or it was killed). A
// Dead job's Traceback explains why: the error text (or a Starlark-style
// Backtrace), the panic value and stack, or the exit status and the last
// lines of output.
//
// # The manager's lists
//
// A Manager keeps every job it created in a table indexed by number (Get,
// Jobs), plus three lists — running, completed and dead — and two report
// lists of jobs that finished since the last report. As in the original,
// finished jobs leave the running list lazily, only when the manager is
// updated: by Status, StatusNew, Running, Completed, Dead, Remove, Flush and
// Tracebacks. An update moves them in running-list order (job number order),
// so the completed and dead lists are in detection order, not finish order.
// A job's own State is always current. Remove drops a finished job from its
// list but leaves it registered; Flush deletes every completed and dead job.
//
// The texts printed by Status, StatusNew, Flush, Traceback and Tracebacks,
// the status strings, the placeholder results and the error texts of
// JobError and ErrTooManyNamespaces are the seed's.
//
// # Killing
//
// Job.Kill (or Manager.Kill) works for every kind of job:
//
//   - a function job has its context cancelled, with context.Cause
//     ErrKilled. This is cooperative: a function that never looks at ctx
//     runs on until it returns;
//   - an expression job has the context given to Program.Eval cancelled;
//     Eval must then return promptly;
//   - a command job's process group gets SIGTERM (and SIGCONT, so that a
//     stopped process handles it) and, if the command has not exited after
//     Config.KillGrace, SIGKILL.
//
// A job whose Kill was accepted (it was not finished yet) ends Dead with an
// error matching ErrKilled, even if it then returned a value: the kill wins.
// A job killed before its goroutine got to run it never runs. When a job
// returns, its context is cancelled (the job is not counted as killed).
//
// # Commands
//
// A command runs in a new process group with stdin from /dev/null and stdout
// and stderr into the job's output. When the command (the group leader)
// exits, for whatever reason, what is left of its process group is killed
// with SIGKILL, so no process of the job outlives it; on Linux this happens
// before the leader is reaped, so the group id cannot have been reused. A
// process that left the group (setsid, or its own process group) escapes
// this, as with any process-group based job control; the job stops reading
// its output KillGrace after the leader exited.
//
// # Output
//
// Each job has its own output buffer: stdout and stderr of a command, the
// writer an expression prints to, OutputFrom(ctx) of a function. Job.Output
// may be read while the job runs; Job.OutputChanged signals new output. The
// buffer keeps at most Config.OutputLimit bytes, the most recent ones (the
// tail): for a long-running command the end of its output is what tells what
// happened. When bytes were dropped, Output says how many and its text starts
// with a "[N bytes dropped]" line.
//
// # Lifetime and concurrency
//
// A Manager, its Jobs and their methods are safe for concurrent use. The
// manager holds one mutex, never while a job runs or while it writes to a
// caller's io.Writer. Creating a job costs O(1) whatever the number of jobs;
// Status is O(number of jobs listed). Close refuses new jobs, kills daemon
// jobs, waits for the others until its context ends, kills what is left and
// returns once every job goroutine and process has ended.
//
// # Differences from the original
//
//   - Job numbers start at 0 and are never reused (modern IPython).
//   - Flush never aborts (modern IPython); it does not clear the report
//     lists either, so StatusNew still reports a flushed job once. The
//     report lists keep only a job's number and string form, so a flushed
//     job is garbage at once.
//   - Memory: every job stays registered until Flush, and a removed job
//     stays registered for ever (as in the original); a long-lived program
//     should Flush now and then.
//   - Removing a job twice is a no-op (the original raised ValueError from
//     list.remove).
//   - Errors that the original logged (not found, still running) are
//     returned, as *JobError with the same text.
//   - Expression jobs take explicit namespaces; there is no "caller's frame".
//   - A function's string form is its package-qualified name, e.g.
//     "strings.Repeat" (Python printed "<function f at 0x...>"); a closure's
//     name depends on inlining, so give Options.Name for a stable one.
//   - Finished reports true for a Dead job (Python's `finished` was None).
//   - Kill, Wait, WaitAll, Close, daemon semantics for Close, per-job output
//     and command jobs are drover's own.
package bgjob
