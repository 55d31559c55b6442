package natstransport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/wire"
)

// ErrTooLarge is wrapped by the error of a Send some of whose messages do
// not fit in one NATS message (see the package doc).
var ErrTooLarge = wire.ErrTooLarge

// ControllerEnd is the controller's side of the NATS transport. It is safe
// for concurrent use.
type ControllerEnd struct {
	nc     *nats.Conn
	cfg    *config
	sub    *nats.Subscription
	status chan nats.Status
	stats  stats
	logs   logLimit
	// ctlPrefix is the subject prefix of engine frames, "P.ctl.eng.".
	ctlPrefix string
	// drop is the tests' fault injection (see dropHook).
	drop atomic.Pointer[dropHook]

	mu       sync.Mutex
	sessions map[string]*ctlSession // by engine key
	inbox    []transport.FromEngine
	closed   bool
	// reconnectedAt is when the connection last came back (or the end
	// started): loss is not counted from before it.
	reconnectedAt time.Time
	connected     bool

	wake     chan struct{} // one slot: inbox has messages
	closedCh chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
}

// ctlSession is the controller's view of one engine's session.
type ctlSession struct {
	key     string
	id      uint64
	subject string
	gone    atomic.Bool

	// Guarded by ControllerEnd.mu:
	lastSeen time.Time
	gap      gapState // engine frames missing

	recvSeq atomic.Uint64 // the last engine frame received in sequence; written under ControllerEnd.mu
	peerAck atomic.Uint64 // the highest Ack from the engine (not beyond sendSeq)
	ackSent atomic.Uint64 // the highest Ack sent to the engine

	// mu orders sequence numbers and publishes to the engine; it is never
	// acquired while ControllerEnd.mu is held.
	mu      sync.Mutex
	sendSeq atomic.Uint64 // written under mu; read anywhere
	buf     bytes.Buffer
	sent    resendBuf // frames to the engine not acknowledged yet
}

// noteAck raises s.peerAck to n (an acknowledgement from the engine).
func (s *ctlSession) noteAck(n uint64) {
	for {
		old := s.peerAck.Load()
		if n <= old || s.peerAck.CompareAndSwap(old, n) {
			return
		}
	}
}

// noteAckSent raises s.ackSent to n.
func (s *ctlSession) noteAckSent(n uint64) {
	for {
		old := s.ackSent.Load()
		if n <= old || s.ackSent.CompareAndSwap(old, n) {
			return
		}
	}
}

// NewControllerEnd returns the controller end of a transport over nc,
// subscribed to every engine of cfg.Prefix. ctx bounds the round trip
// that makes sure the server has the subscription. The end does not own
// nc: its owner closes it after the end.
func NewControllerEnd(ctx context.Context, nc *nats.Conn, cfg *Config) (*ControllerEnd, error) {
	r, err := resolve("new controller end", nc, cfg, false)
	if err != nil {
		return nil, err
	}
	c := &ControllerEnd{
		nc: nc, cfg: r, ctlPrefix: r.prefix + ".ctl.eng.",
		sessions: make(map[string]*ctlSession), wake: make(chan struct{}, 1),
		closedCh: make(chan struct{}), stop: make(chan struct{}),
		reconnectedAt: time.Now(), connected: true,
	}
	c.sub, err = nc.Subscribe(c.ctlPrefix+"*", c.handle)
	if err != nil {
		return nil, fmt.Errorf("natstransport: new controller end: subscribe to %s*: %w", c.ctlPrefix, err)
	}
	if err := flush(ctx, nc); err != nil {
		_ = c.sub.Unsubscribe()
		return nil, fmt.Errorf("natstransport: new controller end: flush subscription: %w", err)
	}
	c.status = nc.StatusChanged(nats.CONNECTED, nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED)
	c.wg.Go(c.watch)
	return c, nil
}

// Stats returns the end's counters.
func (c *ControllerEnd) Stats() Stats { return c.stats.snapshot() }

func (c *ControllerEnd) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *ControllerEnd) errClosed(op string) error {
	return fmt.Errorf("natstransport: controller %s: %w", op, transport.ErrClosed)
}

