package journal

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/drovertype"
)

// markEvery is the least time between two watermark writes.
const markEvery = 100 * time.Millisecond

// watermark returns the current low watermark: the first id of the first
// task message not settled (or the id after the last message appended, if
// every one is settled), and a task stream sequence at or below the one of
// every task message at or above it.
func (j *Journal) watermark() (drovertype.TaskID, uint64) {
	j.bmu.Lock()
	defer j.bmu.Unlock()
	if len(j.batches) > 0 {
		b := j.batches[0]
		return b.first, max(j.floor, b.seq)
	}
	return j.hiID, j.floor
}

// writeMark writes the watermark record if the watermark advanced since the
// last one. The tasks it covers are settled: their results were
// acknowledged by JetStream (or they were forgotten), so the record is
// written only after what it covers is durable. It is written with the
// expected last sequence of its subject: a journal that did not read the
// record (Recover) cannot move it back.
func (j *Journal) writeMark(ctx context.Context) {
	w, start := j.watermark()
	j.markMu.Lock()
	defer j.markMu.Unlock()
	if w < j.markW || (w == j.markW && start <= j.markStart) {
		return
	}
	start = max(start, j.markStart) // both are lower bounds for ids >= w
	ack, err := j.js.Publish(ctx, j.subjMark, encodeMark(w, start), jetstream.WithExpectLastSequencePerSubject(j.markSeq))
	if err != nil {
		j.log.Warn("journal: watermark not written", "watermark", w, "err", err)
		return
	}
	j.markW, j.markStart, j.markSeq = w, start, ack.Sequence
}

// markLoop writes the watermark when it advances, at most every
// markEvery, and a last time when the acker returned (Close).
func (j *Journal) markLoop() {
	defer j.wg.Done()
	var (
		timer *time.Timer
		fire  <-chan time.Time
		last  time.Time
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-j.markWake:
			if fire != nil {
				continue // a write is due already
			}
			if d := markEvery - time.Since(last); d > 0 {
				if timer == nil {
					timer = time.NewTimer(d)
				} else {
					timer.Reset(d)
				}
				fire = timer.C
				continue
			}
		case <-fire:
			fire = nil
		case <-j.ackDone:
			ctx, cancel := context.WithTimeout(j.life, j.cfg.WriteTimeout)
			j.writeMark(ctx)
			cancel()
			return
		}
		ctx, cancel := context.WithTimeout(j.life, j.cfg.WriteTimeout)
		j.writeMark(ctx)
		cancel()
		last = time.Now()
	}
}
