package controller

import (
	"context"

	"github.com/drover-dev/drover/drovertype"
)

// Journal keeps a controller's state durable, so that a controller
// restarted on the same journal loses no accepted task and no result
// (package journal keeps it in JetStream). Config.Journal nil means the
// controller keeps everything in memory, as before.
//
// The controller calls the methods as documented on each; an
// implementation must be safe for concurrent use.
type Journal interface {
	// Recover reads the durable state. Start calls it once, before the
	// controller takes any request.
	Recover(ctx context.Context) (*Recovered, error)

	// ReserveIDs durably records that ids below limit may have been handed
	// out, so that a restarted controller starts at limit or above (ids are
	// never reused; gaps are fine); limit >= need. Called with the
	// controller's id lock held, when the ids reserved so far do not reach
	// need.
	ReserveIDs(ctx context.Context, need drovertype.TaskID) (limit drovertype.TaskID, err error)

	// EncodeTask encodes an accepted task (a copy owned by the controller,
	// with its options and recovery chain) for AppendTasks. Called by Run's
	// callers, concurrently.
	EncodeTask(t *drovertype.Task) ([]byte, error)

	// AppendTasks starts writing the records (from EncodeTask) of the tasks
	// with ids first, first+1, ... (one per record). Calls are made in id
	// order, with the controller's id lock held: it must not block for
	// long. The tasks are durable once the returned Appended's Wait
	// returns nil.
	AppendTasks(first drovertype.TaskID, recs [][]byte) (Appended, error)

	// Finished records the result of task id: value and err as Result
	// returns them (err nil on success); failed as QueueStatus counts it.
	// Called by the controller's loop: it must not block (write
	// asynchronously). The task's record is dropped once the result is
	// durable, so that Recover no longer returns it. The journal then
	// reports the id through the Notify function (also when the write
	// failed: the error is reported by Flush, and the task runs again after
	// a restart).
	Finished(id drovertype.TaskID, value any, err *drovertype.TaskError, failed bool)

	// Notify sets the function the journal calls, from its own goroutine,
	// with the ids of tasks whose results Finished took are now durable (or
	// failed to be written). Called once by Start, before Recover. The
	// controller answers Result, Poll, Results and Barrier for a task only
	// once it is reported, so that no client sees a result a crash could
	// lose.
	Notify(fn func(ids []drovertype.TaskID))

	// Forget drops task id's record without a result: its Run failed
	// (AppendTask or its Wait returned an error), so no client has its id.
	Forget(id drovertype.TaskID)

	// Result returns the durable result of task id, for a task the
	// controller no longer holds in memory (finished before a restart).
	// found is false when there is none (unknown, cleared or expired).
	Result(ctx context.Context, id drovertype.TaskID) (value any, terr *drovertype.TaskError, found bool, err error)

	// Clear deletes the results of ids and reports how many it deleted,
	// by outcome.
	Clear(ctx context.Context, ids []drovertype.TaskID) (succeeded, failed int, err error)

	// ClearAll deletes every result.
	ClearAll(ctx context.Context) error

	// Flush waits until everything handed to the journal is durable (or
	// failed: the error says what).
	Flush(ctx context.Context) error
}

// Appended is a task record being written.
type Appended interface {
	// Wait waits until the record is durable, or failed to be.
	Wait(ctx context.Context) error
}

// Recovered is the durable state a Journal recovers.
type Recovered struct {
	// NextID is the first id that was never reserved: the first id the
	// restarted controller hands out.
	NextID drovertype.TaskID
	// Tasks are the tasks accepted and not finished, in id order: queued
	// again (a running attempt is retried without using a retry).
	Tasks []RecoveredTask
	// Succeeded and Failed count the results on disk (QueueCounts).
	Succeeded, Failed int
}

// RecoveredTask is an unfinished task found by Recover.
type RecoveredTask struct {
	ID   drovertype.TaskID
	Task *drovertype.Task
}