// Recv returns the messages received so far (waiting for at least one).
func (c *ControllerEnd) Recv(ctx context.Context) ([]transport.FromEngine, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, c.errClosed("recv")
		}
		if len(c.inbox) > 0 {
			m := c.inbox
			c.inbox = nil
			c.mu.Unlock()
			return m, nil
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-c.closedCh:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Send publishes msgs to the engine at addr, in as few frames as fit.
func (c *ControllerEnd) Send(ctx context.Context, addr string, msgs ...transport.ToEngine) error {
	if len(msgs) == 0 {
		return fmt.Errorf("natstransport: send to %q: %w", addr, transport.ErrEmptySend)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("natstransport: send to %q: %w", addr, err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("natstransport: send to %q: %w", addr, transport.ErrClosed)
	}
	s := c.sessions[addr]
	c.mu.Unlock()
	if s == nil {
		return fmt.Errorf("natstransport: send to %q: %w", addr, transport.ErrUnknownAddr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone.Load() {
		return fmt.Errorf("natstransport: send to %q: %w", addr, transport.ErrUnknownAddr)
	}
	c.trimLocked(s)
	s.buf.Reset()
	f := wire.ControllerFrame{Kind: wire.Data, Session: s.id, Seq: s.sendSeq.Load() + 1, Ack: s.recvSeq.Load(), Msgs: msgs}
	err := c.cfg.codec.AppendControllerFrame(&s.buf, &f)
	switch {
	case err == nil:
		return c.publish(s, len(msgs), f.Ack)
	case !errors.Is(err, wire.ErrTooLarge):
		return fmt.Errorf("natstransport: send to %q: %w", addr, err)
	}
	return c.sendSplit(s, msgs)
}

// publish sends the data frame in s.buf (s.mu held; ack is its Ack),
// keeps it for sending again, and counts it. A failed publish of a frame
// kept is as if the frame were lost on the way: the engine asks for it
// again. A failed publish of a frame not kept (larger than the resend
// buffer) loses the session: the frame's messages are gone, and only a
// loss makes the controller retry its attempts.
func (c *ControllerEnd) publish(s *ctlSession, n int, ack uint64) error {
	defer shrink(&s.buf)
	data := s.sent.keep(s.buf.Bytes())
	seq := s.sendSeq.Add(1)
	s.sent.add(seq, data)
	s.noteAckSent(ack)
	c.stats.framesOut.Add(1)
	c.stats.msgsOut.Add(uint64(n))
	if err := publish(c.nc, &c.drop, s.subject, data); err != nil {
		c.stats.sendErrors.Add(1)
		if s.sent.has(seq) {
			c.cfg.log.Debug("natstransport: publish failed; the frame is kept to be sent again", "key", s.key, "seq", seq, "err", err)
			return nil
		}
		c.lose(s, "publish failed: "+err.Error(), true)
		return fmt.Errorf("natstransport: send to %q: publish: %w", s.key, err)
	}
	return nil
}

// trimLocked drops the frames the engine acknowledged from the resend
// buffer (s.mu held).
func (c *ControllerEnd) trimLocked(s *ctlSession) {
	if err := s.sent.ack(s.peerAck.Load()); err != nil {
		// Cannot happen: handle checks acknowledgements against sendSeq.
		c.cfg.log.Error("natstransport: acknowledgement", "key", s.key, "err", err)
	}
}

// resend answers the engine's request (a Nack) to send its frames from
// from on again: they go again, in order, before any later frame; a
// request for frames no longer kept loses the session (and resets the
// engine); a request for frames never sent, or already acknowledged, or
// repeated too soon, is dropped with a log line.
func (c *ControllerEnd) resend(s *ctlSession, from uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone.Load() {
		return
	}
	c.trimLocked(s)
	frames, verdict, err := s.sent.since(from, time.Now(), c.cfg.nackEvery/2)
	switch verdict {
	case nackBogus:
		c.stats.dropped.Add(1)
		c.logs.drop(c.cfg.log, "natstransport: dropped a resend request (nack)", "key", s.key, "session", s.id, "err", err)
		return
	case nackTooSoon:
		c.cfg.log.Debug("natstransport: ignored a resend request repeated too soon", "key", s.key, "err", err)
		return
	case nackOverflow:
		c.lose(s, "frames to the engine lost: the engine "+err.Error(), true)
		return
	}
	for _, f := range frames {
		if err := publish(c.nc, &c.drop, s.subject, f.data); err != nil {
			c.stats.sendErrors.Add(1)
			c.cfg.log.Debug("natstransport: publish failed while sending frames again", "key", s.key, "seq", f.seq, "err", err)
			return // the engine asks again
		}
		c.stats.resent.Add(1)
	}
	if len(frames) > 0 {
		c.cfg.log.Debug("natstransport: frames sent again", "key", s.key, "from", from, "count", len(frames))
	}
}

// sendSplit sends a batch too large for one frame (s.mu held): runs that
// fit go in frames of their own; an Assign or Call too large even alone is
// answered at once, here, by a failed Outcome or Reply naming its size; any
// other message too large loses the engine.
func (c *ControllerEnd) sendSplit(s *ctlSession, msgs []transport.ToEngine) error {
	p, err := split(msgs, c.cfg.maxSize, c.cfg.codec.EncodeToEngine)
	if err != nil {
		return fmt.Errorf("natstransport: send to %q: %w", s.key, err)
	}
	var (
		bigs   []string
		answer []transport.FromEngine
		fatal  bool
	)
	for _, i := range p.big {
		m := &msgs[i]
		c.stats.tooLarge.Add(1)
		switch {
		case m.Assign != nil:
			what := fmt.Sprintf("task %d (attempt %d)", m.Assign.TaskID, m.Assign.Attempt)
			te := tooLargeError(what, p.sizes[i], c.cfg.maxSize)
			te.TaskID = m.Assign.TaskID
			answer = append(answer, transport.FromEngine{From: s.key, Outcome: &transport.Outcome{Attempt: m.Assign.Attempt, TaskID: m.Assign.TaskID, Err: te}})
			bigs = append(bigs, fmt.Sprintf("message %d (%s) is %d bytes", i, what, p.sizes[i]))
		case m.Call != nil:
			what := fmt.Sprintf("call %d (%v)", m.Call.ID, m.Call.Op)
			answer = append(answer, transport.FromEngine{From: s.key, Reply: &transport.Reply{ID: m.Call.ID, Err: tooLargeError(what, p.sizes[i], c.cfg.maxSize)}})
			bigs = append(bigs, fmt.Sprintf("message %d (%s) is %d bytes", i, what, p.sizes[i]))
		default:
			fatal = true
			bigs = append(bigs, fmt.Sprintf("message %d is %d bytes", i, p.sizes[i]))
		}
	}
	for _, run := range p.runs {
		s.buf.Reset()
		f := wire.ControllerFrame{Kind: wire.Data, Session: s.id, Seq: s.sendSeq.Load() + 1, Ack: s.recvSeq.Load(), Msgs: msgs[run[0]:run[1]]}
		if err := c.cfg.codec.AppendControllerFrame(&s.buf, &f); err != nil {
			// Cannot happen (the run was measured); lose the engine
			// rather than leave its attempts hanging.
			c.lose(s, "encoding failed: "+err.Error(), true)
			return fmt.Errorf("natstransport: send to %q: %w", s.key, err)
		}
		if err := c.publish(s, run[1]-run[0], f.Ack); err != nil {
			return err
		}
	}
	if fatal {
		c.lose(s, "a message too large to send", true)
	}
	if len(answer) > 0 {
		c.mu.Lock()
		if !c.closed {
			c.inbox = append(c.inbox, answer...)
		}
		c.mu.Unlock()
		c.signal()
	}
	return fmt.Errorf("natstransport: send to %q: %s, over the limit of %d bytes per NATS message: %w",
		s.key, strings.Join(bigs, "; "), c.cfg.maxSize, ErrTooLarge)
}

// sendControl publishes a frame that carries no messages (Sync, Reset,
// Closed) to the engine of s, in order with its data frames.
func (c *ControllerEnd) sendControl(s *ctlSession, kind wire.FrameKind, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.trimLocked(s)
	c.sendControlLocked(s.subject, s, kind, s.id, reason)
}

// sendNack asks the engine of s to send its frames again from the first
// one missing on.
func (c *ControllerEnd) sendNack(s *ctlSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone.Load() {
		return
	}
	c.stats.nacks.Add(1)
	c.sendControlLocked(s.subject, s, wire.Nack, s.id, "", s.recvSeq.Load()+1)
}

// sendControlLocked publishes a control frame for session id to subject
// (s, if not nil, is locked and gives the sequence numbers: Seq is the
// last frame sent, or for a Nack seq[0], and Ack the last received).
func (c *ControllerEnd) sendControlLocked(subject string, s *ctlSession, kind wire.FrameKind, id uint64, reason string, seq ...uint64) {
	f := wire.ControllerFrame{Kind: kind, Session: id, Reason: reason}
	var buf bytes.Buffer
	if s != nil {
		f.Seq = s.sendSeq.Load()
		if len(seq) > 0 {
			f.Seq = seq[0]
		}
		if kind == wire.Sync || kind == wire.Nack {
			f.Ack = s.recvSeq.Load()
			s.noteAckSent(f.Ack)
		}
	}
	if err := c.cfg.codec.AppendControllerFrame(&buf, &f); err != nil {
		c.cfg.log.Error("natstransport: encode control frame", "kind", kind, "err", err)
		return
	}
	if err := publish(c.nc, &c.drop, subject, buf.Bytes()); err != nil {
		c.stats.sendErrors.Add(1)
		c.cfg.log.Debug("natstransport: publish control frame", "subject", subject, "kind", kind, "err", err)
	}
}

// lose forgets the session and queues Lost for its engine (after every
// message of that engine already queued). With reset, the engine is told
// to register again (in case it is alive). The caller holds s.mu (the
// Reset is published in order with the session's data frames).
func (c *ControllerEnd) lose(s *ctlSession, reason string, reset bool) {
	c.mu.Lock()
	ok := c.loseLocked(s, reason)
	c.mu.Unlock()
	if ok {
		c.signal()
		if reset {
			c.stats.resets.Add(1)
			f := wire.ControllerFrame{Kind: wire.Reset, Session: s.id, Reason: reason}
			var buf bytes.Buffer
			if err := c.cfg.codec.AppendControllerFrame(&buf, &f); err == nil {
				_ = publish(c.nc, &c.drop, s.subject, buf.Bytes())
			}
		}
	}
}

// loseLocked is lose without the reset (c.mu held); it reports whether the
// session was still known.
func (c *ControllerEnd) loseLocked(s *ctlSession, reason string) bool {
	if s.gone.Swap(true) || c.closed {
		return false
	}
	if c.sessions[s.key] == s {
		delete(c.sessions, s.key)
	}
	c.inbox = append(c.inbox, transport.FromEngine{From: s.key, Lost: &transport.Lost{Reason: reason}})
	c.stats.lost.Add(1)
	c.cfg.log.Info("natstransport: engine lost", "key", s.key, "session", s.id, "reason", reason)
	return true
}

// handle receives one engine frame (called by the subscription's
// goroutine, one frame at a time, in arrival order).
func (c *ControllerEnd) handle(m *nats.Msg) {
	key, ok := strings.CutPrefix(m.Subject, c.ctlPrefix)
	if !ok || checkKey(key) != nil {
		c.stats.dropped.Add(1)
		c.logs.drop(c.cfg.log, "natstransport: dropped a frame on an unexpected subject", "subject", m.Subject)
		return
	}
	f, err := c.cfg.codec.DecodeEngineFrame(m.Data)
	if err != nil {
		// A known session notices the missing frame by its sequence
		// numbers (next frame or heartbeat) and asks for it again.
		c.stats.dropped.Add(1)
		c.logs.drop(c.cfg.log, "natstransport: dropped a malformed frame", "key", key, "bytes", len(m.Data), "err", err)
		return
	}
	now := time.Now()
	var (
		gone     *ctlSession // lost here
		reset    = true      // tell gone's engine to reset at once
		reason   string
		syncS    *ctlSession // send it a Sync
		nackFrom uint64      // ask the engine for its frames from there on
		resendAt uint64      // the engine asks for frames from there on
		signal   bool
	)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	s := c.sessions[key]
	if s == nil || s.id != f.Session {
		if f.Kind == wire.Data && f.Seq == 1 && f.Session != 0 && len(f.Msgs) > 0 && f.Msgs[0].Register != nil {
			if len(c.inbox) >= c.cfg.backlog {
				// No room: the engine registers again after its next
				// heartbeat (answered by a reset).
				c.mu.Unlock()
				c.stats.dropped.Add(1)
				c.logs.drop(c.cfg.log, "natstransport: dropped a registration: controller backlog full", "key", key)
				return
			}
			// A new session: the engine registers (again).
			if s != nil && c.loseLocked(s, "engine registered again in a new session") {
				signal = true
			}
			s = &ctlSession{key: key, id: f.Session, subject: engineSubject(c.cfg.prefix, key), lastSeen: now,
				sent: newResendBuf(c.cfg.resendFrames, c.cfg.resendBytes)}
			c.sessions[key] = s
		} else {
			c.mu.Unlock()
			c.stats.dropped.Add(1)
			if f.Kind == wire.Close {
				return // a session that ended already, or never was
			}
			c.logs.drop(c.cfg.log, "natstransport: dropped a frame of an unknown engine session (not a registration)",
				"key", key, "session", f.Session, "kind", f.Kind, "seq", f.Seq, "known", s != nil)
			// Tell the engine to register again.
			c.stats.resets.Add(1)
			c.sendControlLocked(engineSubject(c.cfg.prefix, key), nil, wire.Reset, f.Session, "unknown session")
			return
		}
	}
	s.lastSeen = now
	recv := s.recvSeq.Load()
	// Every engine frame acknowledges the controller's frames up to its
	// Ack (a Nack up to the frame before the first it asks for).
	ack := f.Ack
	if f.Kind == wire.Nack && f.Seq > 0 {
		ack = max(ack, f.Seq-1)
	}
	if sent := s.sendSeq.Load(); ack > sent {
		c.stats.dropped.Add(1)
		c.logs.drop(c.cfg.log, "natstransport: ignored an acknowledgement of frames never sent", "key", key,
			"session", f.Session, "kind", f.Kind, "ack", ack, "sent", sent)
	} else {
		s.noteAck(ack)
	}
	switch f.Kind {
	case wire.Data:
		switch {
		case f.Seq <= recv:
			c.stats.dropped.Add(1) // a duplicate (sent again)
		case f.Seq > recv+1:
			// Frames before it were lost: drop it (they are all sent
			// again, in order) and ask for them.
			c.stats.dropped.Add(1)
			if s.gap.open(recv, f.Seq, now, c.cfg.nackEvery) {
				nackFrom = recv + 1
			}
		case len(c.inbox) >= c.cfg.backlog:
			// No reset now: the engine learns it at its next heartbeat
			// (so a full backlog is not met by a storm of registrations).
			reason = fmt.Sprintf("controller backlog full (%d messages not received yet)", len(c.inbox))
			gone, reset = s, false
		default:
			s.recvSeq.Store(f.Seq)
			s.gap.progress(f.Seq, now)
			n := len(c.inbox)
			c.inbox = append(c.inbox, f.Msgs...)
			for i := n; i < len(c.inbox); i++ {
				c.inbox[i].From = key
			}
			c.stats.framesIn.Add(1)
			c.stats.msgsIn.Add(uint64(len(f.Msgs)))
			signal = true
		}
	case wire.Heartbeat:
		c.stats.heartbeats.Add(1)
		switch {
		case f.Seq > recv:
			// Frames from the engine were lost: ask for them.
			if s.gap.open(recv, f.Seq, now, c.cfg.nackEvery) {
				nackFrom = recv + 1
			}
		case f.Seq < recv:
			c.stats.dropped.Add(1)
			c.logs.drop(c.cfg.log, "natstransport: dropped a heartbeat that counts fewer frames than arrived",
				"key", key, "session", f.Session, "seq", f.Seq, "received", recv)
		}
		// Frames to the engine are in flight, or lost (a Sync after them
		// tells the engine which), or the engine's frames are not
		// acknowledged yet (the Sync does).
		if f.Ack < s.sendSeq.Load() || (nackFrom == 0 && f.Seq == recv && recv > s.ackSent.Load()) {
			syncS = s
		}
	case wire.Nack:
		resendAt = f.Seq
	case wire.Close:
		reason = "engine end closed"
		if f.Seq > recv {
			reason += fmt.Sprintf(" (%d of its frames lost)", f.Seq-recv)
		}
		if c.loseLocked(s, reason) {
			signal = true
		}
	}
	if gone != nil {
		if c.loseLocked(gone, reason) {
			signal = true
		} else {
			gone = nil
		}
	}
	c.mu.Unlock()
	if signal {
		c.signal()
	}
	if gone != nil {
		c.stats.dropped.Add(1)
		if reset {
			c.stats.resets.Add(1)
			c.sendControl(gone, wire.Reset, reason)
		}
		return
	}
	if nackFrom != 0 {
		c.cfg.log.Debug("natstransport: frames from the engine missing; asking for them again", "key", key, "from", nackFrom)
		c.sendNack(s)
	}
	if resendAt != 0 || f.Kind == wire.Nack {
		c.resend(s, resendAt)
	}
	switch {
	case syncS != nil:
		c.sendControl(syncS, wire.Sync, "")
	case f.Kind == wire.Heartbeat:
		s.mu.Lock()
		c.trimLocked(s)
		s.mu.Unlock()
	}
}

// watch is the end's timer goroutine: it reports engines that missed
// their heartbeats, and follows the connection's state so that an outage
// of the controller's own connection does not count against engines.
func (c *ControllerEnd) watch() {
	tick := time.NewTicker(c.cfg.interval / 2)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case st := <-c.status:
			if st == nats.CLOSED {
				c.cfg.log.Warn("natstransport: NATS connection closed under the controller end")
				c.markClosed()
				continue
			}
			c.mu.Lock()
			switch st {
			case nats.CONNECTED:
				if !c.connected {
					c.stats.reconnected.Add(1)
				}
				c.connected, c.reconnectedAt = true, time.Now()
			default:
				c.connected = false
			}
			c.mu.Unlock()
		case <-tick.C:
			c.check()
		}
	}
}

// check loses the sessions not heard from for MissedHeartbeats intervals,
// and those whose missing frames did not come in that time; it asks again
// for missing frames (the request, or the frames sent again, may have
// been lost too).
func (c *ControllerEnd) check() {
	now := time.Now()
	limit := time.Duration(c.cfg.missed) * c.cfg.interval
	var (
		lost    []*ctlSession
		reasons []string
		nacks   []*ctlSession
	)
	c.mu.Lock()
	if !c.connected || !c.nc.IsConnected() {
		c.reconnectedAt = now
		c.mu.Unlock()
		return
	}
	silent := fmt.Sprintf("no heartbeat for %v (%d intervals of %v)", limit, c.cfg.missed, c.cfg.interval)
	for _, s := range c.sessions {
		seen := s.lastSeen
		if c.reconnectedAt.After(seen) {
			seen = c.reconnectedAt
		}
		recv := s.recvSeq.Load()
		switch {
		case now.Sub(seen) > limit:
			lost, reasons = append(lost, s), append(reasons, silent)
		case s.gap.expired(now, c.reconnectedAt, c.cfg.gapLimit):
			lost, reasons = append(lost, s), append(reasons, fmt.Sprintf(
				"frames from the engine lost (it sent %d, %d arrived) and not sent again within %v", s.gap.peerSent, recv, c.cfg.gapLimit))
		case s.gap.due(recv, now, c.cfg.nackEvery):
			nacks = append(nacks, s)
		}
	}
	for i, s := range lost {
		if !c.loseLocked(s, reasons[i]) {
			lost[i] = nil
		}
	}
	c.mu.Unlock()
	if len(lost) > 0 {
		c.signal()
	}
	for i, s := range lost {
		if s != nil {
			c.stats.resets.Add(1)
			c.sendControl(s, wire.Reset, reasons[i])
		}
	}
	for _, s := range nacks {
		c.sendNack(s)
	}
}

// Close closes the end: Recv and Send fail with transport.ErrClosed, and
// every engine known is told (a Closed frame) so that its end closes too.
// It does not close the NATS connection (closing the connection first
// closes the end too, without telling the engines).
func (c *ControllerEnd) Close() error {
	c.once.Do(func() {
		for _, s := range c.markClosed() {
			c.sendControl(s, wire.Closed, "controller end closed")
		}
		_ = c.sub.Unsubscribe()
		close(c.stop)
		c.wg.Wait()
		c.nc.RemoveStatusListener(c.status)
	})
	return nil
}

// markClosed closes the end's state and returns the sessions it knew.
func (c *ControllerEnd) markClosed() map[string]*ctlSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	sessions := c.sessions
	c.sessions = make(map[string]*ctlSession)
	c.inbox = nil
	close(c.closedCh)
	for _, s := range sessions {
		s.gone.Store(true)
	}
	return sessions
}

var _ transport.ControllerEnd = (*ControllerEnd)(nil)
