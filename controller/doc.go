// Package controller is drover's task controller: the Go port of IPython
// 0.10's TaskController (kernel.task). It numbers and queues tasks, places
// them on engines through a scheduler (package scheduler), retries failed
// attempts, runs recovery tasks, applies the failure penalty and the idle
// timeout, aborts tasks, and keeps results until they are cleared. It
// talks to its engines through a transport.ControllerEnd only, so the
// engines may be in this process (memtransport) or elsewhere.
//
// # Design
//
// One goroutine, the loop, owns all the state: tasks by id (a slice: ids
// are consecutive), engines by id and by address, the scheduler, the
// timers. It selects over the client requests (an inbox: a slice under a
// mutex and a one-slot wake-up channel), engine message batches (read from
// the transport by a second goroutine, the pump), the idle timer and the
// penalty timer. Messages to engines are gathered during one turn of the
// loop and sent at its end, one Send per engine. Run does not wait for the
// loop (it validates and copies the task in the caller's goroutine, takes
// the next id and queues it), so submitting is cheap and its cost is
// spread over the callers. There is no goroutine per task.
//
// Every decision is O(1) or O(log n) in the common case: task lookup by id
// is an index, the scheduler's queue and idle-engine set are indexed, each
// engine's attempts are a short list (its window). A depend constraint is
// compiled once per distinct source (Config.Depend), tasks with the same
// one share a scheduler group, engines with equal properties share a
// class, and the predicate runs once per (group, class) while the group
// has queued tasks.
//
// # Semantics (SEED-SPEC B5–B9)
//
//   - Run → id, consecutive from 0, never reused (not even after Clear).
//     Run takes a copy of the task; a recovery chain that loops is cut with
//     the seed's retries = -1 guard (drovertype.Task.Clone).
//   - Life cycle QUEUED → PENDING → FINISHED. A failed attempt is retried
//     (Retries = N: N+1 attempts), then the recovery task runs under the
//     same id with its own retries and recovery task, else the task
//     finishes with the last attempt's failure. Retries are requeued as
//     the seed does (FIFO: at the back; LIFO: at the front), and the failed
//     engine is out of the scheduler meanwhile, so the retry goes to another
//     idle engine if there is one.
//   - The failure penalty (default 1 s) keeps an engine out of scheduling
//     after a failed attempt; a successful attempt readmits it at once.
//   - The idle timeout (default 30 s) is armed exactly as the seed's
//     checkIdle: at every scheduling event (run, spin, an engine registered
//     or readmitted, a retry queued), if tasks are queued, at least one
//     engine is registered and every engine is idle (no attempt assigned,
//     no penalty). When it fires the scheduler runs once more; if that
//     dispatched nothing, every queued task fails with "task 3 failed to
//     execute due to unmet dependencies for 30 seconds".
//   - Result: see Controller.Result. Abort: see Controller.Abort.
//     Barrier never fails. Clear returns the number dropped and the seed's
//     KeyError for the rest.
//   - Engine properties are cached from the engine's registration, the
//     Props of outcomes and call replies, and Props messages; a change
//     does not trigger scheduling (hence Spin), as in the seed.
//
// # Durability (Config.Journal)
//
// With a journal (package journal: JetStream), Run returns an id only once
// the task is durable (RunBatch writes a whole batch at once); a task is
// handed to the loop while its record is being written, and dropped again
// (its attempt cancelled) if the write fails. Results are written by the
// journal as tasks finish, and Result, Poll, Results and Barrier answer
// for a task only once its result is durable, so no client sees a result a
// crash could lose. Start recovers the id counter (ids are reserved in
// blocks: a restart skips the rest of a block), the unfinished tasks
// (queued again in id order, with their retries and recovery chain from
// the start: an attempt running at the crash is run again, and the first
// result written is kept), and the counts of results on disk (part of
// QueueCounts; QueueStatus lists only the tasks finished since the
// restart). The results of tasks finished before a restart are read from
// the journal, and Clear and ClearAll delete them there too.
//
// # Where drover differs from the seed
//
//   - Abort of a running task sends Cancel: the attempt is really stopped
//     (the seed let it run). The task finishes TaskAborted when the engine
//     reports the end of the attempt, whatever its outcome, with no retry
//     or recovery (as the seed). An attempt that ended because of the
//     abort costs the engine no failure penalty; one that failed on its own
//     first does.
//   - QueueStatus counts every finished task: succeeded (a value, or a
//     string task's TaskResult without failure) or failed (everything
//     else: failed, aborted, idle-timed-out, engine lost). The seed counted
//     only string tasks. Pending lists every task with an attempt assigned
//     to an engine (with a window > 1, also those queued on the engine).
//   - Engine ids are handed out consecutively from 0 and never reused (the
//     seed reused the lowest free id). A lost engine's attempts fail with
//     EngineLost: retried elsewhere if the task has retries left, else
//     through the recovery task, else the task finishes EngineLost (a
//     string task: a TaskResult carrying it, as the seed's connection
//     error). Every attempt an engine still holds when it leaves (Bye: it
//     finished the others and sent their outcomes first) is queued again
//     without using a retry.
//   - Window: an engine may have several attempts assigned (Config.Window,
//     capped by the engine's own). Window 1 is the seed's behaviour.
//   - Poll makes "not finished" explicit (the seed returned None).
//   - The seed's idle timer could fire after the last engine left; here
//     an engine leaving re-checks it, so with no engine tasks wait (as the
//     seed's documentation says).
//   - Controller-operation errors name the operation: "abort: task 7: Task
//     Already Completed", "result: task ID not registered: 7"; the
//     *drovertype.TaskError in the chain carries the seed's text alone.
package controller
