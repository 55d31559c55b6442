package journal_test

import (
	"testing"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/journal"
)

// BenchmarkAppend: durable task records, written in batches of 1,000 and
// waited for (as Controller.RunBatch does). One op = one task.
func BenchmarkAppend(b *testing.B) {
	dir := b.TempDir()
	s := startNATS(b, dir, 0)
	j := s.open(b, &journal.Config{Dir: dir})
	rec, err := j.EncodeTask(mapTask(b, "inc", int64(1)))
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	var waits []controller.Appended
	id := drovertype.TaskID(0)
	flush := func() {
		for _, a := range waits {
			if err := a.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
		waits = waits[:0]
	}
	for b.Loop() {
		a, err := j.AppendTasks(id, [][]byte{rec})
		if err != nil {
			b.Fatal(err)
		}
		waits = append(waits, a)
		id++
		if len(waits) == 1000 {
			flush()
		}
	}
	flush()
}

// BenchmarkFinished: results written (and their tasks tombstoned), with a
// Flush every 1,000. One op = one result.
func BenchmarkFinished(b *testing.B) {
	dir := b.TempDir()
	s := startNATS(b, dir, 0)
	j := s.open(b, &journal.Config{Dir: dir})
	ctx := b.Context()
	id := drovertype.TaskID(0)
	for b.Loop() {
		j.Finished(id, int64(id), nil, false)
		id++
		if id%1000 == 0 {
			if err := j.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := j.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}
