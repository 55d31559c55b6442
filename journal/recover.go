package journal

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
)

// recoverWorkers is how many result look-ups Recover makes at once.
const recoverWorkers = 16

// Recover implements controller.Journal. It reads the id reservation, scans
// the task stream (unfinished tasks and recent tombstones only: a finished
// task's record is replaced by a tombstone that expires), drops from the
// unfinished tasks those whose result is on disk already (finished just
// before a crash, before their tombstone), and counts the results on disk
// by outcome. Its cost is proportional to the unfinished tasks, not to the
// results kept.
func (j *Journal) Recover(ctx context.Context) (*controller.Recovered, error) {
	rec := &controller.Recovered{}
	j.idMu.Lock()
	m, err := j.tasks.GetLastMsgForSubject(ctx, j.subjIDs)
	switch {
	case err == nil:
		rec.NextID, err = decodeIDs(m.Data)
		if err != nil {
			j.idMu.Unlock()
			return nil, fmt.Errorf("recover %s: %w", j.where, err)
		}
		j.idSeq = m.Sequence
	case errors.Is(err, jetstream.ErrMsgNotFound):
		j.idSeq = 0
		if what, err := j.history(ctx); err != nil || what != "" {
			j.idMu.Unlock()
			if err != nil {
				return nil, fmt.Errorf("recover %s: %w", j.where, err)
			}
			return nil, fmt.Errorf("recover %s: the id reservation record (%s in stream %s) is missing, but %s: the store is damaged (task ids would be reused): %w",
				j.where, j.subjIDs, j.tasks.CachedInfo().Config.Name, what, ErrCorrupt)
		}
	default:
		j.idMu.Unlock()
		return nil, fmt.Errorf("recover %s: read id reservation: %w", j.where, err)
	}
	j.idMu.Unlock()

	w, start, err := j.readMark(ctx)
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", j.where, err)
	}
	live, batches, err := j.scanTasks(ctx, w, start)
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", j.where, err)
	}
	done, err := j.haveResults(ctx, live)
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", j.where, err)
	}
	j.bmu.Lock()
	j.batches = j.batches[:0]
	j.floor = max(j.floor, start)
	j.hiID = max(j.hiID, w)
	j.bmu.Unlock()
	for _, b := range batches {
		nb := j.addBatch(b.first, b.n)
		nb.seq = b.seq
	}
	for i, t := range live {
		if done[i] {
			j.settleTask(t.ID)
			continue
		}
		rec.Tasks = append(rec.Tasks, t)
		if t.ID >= rec.NextID {
			// Cannot happen (ids are reserved before use); be safe.
			rec.NextID = t.ID + 1
		}
	}
	j.sweepObjects(ctx)
	if rec.Succeeded, err = j.count(ctx, j.subjOK+"*"); err != nil {
		return nil, fmt.Errorf("recover %s: %w", j.where, err)
	}
	if rec.Failed, err = j.count(ctx, j.subjFail+"*"); err != nil {
		return nil, fmt.Errorf("recover %s: %w", j.where, err)
	}
	return rec, nil
}

// readMark reads the watermark record: every task message below id w is
// settled, and every one at or above it is at stream sequence start or
// later. No record: 0, 0.
func (j *Journal) readMark(ctx context.Context) (w drovertype.TaskID, start uint64, err error) {
	j.markMu.Lock()
	defer j.markMu.Unlock()
	m, err := j.tasks.GetLastMsgForSubject(ctx, j.subjMark)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return j.markW, j.markStart, nil
	case err != nil:
		return 0, 0, fmt.Errorf("read watermark: %w", err)
	}
	if w, start, err = decodeMark(m.Data); err != nil {
		return 0, 0, err
	}
	j.markW, j.markStart, j.markSeq = w, start, m.Sequence
	return w, start, nil
}

// history describes what the store holds besides a fresh journal's
// metadata ("" if nothing): a journal without an id reservation record
// never handed out a task id, so it has no result and no task record.
func (j *Journal) history(ctx context.Context) (string, error) {
	ri, err := j.results.Info(ctx)
	if err != nil {
		return "", fmt.Errorf("stream %s: %w", j.results.CachedInfo().Config.Name, err)
	}
	if ri.State.Msgs > 0 || ri.State.LastSeq > 0 {
		return fmt.Sprintf("the result stream %s holds %d messages (last sequence %d)", ri.Config.Name, ri.State.Msgs, ri.State.LastSeq), nil
	}
	ti, err := j.tasks.Info(ctx)
	if err != nil {
		return "", fmt.Errorf("stream %s: %w", j.tasks.CachedInfo().Config.Name, err)
	}
	if ti.State.Msgs > 1 {
		return fmt.Sprintf("the task stream %s holds %d messages besides the metadata", ti.Config.Name, ti.State.Msgs-1), nil
	}
	return "", nil
}

