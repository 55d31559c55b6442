package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
)

// ErrServing is returned by Serve when the engine is already serving.
var ErrServing = errors.New("engine: already serving")

// byeTimeout bounds the goodbye messages Serve sends after its ctx ended.
const byeTimeout = 5 * time.Second

// Serve connects the engine to a controller through end and serves it until
// ctx ends or the controller sends Shutdown:
//
//   - it sends Register (name, a copy of the properties, capabilities,
//     window) and takes the id of Registered (re-seeding `id`);
//   - it runs Assign and Call messages one at a time, in arrival order
//     (interleaved with direct calls of the engine's methods), and answers
//     with Outcome and Reply messages, batched when several are ready (an
//     outcome waits at most flushDelay, 500µs, for others to join it while
//     the next attempt runs; a reply does not wait);
//   - Cancel of a queued attempt drops it and answers at once with an
//     Outcome failing with the Cancel's kind; Cancel of the running attempt
//     stops it (Starlark thread cancelled, command's process group killed,
//     Go function's ctx cancelled) and its Outcome fails with that kind;
//   - a property change made by a direct method call is sent as Props,
//     before the next command runs;
//   - on Shutdown or when ctx ends, the running attempt is stopped and
//     reported (EngineLost), and Bye lists the attempts not started.
//
// Serve does not close end (its owner does; the controller then sees the
// engine lost). It returns nil after Shutdown or when ctx ends, and the
// transport's error if end fails. Every goroutine it starts has ended when
// it returns. One Serve at a time: a second one fails with ErrServing.
func (e *Engine) Serve(ctx context.Context, end transport.EngineEnd) error {
	s := &server{e: e, end: end, wake: make(chan struct{}, 1), attempts: make(map[transport.AttemptID]*attempt)}
	if !e.serving.CompareAndSwap(nil, s) {
		return ErrServing
	}
	defer e.serving.Store(nil)
	if err := e.lock(ctx); err != nil {
		return nil
	}
	reg := &transport.Register{
		Name:         e.name,
		Properties:   cloneProps(e.props),
		Capabilities: transport.Capabilities{Commands: e.allowCommands, Functions: append([]string(nil), e.funcNames...)},
		Window:       e.window,
	}
	e.unlock()
	if err := end.Send(ctx, transport.FromEngine{Register: reg}); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("engine: serve: register: %w", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	s.out = newOutbox(end, max(1, e.window/2))
	s.cancelRecv = cancel
	stopFlusher := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.out.flusher(ctx, stopFlusher, s.signal) })
	wg.Go(func() { s.work(ctx, rctx) })
	s.work(ctx, rctx)
	cancel()
	close(stopFlusher)
	wg.Wait()
	return s.goodbye(ctx)
}

// server is the state of one Serve.
type server struct {
	e    *Engine
	end  transport.EngineEnd
	wake chan struct{}

	out        *outbox
	cancelRecv context.CancelFunc // ends the Recv in progress

	mu         sync.Mutex
	queue      []item
	attempts   map[transport.AttemptID]*attempt // queued or running
	running    *attempt
	stop       bool
	shutdown   bool
	recvErr    error
	propsDirty bool
	receiving  bool // a worker is in Recv
	executing  bool // a worker runs a command
}

// item is one queued command.
type item struct {
	at         *attempt
	call       *transport.Call
	registered *transport.Registered
}

// attempt is an assigned attempt, queued or running.
type attempt struct {
	a       *transport.Assign
	dropped bool
	ctx     *attemptCtx // set while running
}

func (s *server) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *server) notifyProps() {
	s.mu.Lock()
	s.propsDirty = true
	s.mu.Unlock()
	s.signal()
}

// cancelCause is the error a Cancel asks for.
func (s *server) cancelCause(c *transport.Cancel, id drovertype.TaskID) *drovertype.TaskError {
	var te *drovertype.TaskError
	switch {
	case (c.Kind == "" || c.Kind == drovertype.TaskAborted) && c.Message == "":
		te = drovertype.NewAborted(id)
	case c.Kind == "":
		te = drovertype.NewTaskError(drovertype.TaskAborted, string(drovertype.TaskAborted), c.Message)
	default:
		msg := c.Message
		if msg == "" && c.Kind == drovertype.TaskTimeout {
			msg = fmt.Sprintf("task %d timed out on engine %d", id, s.e.ID())
		}
		te = drovertype.NewTaskError(c.Kind, string(c.Kind), msg)
	}
	te.TaskID, te.EngineID = id, s.e.ID()
	return te
}

