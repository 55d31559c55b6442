package natstransport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/wire"
)

// EngineEnd is an engine's side of the NATS transport. It is safe for
// concurrent use.
type EngineEnd struct {
	nc      *nats.Conn
	cfg     *config
	key     string
	out     string // subject to the controller
	sub     *nats.Subscription
	status  chan nats.Status
	stats   stats
	logs    logLimit
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	wake    chan struct{} // one slot: inbox has messages, or closed
	closeCh chan struct{}
	// drop is the tests' fault injection (see dropHook).
	drop atomic.Pointer[dropHook]

	// mu guards what follows and orders the publishes (sequence numbers).
	mu       sync.Mutex
	closed   error // non-nil once closed: the error Recv and Send return
	session  uint64
	sendSeq  uint64
	recvSeq  uint64
	active   bool // the session's Register was sent: heartbeats run
	left     bool // Bye was sent (and no Register since): a reset does not register again
	reg      *transport.Register
	inbox    []transport.ToEngine
	attempts map[transport.AttemptID]struct{} // handed to Recv, no Outcome sent yet
	calls    map[transport.CallID]struct{}    // handed to Recv, no Reply sent yet
	// Attempts and calls of sessions that were reset: their Outcome and
	// Reply are dropped (the controller retried them already).
	orphanAttempts map[transport.AttemptID]struct{}
	orphanCalls    map[transport.CallID]struct{}
	buf            bytes.Buffer
	sent           resendBuf // frames to the controller not acknowledged yet
	gap            gapState  // controller frames missing
	// reconnectedAt is when the connection last came back: a gap's time
	// limit does not count from before it.
	reconnectedAt time.Time
}

// NewEngineEnd returns the end of engine cfg.Key over nc, subscribed to
// its subject. ctx bounds the round trip that makes sure the server has
// the subscription. The engine becomes known to the controller with the
// first Register it sends. The end does not own nc.
func NewEngineEnd(ctx context.Context, nc *nats.Conn, cfg *Config) (*EngineEnd, error) {
	r, err := resolve("new engine end", nc, cfg, true)
	if err != nil {
		return nil, err
	}
	e := &EngineEnd{
		nc: nc, cfg: r, key: r.key, out: controllerSubject(r.prefix, r.key),
		stop: make(chan struct{}), wake: make(chan struct{}, 1), closeCh: make(chan struct{}),
		session:  newSession(),
		attempts: make(map[transport.AttemptID]struct{}), calls: make(map[transport.CallID]struct{}),
		orphanAttempts: make(map[transport.AttemptID]struct{}), orphanCalls: make(map[transport.CallID]struct{}),
		sent: newResendBuf(r.resendFrames, r.resendBytes),
	}
	in := engineSubject(r.prefix, r.key)
	e.sub, err = nc.Subscribe(in, e.handle)
	if err != nil {
		return nil, fmt.Errorf("natstransport: new engine end %q: subscribe to %s: %w", r.key, in, err)
	}
	if err := flush(ctx, nc); err != nil {
		_ = e.sub.Unsubscribe()
		return nil, fmt.Errorf("natstransport: new engine end %q: flush subscription: %w", r.key, err)
	}
	e.status = nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
	e.wg.Go(e.heartbeat)
	return e, nil
}

// newSession returns a random non-zero session id.
func newSession() uint64 {
	for {
		if id := rand.Uint64(); id != 0 {
			return id
		}
	}
}

// Addr returns the engine's key.
func (e *EngineEnd) Addr() string { return e.key }

// Stats returns the end's counters.
func (e *EngineEnd) Stats() Stats { return e.stats.snapshot() }