// scanTasks reads the task batches that are not tombstoned, from stream
// sequence start, ignoring those below the watermark w (settled: a record
// the store brought back after a crash): their tasks in id order, and the
// batches.
func (j *Journal) scanTasks(ctx context.Context, w drovertype.TaskID, start uint64) (tasks []controller.RecoveredTask, batches []batch, err error) {
	ccfg := jetstream.ConsumerConfig{
		FilterSubject:     j.subjTask + "*",
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
		Replicas:          1,
	}
	if start > 1 {
		ccfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		ccfg.OptStartSeq = start
	}
	cons, err := j.tasks.CreateConsumer(ctx, ccfg)
	if err != nil {
		return nil, nil, fmt.Errorf("scan tasks: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = j.tasks.DeleteConsumer(dctx, cons.CachedInfo().Name)
	}()
	left := cons.CachedInfo().NumPending
	type found struct {
		ts  []*drovertype.Task
		seq uint64
	}
	byFirst := make(map[drovertype.TaskID]found)
	for left > 0 {
		n := 1024
		if left < uint64(n) {
			n = int(left)
		}
		mb, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, nil, fmt.Errorf("scan tasks: %w", err)
		}
		got := 0
		for msg := range mb.Messages() {
			got++
			md, err := msg.Metadata()
			if err != nil {
				return nil, nil, fmt.Errorf("scan tasks: %w", err)
			}
			left = md.NumPending
			id, err := parseID(msg.Subject(), j.subjTask)
			if err != nil {
				return nil, nil, fmt.Errorf("scan tasks: %w", err)
			}
			if id < w {
				continue // settled before the watermark was written
			}
			if msg.Headers().Get(hdrTomb) != "" {
				delete(byFirst, id)
				continue
			}
			recs, err := decodeBatch(msg.Data())
			if err != nil {
				return nil, nil, fmt.Errorf("task %d (stream sequence %d): %w", id, md.Sequence.Stream, err)
			}
			ts := make([]*drovertype.Task, len(recs))
			for i, r := range recs {
				t, err := j.codec.UnmarshalTask(r)
				if err == nil {
					err = t.Validate()
				}
				if err != nil {
					return nil, nil, fmt.Errorf("task %d (stream sequence %d): %w: %w", id+drovertype.TaskID(i), md.Sequence.Stream, ErrCorrupt, err)
				}
				ts[i] = t
			}
			byFirst[id] = found{ts: ts, seq: md.Sequence.Stream}
		}
		if err := mb.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, nil, fmt.Errorf("scan tasks: %w", err)
		}
		if got == 0 {
			// Everything left expired while we read (tombstones).
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("scan tasks: %w", err)
		}
	}
	for first, f := range byFirst {
		batches = append(batches, batch{first: first, n: len(f.ts), seq: f.seq})
		for i, t := range f.ts {
			tasks = append(tasks, controller.RecoveredTask{ID: first + drovertype.TaskID(i), Task: t})
		}
	}
	slices.SortFunc(batches, func(a, b batch) int { return cmp.Compare(a.first, b.first) })
	slices.SortFunc(tasks, func(a, b controller.RecoveredTask) int { return cmp.Compare(a.ID, b.ID) })
	return tasks, batches, nil
}

// haveResults reports, for each task, whether its result is on disk.
func (j *Journal) haveResults(ctx context.Context, tasks []controller.RecoveredTask) ([]bool, error) {
	done := make([]bool, len(tasks))
	if len(tasks) == 0 {
		return done, nil
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs error
		next = make(chan int)
	)
	for range min(recoverWorkers, len(tasks)) {
		wg.Go(func() {
			for i := range next {
				m, _, err := j.getResult(ctx, tasks[i].ID)
				if err != nil {
					mu.Lock()
					errs = errors.Join(errs, err)
					mu.Unlock()
					continue
				}
				done[i] = m != nil
			}
		})
	}
	for i := range tasks {
		next <- i
	}
	close(next)
	wg.Wait()
	return done, errs
}

// count returns how many results match filter (the server's count).
func (j *Journal) count(ctx context.Context, filter string) (int, error) {
	cons, err := j.results.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject:     filter,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
		Replicas:          1,
		HeadersOnly:       true,
	})
	if err != nil {
		return 0, fmt.Errorf("count results %s: %w", filter, err)
	}
	n := cons.CachedInfo().NumPending
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = j.results.DeleteConsumer(dctx, cons.CachedInfo().Name)
	return int(n), nil
}