// work is one of Serve's two workers. Each in turn receives (one at a
// time: the transport's batches are taken in order) and runs commands (one
// at a time, in arrival order). A worker that receives work while no
// command runs runs it itself, without handing it to another goroutine,
// and the other worker takes over receiving (so that a Cancel of the
// running attempt is read at once). A worker idles when the other one
// receives and nothing is left to run. work returns when the server
// stops; the first to see it ends the Recv in progress.
func (s *server) work(ctx, rctx context.Context) {
	for {
		s.mu.Lock()
		if s.stop || s.out.failed() {
			s.stopLocked()
			s.mu.Unlock()
			s.cancelRecv()
			s.signal() // the other worker may be idle
			return
		}
		switch {
		case !s.executing && (len(s.queue) > 0 || s.propsDirty):
			s.executing = true
			s.runNext(ctx) // unlocks s.mu
		case !s.receiving:
			s.receiving = true
			idle := !s.executing
			s.mu.Unlock()
			if idle {
				s.out.flush(ctx)
			}
			s.receive(ctx, rctx)
		default:
			// The other worker receives, or runs while this one has
			// received: wait for work or for the receiving to free up.
			idle := !s.executing
			s.mu.Unlock()
			if idle {
				s.out.flush(ctx)
			}
			select {
			case <-s.wake:
			case <-ctx.Done():
				s.mu.Lock()
				s.stopLocked()
				s.mu.Unlock()
			}
		}
	}
}

// receive reads one batch from the transport: it queues commands, handles
// Cancel and Shutdown at once, and stops the server when the transport
// fails. The caller has set s.receiving; receive clears it.
func (s *server) receive(ctx, rctx context.Context) {
	msgs, err := s.end.Recv(rctx)
	if err != nil {
		s.mu.Lock()
		s.receiving = false
		if !s.stop && rctx.Err() == nil {
			s.recvErr = err
		}
		s.stopLocked()
		s.mu.Unlock()
		s.signal()
		return
	}
	var now []transport.FromEngine // outcomes of attempts dropped from the queue
	s.mu.Lock()
	s.receiving = false
	for i := range msgs {
		m := &msgs[i]
		switch {
		case m.Assign != nil:
			if _, dup := s.attempts[m.Assign.Attempt]; dup || s.stop {
				te := drovertype.NewValueError(fmt.Sprintf("attempt %d is already assigned to engine %d", m.Assign.Attempt, s.e.ID()))
				if s.stop {
					te = drovertype.NewEngineLost(m.Assign.TaskID, s.e.ID())
				}
				now = append(now, transport.FromEngine{Outcome: &transport.Outcome{Attempt: m.Assign.Attempt, TaskID: m.Assign.TaskID, Err: te}})
				continue
			}
			at := &attempt{a: m.Assign}
			s.attempts[m.Assign.Attempt] = at
			s.queue = append(s.queue, item{at: at})
		case m.Cancel != nil:
			at := s.attempts[m.Cancel.Attempt]
			if at == nil {
				continue // finished already
			}
			cause := s.cancelCause(m.Cancel, at.a.TaskID)
			if at == s.running {
				at.ctx.cancel(cause)
				continue
			}
			at.dropped = true
			delete(s.attempts, m.Cancel.Attempt)
			now = append(now, transport.FromEngine{Outcome: &transport.Outcome{Attempt: at.a.Attempt, TaskID: at.a.TaskID, Err: cause}})
		case m.Call != nil:
			s.queue = append(s.queue, item{call: m.Call})
		case m.Registered != nil:
			s.queue = append(s.queue, item{registered: m.Registered})
		case m.Shutdown != nil:
			s.shutdown = true
			s.stopLocked()
		}
	}
	s.mu.Unlock()
	// The other worker takes over receiving if this one is about to run
	// what it received.
	s.signal()
	if len(now) > 0 {
		if err := s.end.Send(rctx, now...); err != nil && rctx.Err() == nil {
			s.mu.Lock()
			s.recvErr = err
			s.stopLocked()
			s.mu.Unlock()
			s.signal()
		}
	}
}

