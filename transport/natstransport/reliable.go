package natstransport

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// sentFrame is a data frame kept for sending again.
type sentFrame struct {
	seq  uint64
	data []byte
}

// resendBuf holds the data frames an end sent in its session that the
// other side has not acknowledged yet, in order, within a frame count and
// a byte budget (the oldest are dropped for room). Not safe for concurrent
// use: its owner's lock guards it.
type resendBuf struct {
	frames    []sentFrame // frames[head:] are kept, with consecutive seqs
	head      int
	bytes     int
	maxFrames int
	maxBytes  int
	sent      uint64 // the last seq added
	acked     uint64 // the highest seq the peer acknowledged
	evicted   uint64 // the highest unacknowledged seq dropped for room (0: none)
	// The last resend: from which seq, and when (rate limit).
	lastFrom uint64
	lastAt   time.Time
	free     [][]byte // storage of trimmed frames, for reuse
}

// maxFree bounds the storage a resendBuf keeps for reuse.
const maxFree = 16

func newResendBuf(frames, bytes int) resendBuf {
	return resendBuf{maxFrames: frames, maxBytes: bytes}
}

// reset empties the buffer for a new session.
func (b *resendBuf) reset() {
	for b.len() > 0 {
		b.pop()
	}
	*b = resendBuf{maxFrames: b.maxFrames, maxBytes: b.maxBytes, frames: b.frames[:0], free: b.free}
}

func (b *resendBuf) len() int { return len(b.frames) - b.head }

// keep copies data (a frame just encoded, whose storage is reused) into
// storage of the buffer's own and returns it, to be added with add.
func (b *resendBuf) keep(data []byte) []byte {
	for i := len(b.free) - 1; i >= 0; i-- {
		if cap(b.free[i]) >= len(data) {
			p := append(b.free[i][:0], data...)
			b.free[i] = b.free[len(b.free)-1]
			b.free[len(b.free)-1] = nil
			b.free = b.free[:len(b.free)-1]
			return p
		}
	}
	return append([]byte(nil), data...)
}

// add keeps frame seq (the next one: sent+1), dropping the oldest frames
// while over the budget (the frame just added too, if it alone is over).
func (b *resendBuf) add(seq uint64, data []byte) {
	b.sent = seq
	b.frames = append(b.frames, sentFrame{seq: seq, data: data})
	b.bytes += len(data)
	for b.len() > 0 && (b.len() > b.maxFrames || b.bytes > b.maxBytes) {
		if s := b.frames[b.head].seq; s > b.acked {
			b.evicted = s
		}
		b.pop()
	}
}

// has reports whether frame seq is kept.
func (b *resendBuf) has(seq uint64) bool {
	return b.len() > 0 && b.frames[b.head].seq <= seq && seq <= b.sent
}

// pop drops the oldest frame kept.
func (b *resendBuf) pop() {
	f := &b.frames[b.head]
	b.bytes -= len(f.data)
	if len(b.free) < maxFree && cap(f.data) <= keepBuf {
		b.free = append(b.free, f.data)
	}
	*f = sentFrame{}
	b.head++
	switch {
	case b.head == len(b.frames):
		b.frames, b.head = b.frames[:0], 0
	case b.head >= 64 && 2*b.head >= len(b.frames):
		n := copy(b.frames, b.frames[b.head:])
		clear(b.frames[n:])
		b.frames, b.head = b.frames[:n], 0
	}
}

// ack notes that the peer received every frame up to n, and drops them.
// It refuses an n beyond what was sent (an error naming both).
func (b *resendBuf) ack(n uint64) error {
	if n > b.sent {
		return fmt.Errorf("acknowledges frame %d, only %d sent", n, b.sent)
	}
	if n <= b.acked {
		return nil
	}
	b.acked = n
	for b.len() > 0 && b.frames[b.head].seq <= n {
		b.pop()
	}
	return nil
}

// nackVerdict is what a resend request (a Nack) calls for.
type nackVerdict int

