// Package scheduler decides which queued task goes to which idle engine. It
// is pure policy, as Nomad's scheduler is: no goroutines, no I/O, no clock.
// The controller owns a Scheduler, tells it about queued tasks and idle
// engines, and asks it for one decision at a time.
//
// # Policies
//
// FIFO and LIFO are exactly the seed's (IPython 0.10 kernel.task)
// FIFOScheduler and LIFOScheduler. A decision is the first pair found by
//
//	for t in tasks:        # queue order
//	    for w in workers:  # idle order
//	        if t may run on w: return t, w
//
// FIFO appends tasks and engines at the back: the oldest runnable task goes
// to the longest-idle eligible engine. LIFO inserts them at the front (also a
// requeued retry and a readmitted engine): the newest runnable task goes to
// the most recently freed eligible engine. A task that no idle engine may
// take never blocks the tasks behind it.
//
// # Eligibility: groups and classes
//
// A task's depend is a Starlark predicate over an engine's properties; this
// package cannot run Starlark, and evaluating predicates is the expensive
// part of a decision. So the controller describes eligibility with two keys
// and one function given at construction:
//
//   - Item.Group: tasks with the same depend (and any other constraint the
//     controller folds in, such as "needs an engine that allows commands")
//     share a Group; Unconstrained (0) means any engine may take the task.
//   - The Class given with an engine: engines whose properties (and other
//     capabilities) are equal share a Class.
//   - Eligible(group, class) reports whether tasks of the group may run on
//     engines of the class. It must be a pure function of its arguments, and
//     a Class must never be reused for other properties (a fresh number per
//     engine and properties version is always correct; interning equal
//     properties to one Class is what makes the cache effective).
//
// Because eligibility only depends on (group, class), only the first task of
// a group (in queue order) and the first engine of a class (in idle order)
// can ever be chosen, and Eligible is called at most once per (group, class)
// for as long as the group has queued tasks (up to 4096 classes per group):
// the result is cached. A group found ineligible on every idle class is
// "dormant" and costs O(1) per decision until an engine of a class that was
// not idle before becomes idle (only that class is then evaluated for it).
//
// # Costs
//
// n queued tasks, P groups with queued tasks, K classes with idle engines:
//
//   - AddTask, RemoveTask, AddEngine, RemoveEngine: O(1) (expected, map
//     operations); UpdateEngine: O(engines of the new class).
//   - Schedule with no constrained task queued: O(1).
//   - Schedule with constrained tasks: O(P) to compare each group's first
//     task with the best candidate so far (a dormant group costs O(1)), plus,
//     for each group ahead of the best that is not dormant, cache look-ups
//     over the idle classes (at most K; usually one), plus at most 2K
//     look-ups to pick the engine for a constrained winner, plus one Eligible
//     call per (group, class) never seen before. No decision walks the queue.
//   - TaskIDs: O(n log P); EngineIDs, NumTasks, NumEngines: O(engines), O(1).
//
// Memory per queued task: a 32-byte pointer-free node in an arena plus a
// 4-byte slot in a page of 128 consecutive task ids — about 37 bytes at one
// million dense ids (BenchmarkAddTask); at worst, when every queued id is
// alone in its page, about 650 bytes. The arena keeps its capacity when the
// queue drains, as a Go map does. A steady state of decisions, requeues and
// readmissions does not allocate.
//
// A Scheduler is not safe for concurrent use: it belongs to the controller's
// loop.
package scheduler