// stopLocked stops the server: the running attempt is cancelled (it is then
// reported as lost). s.mu must be held.
func (s *server) stopLocked() {
	if s.stop {
		return
	}
	s.stop = true
	if s.running != nil {
		te := drovertype.NewEngineLost(s.running.a.TaskID, s.e.ID())
		te.Message = fmt.Sprintf("engine %d stopped while running task %d", s.e.ID(), s.running.a.TaskID)
		s.running.ctx.cancel(te)
	}
}

// runNext runs the next queued command, or reports a property change made
// by a direct call when none is queued. s.mu is held, and s.executing set
// by the caller; runNext unlocks s.mu and clears s.executing.
func (s *server) runNext(ctx context.Context) {
	e, out := s.e, s.out
	defer func() {
		s.mu.Lock()
		s.executing = false
		s.mu.Unlock()
		s.signal() // the other worker may wait to run what it received
	}()
	if len(s.queue) == 0 {
		// Only a property change made by a direct call to report.
		s.mu.Unlock()
		if e.lock(ctx) == nil {
			s.takeProps(out)
			e.unlock()
		}
		return
	}
	it := s.queue[0]
	s.queue[0] = item{}
	s.queue = s.queue[1:]
	if it.at != nil {
		if it.at.dropped {
			s.mu.Unlock()
			return
		}
		it.at.ctx = newAttemptCtx(ctx)
		s.running = it.at
	}
	s.mu.Unlock()

	reply := false
	switch {
	case it.at != nil:
		o := s.runAttempt(it.at, out)
		it.at.ctx.cancel(nil)
		s.mu.Lock()
		s.running = nil
		delete(s.attempts, it.at.a.Attempt)
		stopping := s.stop
		s.mu.Unlock()
		if stopping && o.Err != nil && (o.Err.Kind == drovertype.Canceled || o.Err.Kind == drovertype.DeadlineExceeded) {
			te := drovertype.NewEngineLost(o.TaskID, e.ID())
			te.Message = fmt.Sprintf("engine %d stopped while running task %d", e.ID(), o.TaskID)
			o.Err = te
			if tr, ok := o.Value.(*drovertype.TaskResult); ok {
				tr.Failure = te
			}
		}
		out.add(transport.FromEngine{Outcome: o})
	case it.call != nil:
		var r *transport.Reply
		if err := e.lock(ctx); err != nil {
			r = &transport.Reply{ID: it.call.ID, Err: asTaskError(err)}
		} else {
			s.takeProps(out)
			r = e.call(ctx, it.call)
			e.unlock()
		}
		out.add(transport.FromEngine{Reply: r})
		reply = true
	case it.registered != nil:
		if e.lock(ctx) == nil {
			e.setID(it.registered.EngineID)
			e.unlock()
		}
	}
	s.mu.Lock()
	queued := len(s.queue)
	s.mu.Unlock()
	if reply || queued == 0 {
		out.flush(ctx)
	} else {
		out.later(ctx, queued)
	}
}

// goodbye sends, once the workers have ended, what is done, then Bye with
// the attempts not started.
func (s *server) goodbye(ctx context.Context) error {
	out := s.out
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), byeTimeout)
	defer cancel()
	s.mu.Lock()
	bye := &transport.Bye{Reason: "context done"}
	if s.shutdown {
		bye.Reason = "shutdown"
	}
	for _, it := range s.queue {
		if it.at != nil && !it.at.dropped {
			bye.Unstarted = append(bye.Unstarted, it.at.a.Attempt)
		}
	}
	s.queue = nil
	recvErr := s.recvErr
	s.mu.Unlock()
	if recvErr != nil {
		return fmt.Errorf("engine: serve: %w", recvErr)
	}
	if err := out.error(); err != nil {
		return fmt.Errorf("engine: serve: %w", err)
	}
	out.add(transport.FromEngine{Bye: bye})
	out.flush(bctx)
	if err := out.error(); err != nil && !errors.Is(err, transport.ErrClosed) {
		return fmt.Errorf("engine: serve: goodbye: %w", err)
	}
	return nil
}