const (
	nackResend   nackVerdict = iota // send the frames returned again
	nackBogus                       // drop the request, with a log line (the error says why)
	nackOverflow                    // the frames are no longer kept: the session ends
	nackTooSoon                     // the same request again, just after it was served: ignore it
)

// since answers a request to send the frames from seq on again, at now:
// the frames to send (in order), or why not. The request acknowledges
// every frame before from. The same request is served at most once per
// every (a peer repeats a request when what was sent again was lost too).
func (b *resendBuf) since(from uint64, now time.Time, every time.Duration) ([]sentFrame, nackVerdict, error) {
	switch {
	case from == 0 || from > b.sent+1:
		return nil, nackBogus, fmt.Errorf("asks for frames from %d on, only %d sent", from, b.sent)
	case from <= b.acked:
		return nil, nackBogus, fmt.Errorf("asks for frames from %d on, but acknowledged %d already", from, b.acked)
	}
	if err := b.ack(from - 1); err != nil {
		return nil, nackBogus, err
	}
	if from == b.sent+1 {
		return nil, nackResend, nil // nothing missing after all
	}
	if !b.has(from) {
		return nil, nackOverflow, fmt.Errorf("asks for frames from %d on, no longer kept (the resend buffer overflowed: frames up to %d were dropped for room)", from, b.evicted)
	}
	if from == b.lastFrom && now.Sub(b.lastAt) < every {
		return nil, nackTooSoon, fmt.Errorf("asks again for frames from %d on, %v after they were sent again", from, now.Sub(b.lastAt))
	}
	b.lastFrom, b.lastAt = from, now
	return b.frames[b.head+int(from-b.frames[b.head].seq):], nackResend, nil
}

// gapState is a receiver's view of the frames it misses: the peer said
// (by a later frame, a heartbeat or a sync) that it sent frames up to
// peerSent, and they have not all arrived.
type gapState struct {
	since    time.Time // when the gap was found, or last narrowed (zero: no gap)
	peerSent uint64
	nackFrom uint64 // the last Nack sent: from which seq, and when
	nackAt   time.Time
}

// open notes that the peer sent up to peerSent while recv arrived in
// sequence, and reports whether a Nack (for recv+1) is due now: at once
// for a new gap, then at most once per every.
func (g *gapState) open(recv, peerSent uint64, now time.Time, every time.Duration) bool {
	if peerSent <= recv {
		return false
	}
	if peerSent > g.peerSent {
		g.peerSent = peerSent
	}
	if g.since.IsZero() {
		g.since = now
	}
	return g.due(recv, now, every)
}

// due reports whether a Nack for recv+1 is due now, and if so notes it
// as sent.
func (g *gapState) due(recv uint64, now time.Time, every time.Duration) bool {
	if g.since.IsZero() || (g.nackFrom == recv+1 && now.Sub(g.nackAt) < every) {
		return false
	}
	g.nackFrom, g.nackAt = recv+1, now
	return true
}

// progress notes that frames up to recv arrived in sequence: the gap is
// closed, or narrower (its time limit starts again).
func (g *gapState) progress(recv uint64, now time.Time) {
	switch {
	case g.since.IsZero():
	case recv >= g.peerSent:
		g.since = time.Time{}
	default:
		g.since = now
	}
}

// expired reports whether the gap has lasted over limit, not counting
// time before notBefore (when the end's own connection came back).
func (g *gapState) expired(now, notBefore time.Time, limit time.Duration) bool {
	if g.since.IsZero() {
		return false
	}
	from := g.since
	if notBefore.After(from) {
		from = notBefore
	}
	return now.Sub(from) > limit
}

// dropHook, when set (by tests, through export_test.go), is asked about
// each frame an end publishes, and drops those it returns true for: the
// fault injection of the package's tests.
type dropHook func(subject string, data []byte) bool

// publish publishes data to subject on nc, unless hook drops it.
func publish(nc *nats.Conn, hook *atomic.Pointer[dropHook], subject string, data []byte) error {
	if h := hook.Load(); h != nil && (*h)(subject, data) {
		return nil
	}
	return nc.Publish(subject, data)
}
