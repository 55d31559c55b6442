package controller

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/scheduler"
	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/memtransport"
)

// sim drives a controller's loop directly (no goroutines, no timers
// firing): every event is one call of a loop method followed by what the
// loop does at the end of a turn (flush, idle check); after each, the
// loop's bookkeeping is checked against its records (check). Engines are
// played by the test over a real in-memory hub.
type sim struct {
	t       *testing.T
	rnd     *rand.Rand
	hub     *memtransport.Hub
	c       *Controller
	l       *loop
	engines []*simEngine
	nextID  drovertype.TaskID
	log     []string
}

type simEngine struct {
	end    transport.EngineEnd
	window int
	// attempts the engine holds, in the order it got them; the first is
	// "running".
	held      []*transport.Assign
	cancelled map[transport.AttemptID]bool
	gone      bool
}

func newSim(t *testing.T, seed uint64, cfg *Config) *sim {
	hub, err := memtransport.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Controller().Close() })
	c, err := New(hub.Controller(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := c.l
	l.idleTimer = time.NewTimer(time.Hour)
	l.idleTimer.Stop()
	l.penTimer = time.NewTimer(time.Hour)
	l.penTimer.Stop()
	return &sim{t: t, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b9)), hub: hub, c: c, l: l}
}

// turn runs f as one turn of the loop, then checks the invariants.
func (s *sim) turn(what string, f func()) {
	s.t.Helper()
	s.log = append(s.log, what)
	f()
	s.l.flush(context.Background())
	if s.l.idleDirty {
		s.l.idleDirty = false
		s.l.checkIdle()
	}
	if err := s.check(); err != nil {
		start := max(0, len(s.log)-30)
		s.t.Fatalf("after %q: %v\nlast events:\n  %s", what, err, strings.Join(s.log[start:], "\n  "))
	}
	s.receive()
}

// receive takes what the controller sent to each engine.
func (s *sim) receive() {
	s.t.Helper()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for i, e := range s.engines {
		if e.gone {
			continue
		}
		msgs, err := e.end.Recv(done)
		if err != nil {
			continue
		}
		var now []transport.FromEngine
		for _, m := range msgs {
			switch {
			case m.Assign != nil:
				if s.l.stopping {
					s.t.Fatalf("engine %d assigned task %d while the controller stops", i, m.Assign.TaskID)
				}
				e.held = append(e.held, m.Assign)
				if len(e.held) > e.window {
					s.t.Fatalf("engine %d holds %d attempts, window %d", i, len(e.held), e.window)
				}
			case m.Cancel != nil:
				j := slices.IndexFunc(e.held, func(a *transport.Assign) bool { return a.Attempt == m.Cancel.Attempt })
				switch {
				case j < 0:
				case j == 0:
					e.cancelled[m.Cancel.Attempt] = true // running: reported when it ends
				default:
					a := e.held[j]
					e.held = slices.Delete(e.held, j, j+1)
					now = append(now, transport.FromEngine{From: e.end.Addr(), Outcome: &transport.Outcome{
						Attempt: a.Attempt, TaskID: a.TaskID, Err: drovertype.NewAborted(a.TaskID)}})
				}
			}
		}
		if len(now) > 0 {
			s.turn(fmt.Sprintf("engine %d drops cancelled attempts", i), func() { s.l.handle(now) })
		}
	}
}

func (s *sim) register() {
	e := &simEngine{end: s.hub.NewEngine(), window: 1 + s.rnd.IntN(3), cancelled: map[transport.AttemptID]bool{}}
	s.engines = append(s.engines, e)
	reg := &transport.Register{Properties: s.props(), Window: e.window, Capabilities: transport.Capabilities{Commands: s.rnd.IntN(2) == 0}}
	s.turn(fmt.Sprintf("register engine %d (window %d)", len(s.engines)-1, e.window), func() {
		s.l.handle([]transport.FromEngine{{From: e.end.Addr(), Register: reg}})
	})
}

func (s *sim) props() map[string]any {
	switch s.rnd.IntN(3) {
	case 0:
		return nil
	case 1:
		return map[string]any{"os": "mac"}
	}
	return map[string]any{"os": "linux"}
}