// runAttempt runs one attempt (RunTask), first reporting a property change
// made by a direct call while the engine was busy: the engine is locked
// for both, so the change is reported in order, before the attempt's
// outcome, and without waiting for the attempt.
func (s *server) runAttempt(at *attempt, out *outbox) *transport.Outcome {
	e := s.e
	o := &transport.Outcome{Attempt: at.a.Attempt, TaskID: at.a.TaskID}
	if err := e.lock(at.ctx); err != nil {
		o.Err = e.idErr(asTaskError(err), at.a.TaskID)
		return o
	}
	defer e.unlock()
	s.takeProps(out)
	e.runTask(at.ctx, at.a, o)
	return o
}

// takeProps queues Props if a direct call changed the properties. The
// engine must be locked.
func (s *server) takeProps(out *outbox) {
	s.mu.Lock()
	dirty := s.propsDirty
	s.propsDirty = false
	s.mu.Unlock()
	if dirty {
		out.add(transport.FromEngine{Props: &transport.Props{Properties: cloneProps(s.e.props)}})
		out.soon() // not held back by the attempt about to run
	}
}

// flushDelay bounds how long a message waits in the outbox while the engine
// runs the next command: batching saves the controller work when commands
// are short, and must not hold an outcome back while a long one runs.
const flushDelay = 500 * time.Microsecond

// outbox gathers the messages execute produces and sends them in batches:
// at once for a reply or when the engine has nothing more to run, when it
// holds a full batch, and otherwise at most flushDelay after the first one
// waiting (the flusher goroutine does that, so that a long attempt does not
// hold back the outcomes of the short ones before it). Sends happen under
// mu, so messages leave in the order they were added. Safe for concurrent
// use.
type outbox struct {
	end   transport.EngineEnd
	batch int
	timer *time.Timer

	mu    sync.Mutex
	msgs  []transport.FromEngine
	armed bool  // the timer runs for the waiting messages
	err   error // a Send failed (not because its ctx ended)
}

func newOutbox(end transport.EngineEnd, batch int) *outbox {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &outbox{end: end, batch: batch, timer: t}
}

// add queues msgs.
func (o *outbox) add(msgs ...transport.FromEngine) {
	o.mu.Lock()
	o.msgs = append(o.msgs, msgs...)
	o.mu.Unlock()
}

// later sends the waiting messages now when they are a full batch, or at
// least as many as the commands still queued (queued): the controller then
// gets the outcomes, and sends more work, while the engine runs what it
// has — half the window in flight comes back at a time, whatever window
// the controller chose. Otherwise it makes sure the waiting messages are
// sent within flushDelay.
func (o *outbox) later(ctx context.Context, queued int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case len(o.msgs) >= o.batch || len(o.msgs) >= queued:
		o.flushLocked(ctx)
	case len(o.msgs) > 0 && !o.armed:
		o.armed = true
		o.timer.Reset(flushDelay)
	}
}

// soon makes sure the waiting messages are sent within flushDelay.
func (o *outbox) soon() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.msgs) > 0 && !o.armed {
		o.armed = true
		o.timer.Reset(flushDelay)
	}
}

// flush sends the waiting messages now.
func (o *outbox) flush(ctx context.Context) {
	o.mu.Lock()
	o.flushLocked(ctx)
	o.mu.Unlock()
}

func (o *outbox) flushLocked(ctx context.Context) {
	if o.armed {
		o.armed = false
		o.timer.Stop()
	}
	if len(o.msgs) == 0 || o.err != nil {
		return
	}
	if err := o.end.Send(ctx, o.msgs...); err != nil {
		if ctx.Err() == nil {
			o.err = err
		}
		return // kept for the goodbye
	}
	clear(o.msgs)
	o.msgs = o.msgs[:0]
}

// flusher sends what waits when the timer fires, until stop is closed; it
// calls failed after a Send fails, so that execute stops.
func (o *outbox) flusher(ctx context.Context, stop <-chan struct{}, failed func()) {
	for {
		select {
		case <-o.timer.C:
			o.mu.Lock()
			o.armed = false
			o.flushLocked(ctx)
			err := o.err
			o.mu.Unlock()
			if err != nil {
				failed()
			}
		case <-stop:
			return
		}
	}
}

// failed reports whether a Send failed.
func (o *outbox) failed() bool { return o.error() != nil }

// error returns the error of the Send that failed, if any.
func (o *outbox) error() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}
