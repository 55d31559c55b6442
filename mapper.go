package drover

import (
	"context"
	"fmt"

	"github.com/drover-dev/drover/drovertype"
)

// runner is what the map helpers need of a client.
type runner interface {
	Run(ctx context.Context, t *Task) (TaskID, error)
	Results(ctx context.Context, ids []TaskID) ([]any, []error, error)
}

// batchRunner is a runner that submits many tasks in one go (the remote
// client: one request per batch rather than one per task). runBatch
// submits proto with each row as its Args, in order, and returns the ids
// queued; its error names the failing element ("element 3: ...").
type batchRunner interface {
	runBatch(ctx context.Context, proto *Task, rows [][]any) ([]TaskID, error)
}

// mapAsync submits one map task per zipped element of seqs (the seed's
// TaskMapper with block=False).
func mapAsync(ctx context.Context, r runner, proto *Task, seqs [][]any) ([]TaskID, error) {
	if proto == nil {
		return nil, fmt.Errorf("map: %w", drovertype.NewNotATask())
	}
	if proto.Kind != drovertype.MapTask {
		return nil, fmt.Errorf("map: %w", drovertype.NewTypeError(
			fmt.Sprintf("map needs a map task, not a %s task", proto.Kind)))
	}
	if len(proto.Args) > 0 {
		return nil, fmt.Errorf("map: %w", drovertype.NewValueError(
			"the task's args are given by the sequences: the prototype must have none"))
	}
	n := 0
	for i, s := range seqs {
		if i == 0 {
			n = len(s)
		} else if len(s) != n {
			return nil, fmt.Errorf("map: %w", drovertype.NewUnequalLengths())
		}
	}
	if len(seqs) == 0 {
		return []TaskID{}, nil
	}
	// Build and check every element before submitting any.
	rows := make([][]any, n)
	flat := make([]any, n*len(seqs))
	for i := range rows {
		row := flat[i*len(seqs) : (i+1)*len(seqs) : (i+1)*len(seqs)]
		for j, s := range seqs {
			row[j] = s[i]
		}
		if err := drovertype.ValidateValue(row); err != nil {
			return nil, fmt.Errorf("map: element %d: %w", i, err)
		}
		rows[i] = row
	}
	tk := *proto // Run copies it: one prototype serves every element
	if br, ok := r.(batchRunner); ok {
		ids, err := br.runBatch(ctx, &tk, rows)
		if err != nil {
			return ids, fmt.Errorf("map: %w", err)
		}
		return ids, nil
	}
	ids := make([]TaskID, n)
	for i, row := range rows {
		tk.Args = row
		id, err := r.Run(ctx, &tk)
		if err != nil {
			return ids[:i], fmt.Errorf("map: element %d: %w", i, err)
		}
		ids[i] = id
	}
	return ids, nil
}

// mapSync is the seed's SynchronousTaskMapper: submit, wait for all, and
// return the results in input order, or the first failing element's error.
func mapSync(ctx context.Context, r runner, proto *Task, seqs [][]any) ([]any, error) {
	ids, err := mapAsync(ctx, r, proto, seqs)
	if err != nil {
		return nil, err
	}
	values, errs, err := r.Results(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	for i, e := range errs {
		if e != nil {
			return values, fmt.Errorf("map: element %d (task %d): %w", i, ids[i], e)
		}
	}
	return values, nil
}