func (s *sim) task(depth int) *drovertype.Task {
	opts := drovertype.Options{Retries: s.rnd.IntN(3)}
	if s.rnd.IntN(3) == 0 {
		opts.Depend = &drovertype.Depend{Source: []string{"os=mac", "os=linux", "os=bsd"}[s.rnd.IntN(3)]}
	}
	if depth < 2 && s.rnd.IntN(3) == 0 {
		opts.Recovery = s.task(depth + 1)
	}
	var tk *drovertype.Task
	var err error
	switch s.rnd.IntN(4) {
	case 0:
		tk, err = drovertype.NewStringTask("x = 1", nil, "x", opts)
	case 1:
		tk, err = drovertype.NewShellTask("true", opts)
	default:
		tk, err = drovertype.NewMapTask("f", []any{int64(1)}, nil, opts)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return tk
}

func (s *sim) run() {
	rec, err := s.c.prepare(s.task(0))
	if err != nil {
		s.t.Fatal(err)
	}
	rec.id = s.nextID
	s.nextID++
	s.turn(fmt.Sprintf("run task %d", rec.id), func() { s.l.runTask(rec) })
}

// pick returns the index of a random engine for which ok holds.
func (s *sim) pick(ok func(*simEngine) bool) (int, bool) {
	var cands []int
	for i, e := range s.engines {
		if ok(e) {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return 0, false
	}
	return cands[s.rnd.IntN(len(cands))], true
}

// outcome: a live engine ends its running attempt.
func (s *sim) outcome() {
	i, ok := s.pick(func(e *simEngine) bool { return !e.gone && len(e.held) > 0 })
	if !ok {
		return
	}
	e := s.engines[i]
	a := e.held[0]
	e.held = e.held[1:]
	o := &transport.Outcome{Attempt: a.Attempt, TaskID: a.TaskID}
	what := "succeeds"
	switch {
	case e.cancelled[a.Attempt] && s.rnd.IntN(4) > 0:
		o.Err = drovertype.NewAborted(a.TaskID)
		what = "is aborted"
	case s.rnd.IntN(2) == 0:
		o.Err = drovertype.NewRemoteError(a.TaskID, drovertype.NoEngine, "ZeroDivisionError", "division by zero", "")
		what = "fails"
	default:
		o.Value = int64(7)
		if a.Task.Kind == drovertype.StringTask {
			o.Value = &drovertype.TaskResult{TaskID: a.TaskID, Kind: drovertype.StringTask}
		}
	}
	if s.rnd.IntN(5) == 0 {
		o.Props = &transport.Props{Properties: s.props()}
	}
	delete(e.cancelled, a.Attempt)
	s.turn(fmt.Sprintf("engine %d: task %d attempt %d %s", i, a.TaskID, a.Attempt, what), func() {
		s.l.handle([]transport.FromEngine{{From: e.end.Addr(), Outcome: o}})
	})
}

// leave: a live engine is lost, or says goodbye handing back what it did
// not start.
func (s *sim) leave() {
	i, ok := s.pick(func(e *simEngine) bool { return !e.gone })
	if !ok {
		return
	}
	e := s.engines[i]
	e.gone = true
	addr := e.end.Addr()
	if s.rnd.IntN(2) == 0 {
		s.turn(fmt.Sprintf("engine %d lost", i), func() {
			s.l.handle([]transport.FromEngine{{From: addr, Lost: &transport.Lost{}}})
		})
	} else {
		bye := &transport.Bye{}
		for j, a := range e.held {
			if j > 0 || s.rnd.IntN(2) == 0 {
				bye.Unstarted = append(bye.Unstarted, a.Attempt)
			}
		}
		s.turn(fmt.Sprintf("engine %d says bye (unstarted %v)", i, bye.Unstarted), func() {
			s.l.handle([]transport.FromEngine{{From: addr, Bye: bye}, {From: addr, Lost: &transport.Lost{}}})
		})
	}
	_ = e.end.Close()
}

func (s *sim) setProps() {
	i, ok := s.pick(func(e *simEngine) bool { return !e.gone })
	if !ok {
		return
	}
	p := s.props()
	s.turn(fmt.Sprintf("engine %d properties %v", i, p), func() {
		s.l.handle([]transport.FromEngine{{From: s.engines[i].end.Addr(), Props: &transport.Props{Properties: p}}})
	})
}

func (s *sim) anyID() drovertype.TaskID {
	if s.nextID == 0 {
		return 0
	}
	return drovertype.TaskID(s.rnd.Int64N(int64(s.nextID)))
}

func (s *sim) step() {
	switch n := s.rnd.IntN(100); {
	case n < 8:
		s.register()
	case n < 35:
		s.run()
	case n < 65:
		s.outcome()
	case n < 70:
		s.leave()
	case n < 75:
		s.setProps()
	case n < 82:
		id := s.anyID()
		s.turn(fmt.Sprintf("abort %d", id), func() { _ = s.l.abort(id) })
	case n < 86:
		s.turn("penalties end", func() {
			for i := range s.l.penalties {
				s.l.penalties[i].at = time.Time{}
				if e := s.l.penalties[i].eng; e != nil {
					e.penEnd = time.Time{}
				}
			}
			s.l.readmitDue()
		})
	case n < 89:
		s.turn("idle timer fires", func() {
			s.l.idleArmed = false
			s.l.failIdle()
		})
	case n < 92:
		s.turn("spin", func() { s.l.distribute() })
	case n < 96:
		ids := []drovertype.TaskID{s.anyID(), s.anyID()}
		s.turn(fmt.Sprintf("clear %v", ids), func() { _, _, _ = s.l.clear(ids) })
	default:
		s.turn("status", func() {
			st := s.l.status()
			if len(st.Pending) != s.l.assigned || len(st.Scheduled) != s.l.sched.NumTasks() ||
				len(st.Succeeded) != s.l.nsucceeded || len(st.Failed) != s.l.nfailed {
				s.t.Fatalf("status %v does not match the counts", st.Counts())
			}
		})
	}
}

// check verifies the loop's bookkeeping.
func (s *sim) check() error {
	l := s.l
	idle := map[drovertype.EngineID]bool{}
	for _, id := range l.sched.EngineIDs() {
		idle[id] = true
	}
	for id := range idle {
		if e := l.engines[id]; e == nil || e.gone {
			return fmt.Errorf("engine %d is in the scheduler but not live", id)
		}
	}
	busy, assigned, live := 0, 0, 0
	classRefs := map[*class]int{}
	for _, e := range l.engines {
		if e == nil {
			continue
		}
		if e.idle != idle[e.id] {
			return fmt.Errorf("engine %d: idle %v, in the scheduler %v", e.id, e.idle, idle[e.id])
		}
		if e.gone {
			if e.idle || len(e.inflight) > 0 {
				return fmt.Errorf("lost engine %d is idle or has attempts", e.id)
			}
			continue
		}
		live++
		if e.busy() {
			busy++
		}
		assigned += len(e.inflight)
		classRefs[e.class]++
		if e.idle && (e.penalized || len(e.inflight) >= e.window) {
			return fmt.Errorf("engine %d idle while penalized (%v) or full (%d of %d)", e.id, e.penalized, len(e.inflight), e.window)
		}
		if !e.idle && !e.penalized && len(e.inflight) < e.window && !l.stopping {
			return fmt.Errorf("engine %d has a free slot but is not in the scheduler", e.id)
		}
		if e.class == nil || l.classes[e.class.key] != e.class {
			return fmt.Errorf("engine %d: class not registered", e.id)
		}
		if e.class.key != classKey(e.caps.Commands, e.props) {
			return fmt.Errorf("engine %d: class key does not match its properties", e.id)
		}
		for _, t := range e.inflight {
			if t.eng != e || t.state != drovertype.Pending {
				return fmt.Errorf("engine %d: attempt of task %d (state %v) not tied to it", e.id, t.id, t.state)
			}
		}
	}
	if busy != l.busy || assigned != l.assigned || live != l.live {
		return fmt.Errorf("counts: busy %d (loop %d), assigned %d (loop %d), live %d (loop %d)", busy, l.busy, assigned, l.assigned, live, l.live)
	}
	if len(l.classes) != len(classRefs) || len(l.classesByID) != len(l.classes) {
		return fmt.Errorf("%d classes (%d by id) for %d in use", len(l.classes), len(l.classesByID), len(classRefs))
	}
	for c, n := range classRefs {
		if c.refs != n {
			return fmt.Errorf("class %d: %d refs, %d engines", c.id, c.refs, n)
		}
	}
	queued := map[drovertype.TaskID]bool{}
	for _, id := range l.sched.TaskIDs() {
		queued[id] = true
	}
	if len(queued) != l.sched.NumTasks() {
		return fmt.Errorf("scheduler lists %d tasks, counts %d", len(queued), l.sched.NumTasks())
	}
	nq, ns, nf := 0, 0, 0
	grpRefs := map[*group]int{}
	unconstrainedQueued := false
	for _, t := range l.tasks {
		if t == nil {
			continue
		}
		if (t.state == drovertype.Queued) != queued[t.id] {
			return fmt.Errorf("task %d: state %v, queued in the scheduler %v", t.id, t.state, queued[t.id])
		}
		switch t.state {
		case drovertype.Queued:
			nq++
			if t.grp == nil {
				unconstrainedQueued = true
			}
			if t.eng != nil || t.aborting {
				return fmt.Errorf("queued task %d has an engine or is aborting", t.id)
			}
		case drovertype.Pending:
			if t.eng == nil || t.eng.gone || !slices.Contains(t.eng.inflight, t) {
				return fmt.Errorf("pending task %d not on a live engine", t.id)
			}
		case drovertype.Finished:
			if t.grp != nil || t.def != nil || len(t.waiters) > 0 {
				return fmt.Errorf("finished task %d keeps its group, definition or waiters", t.id)
			}
			if t.failed {
				nf++
			} else {
				ns++
			}
			continue
		default:
			return fmt.Errorf("task %d in state %v", t.id, t.state)
		}
		if t.grp != nil {
			grpRefs[t.grp]++
		}
		if (t.grp == nil) != (t.def.Depend == nil && t.def.Kind != drovertype.CommandTask) {
			return fmt.Errorf("task %d: group %v for depend %v kind %v", t.id, t.grp, t.def.Depend, t.def.Kind)
		}
	}
	if nq != l.sched.NumTasks() {
		return fmt.Errorf("%d queued tasks, scheduler holds %d", nq, l.sched.NumTasks())
	}
	if ns != l.nsucceeded || nf != l.nfailed {
		return fmt.Errorf("finished: %d succeeded (loop %d), %d failed (loop %d)", ns, l.nsucceeded, nf, l.nfailed)
	}
	if len(l.groups) != len(grpRefs) || len(l.groupsByID) != len(l.groups) {
		return fmt.Errorf("%d groups (%d by id) for %d in use", len(l.groups), len(l.groupsByID), len(grpRefs))
	}
	for g, n := range grpRefs {
		if g.refs != n || l.groups[g.key] != g {
			return fmt.Errorf("group %d: %d refs, %d tasks", g.id, g.refs, n)
		}
	}
	// Nothing dispatchable is left undispatched: a task any engine may
	// take is never queued while an engine has a free slot.
	if unconstrainedQueued && l.sched.NumEngines() > 0 && !l.stopping {
		return fmt.Errorf("a task without constraint is queued while %v are idle", l.sched.EngineIDs())
	}
	if l.idleArmed && (busy > 0 || live == 0) {
		return fmt.Errorf("idle timer armed with %d busy engines of %d", busy, live)
	}
	if n := len(l.calls); n > 0 {
		return fmt.Errorf("%d calls pending", n)
	}
	return nil
}

// TestLoopInvariants plays random sequences of events (tasks with retries,
// recovery tasks, depend and command constraints; outcomes, aborts, lost
// engines, goodbyes, penalties, the idle timer, property changes, clears)
// against the loop and checks its bookkeeping after each.
func TestLoopInvariants(t *testing.T) {
	t.Parallel()
	for seed := range uint64(100) {
		cfg := &Config{Depend: testDepend, Window: 1 + int(seed%3)}
		if seed%2 == 0 {
			cfg.FailurePenalty = -1
		}
		if seed%5 == 0 {
			cfg.Policy = scheduler.LIFO
		}
		s := newSim(t, seed, cfg)
		for range 400 {
			s.step()
		}
		if seed%4 == 0 {
			// A graceful stop: nothing more is dispatched, attempts end.
			s.turn("stop", func() { s.l.stopping = true })
			for range 200 {
				s.step()
			}
			for s.l.assigned > 0 {
				s.outcome()
			}
		}
	}
}

// testDepend compiles "key=value" (properties[key] == value).
func testDepend(d *drovertype.Depend) (func(map[string]any) bool, error) {
	k, v, ok := strings.Cut(d.Source, "=")
	if !ok {
		return nil, fmt.Errorf("want key=value")
	}
	return func(p map[string]any) bool { s, _ := p[k].(string); return s == v }, nil
}

// TestLostEnginesForgotten: the loop keeps no record of engines that left
// (engines that come and go for the life of a controller, as remote ones
// do, must not pile up), and their ids are not reused.
func TestLostEnginesForgotten(t *testing.T) {
	t.Parallel()
	s := newSim(t, 1, &Config{Depend: testDepend})
	for range 50 {
		s.register()
		s.run()
		s.leave()
	}
	s.register()
	if n := len(s.l.engines); n != 1 {
		t.Fatalf("the loop holds %d engine records for 1 live engine", n)
	}
	infos := s.l.engineInfos()
	if len(infos) != 1 || infos[0].ID != 50 {
		t.Fatalf("engines %+v, want one with id 50", infos)
	}
}
