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
//     with Outcome and Reply messages, batched when several are ready;
//   - Cancel of a queued attempt drops it and answers at once with an
//     Outcome failing with the Cancel's kind; Cancel of the running attempt
//     stops it (Starlark thread cancelled, command's process group killed,
//     Go function's ctx cancelled) and its Outcome fails with that kind;
//   - a property change made by a direct method call is sent as Props;
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
	var wg sync.WaitGroup
	wg.Go(func() { s.receive(rctx) })
	err := s.execute(ctx)
	cancel()
	wg.Wait()
	return err
}

// server is the state of one Serve.
type server struct {
	e    *Engine
	end  transport.EngineEnd
	wake chan struct{}

	mu         sync.Mutex
	queue      []item
	attempts   map[transport.AttemptID]*attempt // queued or running
	running    *attempt
	stop       bool
	shutdown   bool
	recvErr    error
	propsDirty bool
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

// receive reads the transport: it queues commands, handles Cancel and
// Shutdown at once, and stops the server when the transport fails.
func (s *server) receive(ctx context.Context) {
	for {
		msgs, err := s.end.Recv(ctx)
		if err != nil {
			s.mu.Lock()
			if !s.stop && ctx.Err() == nil {
				s.recvErr = err
			}
			s.stopLocked()
			s.mu.Unlock()
			s.signal()
			return
		}
		var now []transport.FromEngine // outcomes of attempts dropped from the queue
		s.mu.Lock()
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
		stopped := s.stop
		s.mu.Unlock()
		s.signal()
		if len(now) > 0 {
			if err := s.end.Send(ctx, now...); err != nil && ctx.Err() == nil {
				s.mu.Lock()
				s.recvErr = err
				s.stopLocked()
				s.mu.Unlock()
				s.signal()
				return
			}
		}
		if stopped {
			return
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

// execute runs queued commands until the server stops, then says goodbye.
func (s *server) execute(ctx context.Context) error {
	e := s.e
	flushAt := max(1, e.window/2)
	var outbox []transport.FromEngine
	var sendErr error
	flush := func(ctx context.Context) {
		if len(outbox) == 0 || sendErr != nil {
			return
		}
		if err := s.end.Send(ctx, outbox...); err != nil {
			if ctx.Err() == nil {
				sendErr = err
			}
			return // kept for the goodbye
		}
		clear(outbox)
		outbox = outbox[:0]
	}
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.stop && !s.propsDirty && sendErr == nil {
			s.mu.Unlock()
			flush(ctx)
			select {
			case <-s.wake:
			case <-ctx.Done():
				s.mu.Lock()
				s.stopLocked()
				s.mu.Unlock()
			}
			s.mu.Lock()
		}
		if s.stop || sendErr != nil {
			s.stopLocked()
			s.mu.Unlock()
			break
		}
		if s.propsDirty && len(s.queue) == 0 {
			s.propsDirty = false
			s.mu.Unlock()
			if e.lock(ctx) == nil {
				outbox = append(outbox, transport.FromEngine{Props: &transport.Props{Properties: cloneProps(e.props)}})
				e.unlock()
			}
			continue
		}
		it := s.queue[0]
		s.queue[0] = item{}
		s.queue = s.queue[1:]
		if it.at != nil {
			if it.at.dropped {
				s.mu.Unlock()
				continue
			}
			it.at.ctx = newAttemptCtx(ctx)
			s.running = it.at
		}
		s.mu.Unlock()

		reply := false
		switch {
		case it.at != nil:
			out := e.RunTask(it.at.ctx, it.at.a)
			it.at.ctx.cancel(nil)
			s.mu.Lock()
			s.running = nil
			delete(s.attempts, it.at.a.Attempt)
			stopping := s.stop
			s.mu.Unlock()
			if stopping && out.Err != nil && (out.Err.Kind == drovertype.Canceled || out.Err.Kind == drovertype.DeadlineExceeded) {
				te := drovertype.NewEngineLost(out.TaskID, e.ID())
				te.Message = fmt.Sprintf("engine %d stopped while running task %d", e.ID(), out.TaskID)
				out.Err = te
				if tr, ok := out.Value.(*drovertype.TaskResult); ok {
					tr.Failure = te
				}
			}
			outbox = append(outbox, transport.FromEngine{Outcome: out})
		case it.call != nil:
			outbox = append(outbox, transport.FromEngine{Reply: e.Call(ctx, it.call)})
			reply = true
		case it.registered != nil:
			if e.lock(ctx) == nil {
				e.setID(it.registered.EngineID)
				e.unlock()
			}
		}
		s.mu.Lock()
		idle := len(s.queue) == 0
		s.mu.Unlock()
		if reply || idle || len(outbox) >= flushAt {
			flush(ctx)
		}
	}

	// Goodbye: what is done, then Bye with the attempts not started.
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
	if sendErr != nil {
		return fmt.Errorf("engine: serve: %w", sendErr)
	}
	outbox = append(outbox, transport.FromEngine{Bye: bye})
	flush(bctx)
	if sendErr != nil && !errors.Is(sendErr, transport.ErrClosed) {
		return fmt.Errorf("engine: serve: goodbye: %w", sendErr)
	}
	return nil
}