func (e *EngineEnd) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Recv returns the messages received so far (waiting for at least one).
func (e *EngineEnd) Recv(ctx context.Context) ([]transport.ToEngine, error) {
	for {
		e.mu.Lock()
		if e.closed != nil {
			err := e.closed
			e.mu.Unlock()
			return nil, fmt.Errorf("natstransport: engine %s recv: %w", e.key, err)
		}
		if len(e.inbox) > 0 {
			m := e.inbox
			e.inbox = nil
			for i := range m {
				switch {
				case m[i].Assign != nil:
					e.attempts[m[i].Assign.Attempt] = struct{}{}
				case m[i].Call != nil:
					e.calls[m[i].Call.ID] = struct{}{}
				}
			}
			e.mu.Unlock()
			return m, nil
		}
		e.mu.Unlock()
		select {
		case <-e.wake:
		case <-e.closeCh:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Send publishes msgs to the controller, in as few frames as fit.
func (e *EngineEnd) Send(ctx context.Context, msgs ...transport.FromEngine) error {
	if len(msgs) == 0 {
		return fmt.Errorf("natstransport: engine %s send: %w", e.key, transport.ErrEmptySend)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("natstransport: engine %s send: %w", e.key, err)
	}
	for i := range msgs {
		if msgs[i].Lost != nil {
			return fmt.Errorf("natstransport: engine %s send: message %d: Lost is reserved to the transport", e.key, i)
		}
		if n := wire.CountFrom(&msgs[i]); n != 1 {
			return fmt.Errorf("natstransport: engine %s send: message %d has %d fields set, want exactly 1", e.key, i, n)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed != nil {
		return fmt.Errorf("natstransport: engine %s send: %w", e.key, e.closed)
	}
	if msgs[0].Register != nil && !e.active {
		// A registration starts a session; a fresh one unless this one
		// is unused.
		if e.sendSeq > 0 || e.recvSeq > 0 {
			e.newSessionLocked()
		}
		e.active = true
	}
	msgs = e.filterLocked(msgs)
	if len(msgs) == 0 {
		return nil
	}
	e.buf.Reset()
	f := wire.EngineFrame{Kind: wire.Data, Session: e.session, Seq: e.sendSeq + 1, Ack: e.recvSeq, Msgs: msgs}
	err := e.cfg.codec.AppendEngineFrame(&e.buf, &f)
	switch {
	case err == nil:
		err = e.publishLocked(len(msgs))
	case errors.Is(err, wire.ErrTooLarge):
		err = e.sendSplitLocked(msgs)
	default:
		return fmt.Errorf("natstransport: engine %s send: %w", e.key, err)
	}
	e.trackLocked(msgs)
	return err
}

// filterLocked drops the Outcomes and Replies that belong to sessions
// reset since (the controller gave up on them), and the attempts of such
// sessions from a Bye. It copies msgs before changing anything.
func (e *EngineEnd) filterLocked(msgs []transport.FromEngine) []transport.FromEngine {
	if len(e.orphanAttempts) == 0 && len(e.orphanCalls) == 0 {
		return msgs
	}
	out := make([]transport.FromEngine, 0, len(msgs))
	for _, m := range msgs {
		switch {
		case m.Outcome != nil:
			if _, ok := e.orphanAttempts[m.Outcome.Attempt]; ok {
				delete(e.orphanAttempts, m.Outcome.Attempt)
				continue
			}
		case m.Reply != nil:
			if _, ok := e.orphanCalls[m.Reply.ID]; ok {
				delete(e.orphanCalls, m.Reply.ID)
				continue
			}
		case m.Bye != nil && len(m.Bye.Unstarted) > 0:
			b := *m.Bye
			b.Unstarted = nil
			for _, a := range m.Bye.Unstarted {
				if _, ok := e.orphanAttempts[a]; ok {
					delete(e.orphanAttempts, a)
					continue
				}
				b.Unstarted = append(b.Unstarted, a)
			}
			m.Bye = &b
		}
		out = append(out, m)
	}
	return out
}

// trackLocked notes what msgs (sent) change in the end's state: attempts
// and calls answered, the registration and properties to send again after
// a reset, the goodbye.
func (e *EngineEnd) trackLocked(msgs []transport.FromEngine) {
	for i := range msgs {
		m := &msgs[i]
		var props *transport.Props
		switch {
		case m.Register != nil:
			r := *m.Register
			e.reg = &r
			e.left = false
		case m.Outcome != nil:
			delete(e.attempts, m.Outcome.Attempt)
			props = m.Outcome.Props
		case m.Reply != nil:
			delete(e.calls, m.Reply.ID)
			props = m.Reply.Props
		case m.Props != nil:
			props = m.Props
		case m.Bye != nil:
			e.left = true
			for _, a := range m.Bye.Unstarted {
				delete(e.attempts, a)
			}
		}
		if props != nil && e.reg != nil {
			r := *e.reg
			r.Properties = props.Properties
			e.reg = &r
		}
	}
}

// publishLocked sends the data frame in e.buf and keeps it for sending
// again. The sequence number counts it even if the publish fails: the
// controller then sees a gap and asks for the frame again (or, if it is
// not kept, resets the session), rather than wait for messages that
// never come. A failed publish of a frame kept is not an error.
func (e *EngineEnd) publishLocked(n int) error {
	defer shrink(&e.buf)
	data := e.sent.keep(e.buf.Bytes())
	e.sendSeq++
	e.sent.add(e.sendSeq, data)
	e.stats.framesOut.Add(1)
	e.stats.msgsOut.Add(uint64(n))
	if err := publish(e.nc, &e.drop, e.out, data); err != nil {
		e.stats.sendErrors.Add(1)
		if e.sent.has(e.sendSeq) {
			e.cfg.log.Debug("natstransport: publish failed; the frame is kept to be sent again", "key", e.key, "seq", e.sendSeq, "err", err)
			return nil
		}
		return fmt.Errorf("natstransport: engine %s send: publish: %w", e.key, err)
	}
	return nil
}

// resendLocked answers the controller's request (a Nack) to send the
// frames from from on again: they go again, in order, before any later
// frame; a request for frames no longer kept abandons the session (see
// resetLocked); a request for frames never sent, or already acknowledged,
// or repeated too soon, is dropped with a log line.
func (e *EngineEnd) resendLocked(from uint64) {
	frames, verdict, err := e.sent.since(from, time.Now(), e.cfg.nackEvery/2)
	switch verdict {
	case nackBogus:
		e.stats.dropped.Add(1)
		e.logs.drop(e.cfg.log, "natstransport: engine dropped a resend request (nack)", "key", e.key, "session", e.session, "err", err)
		return
	case nackTooSoon:
		e.cfg.log.Debug("natstransport: ignored a resend request repeated too soon", "key", e.key, "err", err)
		return
	case nackOverflow:
		e.resetLocked("frames to the controller lost: the controller " + err.Error())
		return
	}
	for _, f := range frames {
		if err := publish(e.nc, &e.drop, e.out, f.data); err != nil {
			e.stats.sendErrors.Add(1)
			e.cfg.log.Debug("natstransport: publish failed while sending frames again", "key", e.key, "seq", f.seq, "err", err)
			return // the controller asks again
		}
		e.stats.resent.Add(1)
	}
	if len(frames) > 0 {
		e.cfg.log.Debug("natstransport: frames sent again", "key", e.key, "from", from, "count", len(frames))
	}
}

// ackLocked notes the controller's acknowledgement of the frames up to n.
func (e *EngineEnd) ackLocked(n uint64, kind wire.FrameKind) {
	if err := e.sent.ack(n); err != nil {
		e.stats.dropped.Add(1)
		e.logs.drop(e.cfg.log, "natstransport: engine ignored a bogus acknowledgement", "key", e.key, "kind", kind, "err", err)
	}
}

// gapLocked notes that the controller sent frames up to peerSent, and
// asks for the missing ones (rate-limited).
func (e *EngineEnd) gapLocked(peerSent uint64) {
	if e.gap.open(e.recvSeq, peerSent, time.Now(), e.cfg.nackEvery) {
		e.cfg.log.Debug("natstransport: frames from the controller missing; asking for them again", "key", e.key,
			"from", e.recvSeq+1, "sent", peerSent)
		e.sendNackLocked()
	}
}

// sendNackLocked asks the controller for its frames from the first one
// missing on.
func (e *EngineEnd) sendNackLocked() {
	e.stats.nacks.Add(1)
	e.sendControlLocked(wire.Nack)
}

// sendSplitLocked sends a batch too large for one frame: runs that fit go
// in frames of their own; an Outcome or Reply too large even alone is
// replaced by one that fails with an error naming its size (so the task
// fails, and the engine keeps serving); any other message too large is an
// error.
func (e *EngineEnd) sendSplitLocked(msgs []transport.FromEngine) error {
	p, err := split(msgs, e.cfg.maxSize, e.cfg.codec.EncodeFromEngine)
	if err != nil {
		return fmt.Errorf("natstransport: engine %s send: %w", e.key, err)
	}
	var bigs []string
	if len(p.big) > 0 {
		msgs = append([]transport.FromEngine(nil), msgs...) // the caller's slice is not changed
	}
	replaced := 0
	for _, i := range p.big {
		m := &msgs[i]
		e.stats.tooLarge.Add(1)
		switch {
		case m.Outcome != nil:
			o := *m.Outcome
			te := tooLargeError(fmt.Sprintf("the result of task %d (attempt %d)", o.TaskID, o.Attempt), p.sizes[i], e.cfg.maxSize)
			te.TaskID = o.TaskID
			o.Value, o.Err = nil, te
			m.Outcome = &o
			replaced++
			e.cfg.log.Warn("natstransport: outcome too large, sent as a failure", "key", e.key, "attempt", o.Attempt, "bytes", p.sizes[i], "limit", e.cfg.maxSize)
		case m.Reply != nil:
			r := *m.Reply
			r.Value, r.Err = nil, tooLargeError(fmt.Sprintf("the reply to call %d", r.ID), p.sizes[i], e.cfg.maxSize)
			m.Reply = &r
			replaced++
			e.cfg.log.Warn("natstransport: reply too large, sent as a failure", "key", e.key, "call", r.ID, "bytes", p.sizes[i], "limit", e.cfg.maxSize)
		default:
			bigs = append(bigs, fmt.Sprintf("message %d is %d bytes", i, p.sizes[i]))
		}
	}
	if replaced > 0 {
		// Measure again: the replacements are small.
		if p, err = split(msgs, e.cfg.maxSize, e.cfg.codec.EncodeFromEngine); err != nil {
			return fmt.Errorf("natstransport: engine %s send: %w", e.key, err)
		}
	}
	for _, run := range p.runs {
		e.buf.Reset()
		f := wire.EngineFrame{Kind: wire.Data, Session: e.session, Seq: e.sendSeq + 1, Ack: e.recvSeq, Msgs: msgs[run[0]:run[1]]}
		if err := e.cfg.codec.AppendEngineFrame(&e.buf, &f); err != nil {
			return fmt.Errorf("natstransport: engine %s send: %w", e.key, err)
		}
		if err := e.publishLocked(run[1] - run[0]); err != nil {
			return err
		}
	}
	if len(bigs) > 0 {
		return fmt.Errorf("natstransport: engine %s send: %s, over the limit of %d bytes per NATS message: %w",
			e.key, strings.Join(bigs, "; "), e.cfg.maxSize, ErrTooLarge)
	}
	return nil
}

// sendControlLocked publishes a frame without messages (Heartbeat, Close,
// Nack).
func (e *EngineEnd) sendControlLocked(kind wire.FrameKind) {
	var buf bytes.Buffer
	f := wire.EngineFrame{Kind: kind, Session: e.session, Seq: e.sendSeq, Ack: e.recvSeq}
	if kind == wire.Nack {
		f.Seq = e.recvSeq + 1
	}
	if err := e.cfg.codec.AppendEngineFrame(&buf, &f); err != nil {
		e.cfg.log.Error("natstransport: encode control frame", "kind", kind, "err", err)
		return
	}
	if err := publish(e.nc, &e.drop, e.out, buf.Bytes()); err != nil {
		e.stats.sendErrors.Add(1)
		e.cfg.log.Debug("natstransport: publish control frame", "key", e.key, "kind", kind, "err", err)
		return
	}
	if kind == wire.Heartbeat {
		e.stats.heartbeats.Add(1)
	}
}

// newSessionLocked starts a new session: new id, counters from zero,
// nothing kept to send again, nothing missing.
func (e *EngineEnd) newSessionLocked() {
	e.session = newSession()
	e.sendSeq, e.recvSeq = 0, 0
	e.active = false
	e.sent.reset()
	e.gap = gapState{}
}

// resetLocked abandons the session (the controller lost it, or frames
// were lost) and registers again in a new one, unless the engine said
// goodbye. The attempts the engine holds from the old session are
// cancelled (the controller has retried them elsewhere): Cancel messages
// are queued for Recv, and their Outcomes, like the Replies to the old
// session's calls, are dropped when sent.
func (e *EngineEnd) resetLocked(reason string) {
	e.stats.resets.Add(1)
	e.cfg.log.Info("natstransport: engine session reset", "key", e.key, "session", e.session, "reason", reason)
	e.inbox = e.inbox[:0]
	for a := range e.attempts {
		e.orphanAttempts[a] = struct{}{}
		e.inbox = append(e.inbox, transport.ToEngine{Cancel: &transport.Cancel{
			Attempt: a, Kind: drovertype.EngineLost,
			Message: "the engine's session with the controller was reset (" + reason + "); the attempt was retried elsewhere",
		}})
	}
	clear(e.attempts)
	for id := range e.calls {
		e.orphanCalls[id] = struct{}{}
	}
	clear(e.calls)
	e.newSessionLocked()
	if e.reg != nil && !e.left {
		e.buf.Reset()
		f := wire.EngineFrame{Kind: wire.Data, Session: e.session, Seq: 1, Msgs: []transport.FromEngine{{Register: e.reg}}}
		if err := e.cfg.codec.AppendEngineFrame(&e.buf, &f); err != nil {
			e.cfg.log.Error("natstransport: encode registration", "key", e.key, "err", err)
		} else {
			e.active = true
			_ = e.publishLocked(1)
		}
	}
	if len(e.inbox) > 0 {
		e.signal()
	}
}

// handle receives one controller frame (called by the subscription's
// goroutine, one frame at a time).
func (e *EngineEnd) handle(m *nats.Msg) {
	f, err := e.cfg.codec.DecodeControllerFrame(m.Data)
	if err != nil {
		e.stats.dropped.Add(1)
		e.logs.drop(e.cfg.log, "natstransport: engine dropped a malformed frame", "key", e.key, "bytes", len(m.Data), "err", err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed != nil {
		return
	}
	if f.Session != e.session && !(f.Kind == wire.Closed && f.Session == 0) {
		e.stats.dropped.Add(1) // a frame of an old session
		if f.Kind == wire.Nack {
			e.logs.drop(e.cfg.log, "natstransport: engine dropped a resend request (nack) of another session", "key", e.key,
				"session", f.Session, "current", e.session)
		}
		return
	}
	if f.Kind == wire.Data || f.Kind == wire.Sync || f.Kind == wire.Nack {
		// They acknowledge the engine's frames up to Ack.
		e.ackLocked(f.Ack, f.Kind)
	}
	switch f.Kind {
	case wire.Closed:
		e.closeLocked(fmt.Errorf("controller end closed: %w", transport.ErrClosed))
	case wire.Reset:
		if !e.left {
			e.resetLocked("controller: " + f.Reason)
		}
	case wire.Sync:
		e.gapLocked(f.Seq)
	case wire.Nack:
		e.resendLocked(f.Seq)
	case wire.Data:
		switch {
		case f.Seq <= e.recvSeq:
			e.stats.dropped.Add(1) // a duplicate (sent again)
		case f.Seq > e.recvSeq+1:
			// Frames before it were lost: drop it (they are all sent
			// again, in order) and ask for them.
			e.stats.dropped.Add(1)
			e.gapLocked(f.Seq)
		default:
			e.recvSeq = f.Seq
			e.gap.progress(f.Seq, time.Now())
			e.inbox = append(e.inbox, f.Msgs...)
			e.stats.framesIn.Add(1)
			e.stats.msgsIn.Add(uint64(len(f.Msgs)))
			e.signal()
		}
	}
}

// heartbeat is the end's timer goroutine: a heartbeat every interval while
// registered, and one at once when the connection comes back.
func (e *EngineEnd) heartbeat() {
	tick := time.NewTicker(e.cfg.interval)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case st := <-e.status:
			if st == nats.CLOSED {
				e.mu.Lock()
				e.closeLocked(fmt.Errorf("NATS connection closed: %w", transport.ErrClosed))
				e.mu.Unlock()
				continue
			}
			e.stats.reconnected.Add(1)
			e.mu.Lock()
			e.reconnectedAt = time.Now()
			e.mu.Unlock()
		case <-tick.C:
		}
		e.mu.Lock()
		if e.closed == nil && e.active {
			e.sendControlLocked(wire.Heartbeat)
			now := time.Now()
			switch {
			case e.gap.expired(now, e.reconnectedAt, e.cfg.gapLimit):
				e.resetLocked(fmt.Sprintf("frames from the controller lost (it sent %d, %d arrived) and not sent again within %v",
					e.gap.peerSent, e.recvSeq, e.cfg.gapLimit))
			case e.gap.due(e.recvSeq, now, e.cfg.nackEvery):
				e.sendNackLocked()
			}
		}
		e.mu.Unlock()
	}
}

// closeLocked closes the end with err (what Recv and Send return).
func (e *EngineEnd) closeLocked(err error) {
	if e.closed != nil {
		return
	}
	e.closed = err
	e.inbox = nil
	close(e.closeCh)
}

// Close leaves: the controller is told (a Close frame after every frame
// sent before) and reports the engine lost; Recv and Send fail with
// transport.ErrClosed. It does not close the NATS connection.
func (e *EngineEnd) Close() error {
	e.once.Do(func() {
		e.mu.Lock()
		if e.closed == nil && e.active {
			e.sendControlLocked(wire.Close)
		}
		e.closeLocked(transport.ErrClosed)
		e.mu.Unlock()
		_ = e.sub.Unsubscribe()
		close(e.stop)
		e.wg.Wait()
		e.nc.RemoveStatusListener(e.status)
	})
	return nil
}

var _ transport.EngineEnd = (*EngineEnd)(nil)
