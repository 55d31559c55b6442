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
	default:
		j.idMu.Unlock()
		return nil, fmt.Errorf("recover %s: read id reservation: %w", j.where, err)
	}
	j.idMu.Unlock()

	live, batches, err := j.scanTasks(ctx)
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", j.where, err)
	}
	done, err := j.haveResults(ctx, live)
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", j.where, err)
	}
	j.bmu.Lock()
	j.batches = j.batches[:0]
	j.bmu.Unlock()
	for _, b := range batches {
		j.addBatch(b.first, b.n)
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

// scanTasks reads the task batches that are not tombstoned: their tasks in
// id order, and the batches.
func (j *Journal) scanTasks(ctx context.Context) (tasks []controller.RecoveredTask, batches []batch, err error) {
	cons, err := j.tasks.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject:     j.subjTask + "*",
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
		Replicas:          1,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("scan tasks: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = j.tasks.DeleteConsumer(dctx, cons.CachedInfo().Name)
	}()
	left := cons.CachedInfo().NumPending
	byFirst := make(map[drovertype.TaskID][]*drovertype.Task)
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
			byFirst[id] = ts
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
	for first, ts := range byFirst {
		batches = append(batches, batch{first: first, n: len(ts)})
		for i, t := range ts {
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
