package netcmd

import (
	"context"
	"slices"
	"sync"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
)

// handBackMessage is the message of the Cancel a draining engine sends
// itself for the attempts it hands back (its outcome is not sent: the
// attempt is listed in the Bye instead).
const handBackMessage = "the engine is leaving: attempt handed back to the controller"

// drainEnd wraps an engine's transport end so that the engine can leave
// gracefully (SIGTERM) without costing any task a retry:
//
//   - drain: attempts assigned from then on are not passed to the engine
//     (held); the attempts queued on the engine behind the running one are
//     cancelled (a Cancel is injected into what Recv returns) and their
//     outcomes are not sent; the running attempt goes on. Drained is
//     closed when the engine holds no attempt any more.
//   - handBackAll (the grace period is over): the running attempt's
//     outcome is not sent either, if it failed because the engine stopped
//     it (EngineLost), which it does when its Serve's ctx ends.
//   - the engine's Bye lists, besides the attempts it had not started,
//     every attempt held or handed back: the controller queues them again
//     without using a retry (Bye.Unstarted).
//
// An attempt handed back that finished on its own before its Cancel
// arrived keeps its outcome (success or failure). drainEnd is safe for
// concurrent use (the engine's receive and execute goroutines use it).
type drainEnd struct {
	end transport.EngineEnd

	mu         sync.Mutex
	draining   bool
	inflight   []transport.AttemptID // passed to the engine, no outcome sent yet, in arrival order
	held       []transport.AttemptID // assigned while draining, never passed to the engine
	handback   map[transport.AttemptID]bool
	inject     []transport.ToEngine
	cancelRecv context.CancelFunc // interrupts a blocked Recv for inject
	drained    chan struct{}
	closed     bool // drained is closed

	// onHold, when set (tests), is called (under mu) for every attempt
	// held.
	onHold func(transport.AttemptID)
}

var _ transport.EngineEnd = (*drainEnd)(nil)

func newDrainEnd(end transport.EngineEnd) *drainEnd {
	return &drainEnd{end: end, handback: map[transport.AttemptID]bool{}, drained: make(chan struct{})}
}

// Addr implements transport.EngineEnd.
func (d *drainEnd) Addr() string { return d.end.Addr() }

// Close implements transport.EngineEnd: it closes the wrapped end.
func (d *drainEnd) Close() error { return d.end.Close() }

// Drained is closed once the end is draining and the engine holds no
// attempt.
func (d *drainEnd) Drained() <-chan struct{} { return d.drained }

// drain starts draining (see drainEnd). Draining twice is harmless.
func (d *drainEnd) drain() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.draining {
		return
	}
	d.draining = true
	if len(d.inflight) > 1 {
		for _, a := range d.inflight[1:] {
			d.handback[a] = true
			d.inject = append(d.inject, transport.ToEngine{Cancel: &transport.Cancel{
				Attempt: a, Kind: drovertype.EngineLost, Message: handBackMessage,
			}})
		}
		if d.cancelRecv != nil {
			d.cancelRecv()
		}
	}
	d.checkLocked()
}

// handBackAll marks every attempt the engine holds as handed back: their
// outcomes, if the engine stopped them (EngineLost), are not sent.
func (d *drainEnd) handBackAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.inflight {
		d.handback[a] = true
	}
}

func (d *drainEnd) checkLocked() {
	if d.draining && len(d.inflight) == 0 && !d.closed {
		d.closed = true
		close(d.drained)
	}
}

// Recv implements transport.EngineEnd.
func (d *drainEnd) Recv(ctx context.Context) ([]transport.ToEngine, error) {
	for {
		d.mu.Lock()
		if len(d.inject) > 0 {
			m := d.inject
			d.inject = nil
			d.mu.Unlock()
			return m, nil
		}
		rctx, cancel := context.WithCancel(ctx)
		d.cancelRecv = cancel
		d.mu.Unlock()
		msgs, err := d.end.Recv(rctx)
		d.mu.Lock()
		d.cancelRecv = nil
		kicked := len(d.inject) > 0
		d.mu.Unlock()
		cancel()
		if err != nil {
			if kicked && ctx.Err() == nil {
				continue // interrupted for inject
			}
			return nil, err
		}
		if msgs = d.filterRecv(msgs); len(msgs) > 0 {
			return msgs, nil
		}
	}
}

// filterRecv tracks the attempts the engine receives and holds those
// assigned while draining.
func (d *drainEnd) filterRecv(msgs []transport.ToEngine) []transport.ToEngine {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := msgs[:0:0]
	for _, m := range msgs {
		switch {
		case m.Assign != nil && d.draining:
			d.held = append(d.held, m.Assign.Attempt)
			if d.onHold != nil {
				d.onHold(m.Assign.Attempt)
			}
			continue
		case m.Assign != nil:
			d.inflight = append(d.inflight, m.Assign.Attempt)
		case m.Cancel != nil && slices.Contains(d.held, m.Cancel.Attempt):
			// Never started: the Bye lists it (an aborted task then
			// finishes aborted).
			continue
		}
		out = append(out, m)
	}
	return out
}

// takePending takes what the transport received and nobody read (the
// engine stopped reading), so that the Bye lists the attempts assigned
// meanwhile: they are held. An attempt assigned after that, while the Bye
// is on its way, is failed by the controller with EngineLost.
func (d *drainEnd) takePending() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		msgs, err := d.end.Recv(ctx)
		if err != nil || len(msgs) == 0 {
			return
		}
		d.filterRecv(msgs)
	}
}

// Send implements transport.EngineEnd.
func (d *drainEnd) Send(ctx context.Context, msgs ...transport.FromEngine) error {
	d.mu.Lock()
	draining := d.draining
	d.mu.Unlock()
	if draining && slices.ContainsFunc(msgs, func(m transport.FromEngine) bool { return m.Bye != nil }) {
		d.takePending()
	}
	d.mu.Lock()
	out := make([]transport.FromEngine, 0, len(msgs))
	for _, m := range msgs {
		switch {
		case m.Outcome != nil:
			a := m.Outcome.Attempt
			if i := slices.Index(d.inflight, a); i >= 0 {
				d.inflight = slices.Delete(d.inflight, i, i+1)
			}
			if d.handback[a] {
				if e := m.Outcome.Err; e != nil && e.Kind == drovertype.EngineLost {
					continue // listed in the Bye
				}
				delete(d.handback, a) // it ended on its own: its outcome stands
			}
		case m.Bye != nil:
			b := *m.Bye
			b.Unstarted = slices.Clone(b.Unstarted)
			for _, a := range d.held {
				if !slices.Contains(b.Unstarted, a) {
					b.Unstarted = append(b.Unstarted, a)
				}
			}
			for a := range d.handback {
				if !slices.Contains(b.Unstarted, a) {
					b.Unstarted = append(b.Unstarted, a)
				}
			}
			slices.Sort(b.Unstarted)
			d.held, d.handback = nil, map[transport.AttemptID]bool{}
			m.Bye = &b
		}
		out = append(out, m)
	}
	d.checkLocked()
	d.mu.Unlock()
	if len(out) == 0 {
		return nil
	}
	return d.end.Send(ctx, out...)
}
