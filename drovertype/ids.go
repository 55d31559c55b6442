package drovertype

import (
	"fmt"
	"strconv"
)

// TaskID identifies a task within one controller. Ids are handed out
// consecutively from 0 and never reused, not even after the task's result is
// cleared (as the seed). A retry and a recovery task keep the id of the task
// they stand for.
type TaskID int64

// NoTask is the TaskID of "no task" (an error that concerns none, an idle
// engine).
const NoTask TaskID = -1

// EngineID identifies an engine within one controller. The seed hands out
// 0..511 lowest-first and reuses ids after an engine leaves; drover's
// controller documents its own rule.
type EngineID int64

// NoEngine is the EngineID of "no engine".
const NoEngine EngineID = -1

// TaskState is where a task is in its life cycle, as in the seed: Queued
// (waiting in the scheduler, also between retries and while its recovery
// task waits), Pending (an attempt is running on an engine; the seed's
// pendingTasks), Finished (a result or a failure is stored). A cleared task
// is unknown again, which is the zero value, Unknown. The numeric values are
// stable: Unknown 0, Queued 1, Pending 2, Finished 3.
type TaskState uint8

// Task states.
const (
	Unknown TaskState = iota
	Queued
	Pending
	Finished
)

// String returns "Unknown", "Queued", "Pending" or "Finished".
func (s TaskState) String() string {
	switch s {
	case Unknown:
		return "Unknown"
	case Queued:
		return "Queued"
	case Pending:
		return "Pending"
	case Finished:
		return "Finished"
	}
	return "TaskState(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText encodes the state as its name.
func (s TaskState) MarshalText() ([]byte, error) {
	if s > Finished {
		return nil, fmt.Errorf("drovertype: invalid task state %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a state name.
func (s *TaskState) UnmarshalText(b []byte) error {
	for v := Unknown; v <= Finished; v++ {
		if string(b) == v.String() {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("drovertype: unknown task state %q", b)
}
