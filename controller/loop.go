package controller

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/scheduler"
	"github.com/drover-dev/drover/transport"
)

// loop is the controller's state machine. Every field is written and read
// by the loop goroutine only (and by New before it starts).
type loop struct {
	c     *Controller
	cfg   *Config
	log   *slog.Logger
	sched scheduler.Scheduler

	fromEngines <-chan []transport.FromEngine // batches from the pump; nil batch: transport down

	// Tasks by id: tasks[id-base]; nil for a cleared id. Ids below base
	// are cleared; the prefix of cleared ids is trimmed.
	tasks []*task
	base  drovertype.TaskID

	nsucceeded, nfailed int // finished tasks by outcome
	assigned            int // attempts assigned to engines

	engines     map[drovertype.EngineID]*engine // live engines by id
	nextEngine  drovertype.EngineID             // ids are never reused
	byAddr      map[string]*engine
	live        int // engines not gone
	busy        int // live engines with attempts or serving a penalty
	nextAttempt transport.AttemptID
	nextCall    transport.CallID
	calls       map[transport.CallID]*pendingCall

	groups      map[groupKey]*group
	groupsByID  map[scheduler.Group]*group
	nextGroup   scheduler.Group
	classes     map[string]*class
	classesByID map[scheduler.Class]*class
	nextClass   scheduler.Class

	dirty []*engine // engines with messages to send

	idleTimer *time.Timer
	idleArmed bool
	idleDirty bool // a scheduling event happened: check the idle timer

	penTimer  *time.Timer
	penalties []penalty // by time; the penalty is the same for every engine
	penHead   int

	stopping bool // graceful stop: no more dispatching

	engineWaiters []request // WaitEngines requests
	spareRuns     []*task   // storage handed back to the inbox
	spareReqs     []request // storage handed back to the inbox
}

func newLoop(c *Controller) *loop {
	return &loop{
		c:           c,
		cfg:         &c.cfg,
		log:         c.cfg.Logger,
		engines:     make(map[drovertype.EngineID]*engine),
		byAddr:      make(map[string]*engine),
		calls:       make(map[transport.CallID]*pendingCall),
		groups:      make(map[groupKey]*group),
		groupsByID:  make(map[scheduler.Group]*group),
		classes:     make(map[string]*class),
		classesByID: make(map[scheduler.Class]*class),
	}
}

// run is the loop goroutine.
func (l *loop) run(ctx context.Context) {
	l.idleTimer = time.NewTimer(time.Hour)
	l.idleTimer.Stop()
	l.penTimer = time.NewTimer(time.Hour)
	l.penTimer.Stop()
	defer l.shutdown()
	stop := l.c.stopCh
	for {
		if l.stopping && l.assigned == 0 {
			return
		}
		select {
		case <-l.c.wake:
			l.drain()
		case msgs := <-l.fromEngines:
			if msgs == nil {
				l.transportDown()
			} else {
				l.handle(msgs)
			}
		case <-l.idleTimer.C:
			l.idleArmed = false
			l.failIdle()
		case <-l.penTimer.C:
			l.readmitDue()
		case <-stop:
			stop = nil
			l.stopping = true
			l.drain()
		case <-l.c.hardCh:
			return
		case <-ctx.Done():
			return
		}
		l.flush(ctx)
		if l.idleDirty {
			l.idleDirty = false
			l.checkIdle()
		}
	}
}

// shutdown ends the loop: engines are asked to shut down, and every
// request still waiting is answered with ErrClosed.
func (l *loop) shutdown() {
	l.idleTimer.Stop()
	l.penTimer.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	for _, e := range l.engines {
		err := l.c.end.Send(ctx, e.addr, transport.ToEngine{Shutdown: &transport.Shutdown{Reason: "controller stopped"}})
		if err != nil {
			l.log.Debug("controller: shutdown message not sent", "engine", e.id, "err", err)
		}
	}
	cancel()
	c := l.c
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.stopCh)
	}
	reqs := c.reqs
	c.reqs, c.runs = nil, nil
	c.mu.Unlock()
	for i := range reqs {
		reqs[i].fail(errClosed)
	}
	for _, t := range l.tasks {
		if t == nil {
			continue
		}
		for _, b := range t.waiters {
			if !b.done {
				b.done = true
				b.reply <- response{err: errClosed}
			}
		}
		t.waiters = nil
	}
	for i := range l.engineWaiters {
		l.engineWaiters[i].fail(errClosed)
	}
	l.engineWaiters = nil
	for id, pc := range l.calls {
		pc.reply <- response{err: errClosed}
		delete(l.calls, id)
	}
}

// drain serves the requests in the inbox, in order.
func (l *loop) drain() {
	runs, reqs := l.c.take(l.spareRuns, l.spareReqs)
	n := 0 // runs served
	for i := range reqs {
		for ; n < reqs[i].before; n++ {
			l.runTask(runs[n])
		}
		l.serve(&reqs[i])
		reqs[i] = request{}
	}
	for ; n < len(runs); n++ {
		l.runTask(runs[n])
	}
	clear(runs)
	// Keep the storage, unless a burst made it large.
	if cap(runs) > 1<<16 {
		runs = nil
	}
	if cap(reqs) > 1<<10 {
		reqs = nil
	}
	l.spareRuns, l.spareReqs = runs, reqs
}

func (l *loop) serve(r *request) {
	if r.ctx != nil && r.ctx.Err() != nil {
		// The caller gave up before the loop got to its request and was
		// told so: the request must not take effect.
		r.fail(r.ctx.Err())
		return
	}
	switch r.op {
	case opPoll:
		t := l.get(r.id)
		switch {
		case t == nil:
			r.reply <- response{err: fmt.Errorf("poll: %w", drovertype.NewNotRegistered(r.id))}
		case l.done(t):
			r.reply <- response{value: t.value, err: t.err, done: true}
		default:
			r.reply <- response{}
		}
	case opWait:
		l.wait(r)
	case opAbort:
		r.reply <- response{err: l.abort(r.id)}
	case opSpin:
		r.reply <- response{done: l.distribute()}
	case opStatus:
		r.reply <- response{status: l.status()}
	case opCounts:
		r.reply <- response{counts: drovertype.QueueCounts{
			Pending: l.assigned, Scheduled: l.sched.NumTasks(), Succeeded: l.nsucceeded, Failed: l.nfailed,
		}}
	case opClear:
		n, dropped, missing := l.clear(r.ids)
		resp := response{n: n, dropped: dropped, missing: missing}
		if len(missing) > 0 {
			resp.err = drovertype.NewClearNotFound(n, missing)
		}
		r.reply <- resp
	case opClearAll:
		n := 0
		for _, t := range l.tasks {
			if t != nil && t.state == drovertype.Finished {
				l.drop(t)
				n++
			}
		}
		r.reply <- response{n: n}
	case opForget:
		for _, id := range r.ids {
			l.forget(id)
		}
	case opDurable:
		for _, id := range r.ids {
			if t := l.get(id); t != nil && t.unsaved {
				t.unsaved = false
				l.wake(t)
			}
		}
	case opEngines:
		r.reply <- response{engines: l.engineInfos()}
	case opWaitEngines, opWaitAddr:
		if !l.engineWaited(r) {
			l.engineWaiters = slices.DeleteFunc(l.engineWaiters, func(w request) bool { return w.ctx.Err() != nil })
			l.engineWaiters = append(l.engineWaiters, *r)
		}
	case opCall:
		l.call(r)
	default:
		r.fail(drovertype.NewTaskError(drovertype.Internal, "", "unknown request"))
	}
}

// ---- tasks ----

func (l *loop) get(id drovertype.TaskID) *task {
	i := id - l.base
	if i < 0 || i >= drovertype.TaskID(len(l.tasks)) {
		return nil
	}
	return l.tasks[i]
}

// drop forgets a finished task.
func (l *loop) drop(t *task) {
	if t.failed {
		l.nfailed--
	} else {
		l.nsucceeded--
	}
	l.tasks[t.id-l.base] = nil
	n := 0
	for n < len(l.tasks) && l.tasks[n] == nil {
		n++
	}
	if n == len(l.tasks) {
		l.base += drovertype.TaskID(n)
		l.tasks = nil
	} else if n > 0 {
		l.base += drovertype.TaskID(n)
		l.tasks = l.tasks[n:]
	}
}

// runTask registers and queues a new task (the seed's run).
func (l *loop) runTask(t *task) {
	if !l.place(t) {
		return
	}
	t.grp = l.groupFor(t)
	l.enqueue(t)
}

// place puts t in the task table. Ids come in increasing order; with a
// journal they may skip some (ids reserved before a restart, or whose
// write failed): those stay unknown here.
func (l *loop) place(t *task) bool {
	want := l.base + drovertype.TaskID(len(l.tasks))
	switch {
	case len(l.tasks) == 0 && t.id >= l.base:
		l.base = t.id
	case t.id > want && l.cfg.Journal != nil:
		l.tasks = append(l.tasks, make([]*task, t.id-want)...)
	case t.id != want:
		// Cannot happen: ids are taken in inbox order.
		l.log.Error("controller: task id out of order", "task", t.id, "want", want)
		return false
	}
	l.tasks = append(l.tasks, t)
	return true
}

// restore queues the unfinished tasks a journal recovered (in id order),
// before the loop runs.
func (l *loop) restore(tasks []*task) {
	for _, t := range tasks {
		if l.place(t) {
			t.grp = l.groupFor(t)
			t.state = drovertype.Queued
			l.schedAdd(t)
		}
	}
	l.idleDirty = true
}

// forget drops a task whose journal write failed (no client has its id):
// at once if it is queued or finished, when its attempt ends if it is
// running (the attempt is cancelled).
func (l *loop) forget(id drovertype.TaskID) {
	t := l.get(id)
	switch {
	case t == nil:
	case t.state == drovertype.Finished:
		l.drop(t)
	case t.state == drovertype.Queued:
		t.forget = true
		l.sched.RemoveTask(id)
		l.finish(t, nil, drovertype.NewAborted(id), true)
	default:
		t.forget = true
		if !t.aborting {
			t.aborting = true
			l.send(t.eng, transport.ToEngine{Cancel: &transport.Cancel{Attempt: t.attempt, Kind: drovertype.TaskAborted}})
		}
	}
}

// enqueue queues t (new, retry, recovery task or handed back) and runs
// the scheduler, as the seed's add_task + distributeTasks.
func (l *loop) enqueue(t *task) {
	t.state = drovertype.Queued
	l.schedAdd(t)
	if l.sched.NumEngines() > 0 {
		l.distribute()
	} else {
		l.idleDirty = true
	}
}

// schedAdd adds t to the scheduler's queue.
func (l *loop) schedAdd(t *task) {
	item := scheduler.Item{ID: t.id}
	if t.grp != nil {
		item.Group = t.grp.id
	}
	if err := l.sched.AddTask(item); err != nil {
		l.log.Error("controller: scheduler refused a task", "task", t.id, "err", err)
	}
}

// groupFor returns (and references) the group of t's current step; nil
// when any engine may run it.
func (l *loop) groupFor(t *task) *group {
	var dep *compiled
	if t.deps != nil {
		dep = t.deps[t.step]
	}
	cmd := t.def.Kind == drovertype.CommandTask
	if dep == nil && !cmd {
		return nil
	}
	key := groupKey{cmd: cmd}
	if dep != nil {
		key.dep, key.hasDep = dep.key, true
	}
	g := l.groups[key]
	if g == nil {
		l.nextGroup++
		g = &group{id: l.nextGroup, key: key}
		if dep != nil {
			g.pred = dep.pred
		}
		l.groups[key] = g
		l.groupsByID[g.id] = g
	}
	g.refs++
	return g
}

func (l *loop) releaseGroup(g *group) {
	if g == nil {
		return
	}
	if g.refs--; g.refs == 0 {
		delete(l.groups, g.key)
		delete(l.groupsByID, g.id)
	}
}

// eligible is the scheduler's Eligible function.
func (l *loop) eligible(g scheduler.Group, c scheduler.Class) bool {
	grp, cls := l.groupsByID[g], l.classesByID[c]
	if grp == nil || cls == nil {
		return false
	}
	if grp.key.cmd && !cls.cmd {
		return false
	}
	return grp.pred == nil || grp.pred(cls.props)
}

// distribute runs the scheduler until no queued task can go to an idle
// engine (the seed's distributeTasks) and reports whether it dispatched
// anything. It restarts the idle countdown.
func (l *loop) distribute() bool {
	l.idleDirty = true
	return l.dispatch()
}

func (l *loop) dispatch() bool {
	if l.stopping {
		return false
	}
	any := false
	for {
		tid, eid, ok := l.sched.Schedule()
		if !ok {
			return any
		}
		any = true
		t, e := l.get(tid), l.engines[eid]
		if e == nil {
			l.log.Error("controller: scheduler chose an engine that is gone", "engine", eid)
			if t != nil && t.state == drovertype.Queued {
				l.schedAdd(t) // cannot happen: the scheduler drops lost engines
			}
			continue
		}
		e.idle = false
		if t == nil || t.state != drovertype.Queued {
			l.log.Error("controller: scheduler chose a task that is not queued", "task", tid)
			if !e.penalized && !e.gone {
				l.makeIdle(e)
			}
			continue
		}
		l.assign(t, e)
	}
}

// assign sends an attempt of t to e, which the scheduler just chose.
func (l *loop) assign(t *task, e *engine) {
	l.nextAttempt++
	t.attempt = l.nextAttempt
	t.eng = e
	t.state = drovertype.Pending
	if len(e.inflight) == 0 && !e.penalized {
		l.busy++
	}
	e.inflight = append(e.inflight, t)
	l.assigned++
	l.send(e, transport.ToEngine{Assign: &transport.Assign{Attempt: t.attempt, TaskID: t.id, Task: t.def}})
	if len(e.inflight) < e.window && !e.penalized {
		l.makeIdle(e)
	}
}

// detach takes t's attempt off its engine.
func (l *loop) detach(t *task) *engine {
	e := t.eng
	if i := slices.Index(e.inflight, t); i >= 0 {
		e.inflight = slices.Delete(e.inflight, i, i+1)
	}
	t.eng, t.attempt = nil, 0
	l.assigned--
	if len(e.inflight) == 0 && !e.penalized && !e.gone {
		l.busy--
	}
	return e
}

// makeIdle puts e in the scheduler (it must have a free slot).
func (l *loop) makeIdle(e *engine) {
	if e.idle {
		return
	}
	if err := l.sched.AddEngine(e.id, e.class.id); err != nil {
		l.log.Error("controller: scheduler refused an engine", "engine", e.id, "err", err)
		return
	}
	e.idle = true
}

// readmit gives e back to the scheduler if it can take work (the seed's
// readmitWorker) and runs the scheduler (also when e, with a window, was
// still in the scheduler: the end of an attempt is a scheduling event).
func (l *loop) readmit(e *engine) {
	if e.gone || e.penalized {
		return
	}
	if !e.idle && len(e.inflight) < e.window {
		l.makeIdle(e)
	}
	l.distribute()
}

// penalize keeps e out of the scheduler for the failure penalty.
func (l *loop) penalize(e *engine) {
	if e.gone {
		return
	}
	if l.cfg.FailurePenalty <= 0 {
		l.readmit(e)
		return
	}
	if !e.penalized {
		if len(e.inflight) == 0 {
			l.busy++
		}
		e.penalized = true
	}
	if e.idle {
		l.sched.RemoveEngine(e.id)
		e.idle = false
	}
	// A time with a monotonic reading: the penalty is not stretched or cut
	// short by a change of the wall clock.
	at := time.Now().Add(l.cfg.FailurePenalty)
	e.penEnd = at // a later failure's penalty replaces an earlier one
	l.penalties = append(l.penalties, penalty{at: at, eng: e})
	if len(l.penalties)-l.penHead == 1 {
		l.penTimer.Reset(l.cfg.FailurePenalty)
	}
}

// readmitDue ends the penalties that are due.
func (l *loop) readmitDue() {
	now := time.Now()
	for l.penHead < len(l.penalties) && !l.penalties[l.penHead].at.After(now) {
		e := l.penalties[l.penHead].eng
		l.penalties[l.penHead] = penalty{}
		l.penHead++
		if !e.penalized || e.gone || e.penEnd.After(now) {
			continue // over already, or replaced by a later penalty
		}
		e.penalized = false
		if len(e.inflight) == 0 {
			l.busy--
		}
		l.readmit(e)
		l.idleDirty = true
	}
	if l.penHead == len(l.penalties) {
		l.penalties, l.penHead = l.penalties[:0], 0
		return
	}
	if l.penHead > 64 && l.penHead*2 > len(l.penalties) {
		n := copy(l.penalties, l.penalties[l.penHead:])
		clear(l.penalties[n:])
		l.penalties, l.penHead = l.penalties[:n], 0
	}
	l.penTimer.Reset(l.penalties[l.penHead].at.Sub(now))
}

// ---- attempts ----

// outcome handles the end of an attempt reported by engine e.
func (l *loop) outcome(e *engine, o *transport.Outcome) {
	t := l.get(o.TaskID)
	if t == nil || t.eng != e || t.attempt != o.Attempt {
		l.log.Debug("controller: outcome of an unknown attempt", "engine", e.id, "task", o.TaskID, "attempt", o.Attempt)
		return
	}
	if o.Props != nil {
		l.setProps(e, o.Props.Properties)
	}
	l.detach(t)
	l.ended(t, e, o.Value, o.Err, o.Started, o.Ended)
}

// ended applies the end of one attempt of t to the task (the seed's
// taskCompleted). e is the engine it ran on, or nil if that engine is
// gone. terr is the attempt's failure, nil on success.
func (l *loop) ended(t *task, e *engine, val any, terr *drovertype.TaskError, started, stopped time.Time) {
	failed := terr != nil
	if t.aborting {
		l.finish(t, nil, drovertype.NewAborted(t.id), true)
		if e != nil {
			// A failure of the attempt's own (not the abort's cancel)
			// costs the engine the penalty, as in the seed.
			if failed && terr.Kind != drovertype.TaskAborted {
				l.penalize(e)
			} else {
				l.readmit(e)
			}
		}
		return
	}
	if !failed {
		l.finish(t, val, nil, false)
		if e != nil {
			l.readmit(e)
		}
		return
	}
	if e != nil && e.idle {
		// With a window, the engine may still have free slots: keep it out
		// of the scheduler while the task is requeued (the seed's failed
		// worker is never idle then), so that the retry goes elsewhere.
		l.sched.RemoveEngine(e.id)
		e.idle = false
	}
	switch {
	case t.retries > 0:
		t.retries--
		l.enqueue(t)
	case t.def.Recovery != nil:
		// The recovery task stands for t under t's id, with its own
		// retries and recovery task. Run made the chain finite with the
		// seed's loop guard (Task.Clone).
		l.releaseGroup(t.grp)
		t.def = t.def.Recovery
		t.step++
		t.retries = t.def.Retries
		t.grp = l.groupFor(t)
		l.enqueue(t)
	default:
		l.finishFailed(t, e, val, terr, started, stopped)
	}
	if e != nil {
		l.penalize(e)
	}
}

// finishFailed finishes t with the failure of its last attempt: a string
// task's TaskResult carrying it, any other task's error.
func (l *loop) finishFailed(t *task, e *engine, val any, terr *drovertype.TaskError, started, stopped time.Time) {
	if t.def.Kind != drovertype.StringTask {
		l.finish(t, nil, terr, true)
		return
	}
	tr, _ := val.(*drovertype.TaskResult)
	if tr == nil {
		eid := terr.EngineID
		if e != nil {
			eid = e.id
		}
		tr = &drovertype.TaskResult{TaskID: t.id, EngineID: eid, Kind: drovertype.StringTask, Failure: terr}
		now := time.Now()
		if started.IsZero() {
			started = now
		}
		if stopped.IsZero() {
			stopped = now
		}
		tr.SetTimes(started, stopped)
	}
	l.finish(t, tr, nil, true)
}

// finish stores t's result (and hands it to the journal) and wakes its
// waiters.
func (l *loop) finish(t *task, val any, err error, failed bool) {
	t.state = drovertype.Finished
	t.value, t.err, t.failed = val, err, failed
	if failed {
		l.nfailed++
	} else {
		l.nsucceeded++
	}
	if j := l.cfg.Journal; j != nil && !t.forget {
		var te *drovertype.TaskError
		if err != nil {
			te = drovertype.FromError(err)
		}
		j.Finished(t.id, val, te, failed)
		t.unsaved = true
	}
	l.releaseGroup(t.grp)
	t.grp, t.def, t.deps, t.aborting = nil, nil, nil, false
	if !t.unsaved {
		l.wake(t)
	}
	if t.forget {
		l.drop(t)
	}
}

// done reports whether t is finished and its result may be given out:
// with a journal, once it is durable.
func (l *loop) done(t *task) bool { return t.state == drovertype.Finished && !t.unsaved }

// wake answers the requests waiting for t.
func (l *loop) wake(t *task) {
	ws := t.waiters
	t.waiters = nil
	for _, b := range ws {
		if !b.done {
			if b.left--; b.left == 0 {
				l.complete(b)
			}
		}
	}
}

// abort is the seed's abort.
func (l *loop) abort(id drovertype.TaskID) error {
	t := l.get(id)
	switch {
	case t == nil:
		return fmt.Errorf("abort: %w", drovertype.NewNoTask(id))
	case t.state == drovertype.Finished:
		return fmt.Errorf("abort: task %d: %w", id, drovertype.NewAlreadyCompleted(id))
	case t.aborting:
		return fmt.Errorf("abort: task %d: %w", id, drovertype.NewAlreadyAborted(id))
	case t.state == drovertype.Queued:
		l.sched.RemoveTask(id)
		l.finish(t, nil, drovertype.NewAborted(id), true)
		return nil
	}
	// Running: stop the attempt (beyond the seed); the task finishes when
	// the engine reports the attempt's end.
	t.aborting = true
	l.send(t.eng, transport.ToEngine{Cancel: &transport.Cancel{Attempt: t.attempt, Kind: drovertype.TaskAborted}})
	return nil
}

// failIdle is the seed's failIdle: the idle timer fired.
func (l *loop) failIdle() {
	if l.stopping {
		return
	}
	if l.dispatch() {
		l.idleDirty = true
		return
	}
	for _, id := range l.sched.TaskIDs() {
		l.sched.RemoveTask(id)
		if t := l.get(id); t != nil {
			l.finish(t, nil, drovertype.NewIdleTimeout(id, l.cfg.IdleTimeout), true)
		}
	}
}

// checkIdle is the seed's checkIdle: (re)start the idle countdown if tasks
// are queued, at least one engine is registered and every engine is idle.
func (l *loop) checkIdle() {
	if l.idleArmed {
		l.idleTimer.Stop()
		l.idleArmed = false
	}
	if l.cfg.IdleTimeout > 0 && !l.stopping && l.sched.NumTasks() > 0 && l.live > 0 && l.busy == 0 {
		l.idleTimer.Reset(l.cfg.IdleTimeout)
		l.idleArmed = true
	}
}

// ---- waiting ----

func (l *loop) wait(r *request) {
	b := &barrier{ctx: r.ctx, mode: r.wait, ids: r.ids, reply: r.reply}
	if r.wait == waitOne {
		t := l.get(r.ids[0])
		switch {
		case t == nil:
			r.reply <- response{err: fmt.Errorf("result: %w", drovertype.NewNotRegistered(r.ids[0]))}
			return
		case l.done(t):
			r.reply <- response{value: t.value, err: t.err, done: true}
			return
		}
	}
	for _, id := range r.ids {
		if t := l.get(id); t != nil && !l.done(t) {
			b.left++
			t.waiters = appendWaiter(t.waiters, b)
		}
	}
	if b.left == 0 {
		l.complete(b)
	}
}

// appendWaiter adds b to ws, first dropping the waiters already answered
// or whose caller gave up, whenever the list reaches a power of two (so a
// task waited for in vain again and again keeps a short list).
func appendWaiter(ws []*barrier, b *barrier) []*barrier {
	if n := len(ws); n >= 8 && n&(n-1) == 0 {
		ws = slices.DeleteFunc(ws, func(w *barrier) bool {
			if !w.done && w.ctx != nil && w.ctx.Err() != nil {
				w.done = true // its caller is gone: never answered
			}
			return w.done
		})
	}
	return append(ws, b)
}

// complete answers a barrier whose tasks have all finished.
func (l *loop) complete(b *barrier) {
	b.done = true
	var resp response
	switch b.mode {
	case waitOne:
		if t := l.get(b.ids[0]); t != nil && l.done(t) {
			resp = response{value: t.value, err: t.err, done: true}
		} else {
			resp.err = fmt.Errorf("result: %w", drovertype.NewNotRegistered(b.ids[0]))
		}
	case waitAll:
		resp.values = make([]any, len(b.ids))
		resp.errs = make([]error, len(b.ids))
		for i, id := range b.ids {
			if t := l.get(id); t != nil && l.done(t) {
				resp.values[i], resp.errs[i] = t.value, t.err
			} else {
				resp.errs[i] = drovertype.NewNotRegistered(id)
			}
		}
	}
	b.reply <- resp
}

// ---- status and clear ----

func (l *loop) status() drovertype.QueueStatus {
	st := drovertype.QueueStatus{
		Pending:   make([]drovertype.TaskID, 0, l.assigned),
		Scheduled: l.sched.TaskIDs(),
		Succeeded: make([]drovertype.TaskID, 0, l.nsucceeded),
		Failed:    make([]drovertype.TaskID, 0, l.nfailed),
	}
	for _, t := range l.tasks {
		switch {
		case t == nil:
		case t.state == drovertype.Pending:
			st.Pending = append(st.Pending, t.id)
		case t.state != drovertype.Finished:
		case t.failed:
			st.Failed = append(st.Failed, t.id)
		default:
			st.Succeeded = append(st.Succeeded, t.id)
		}
	}
	return st
}

func (l *loop) clear(ids []drovertype.TaskID) (n int, dropped, missing []drovertype.TaskID) {
	for _, id := range ids {
		if t := l.get(id); t != nil && t.state == drovertype.Finished {
			l.drop(t)
			n++
			dropped = append(dropped, id)
		} else {
			missing = append(missing, id)
		}
	}
	return n, dropped, missing
}

// ---- engines ----

// handle applies a batch of engine messages.
func (l *loop) handle(msgs []transport.FromEngine) {
	for i := range msgs {
		m := &msgs[i]
		if m.Register != nil {
			l.register(m.From, m.Register)
			continue
		}
		e := l.byAddr[m.From]
		if e == nil {
			l.log.Debug("controller: message from an unknown engine", "addr", m.From)
			continue
		}
		switch {
		case m.Outcome != nil:
			l.outcome(e, m.Outcome)
		case m.Reply != nil:
			l.reply(e, m.Reply)
		case m.Props != nil:
			l.setProps(e, m.Props.Properties)
		case m.Bye != nil:
			l.log.Info("controller: engine left", "engine", e.id, "reason", m.Bye.Reason)
			// Every attempt the engine still holds when its Bye arrives was
			// not finished by it: the results of those it finished came
			// before the Bye on the same connection. That includes
			// attempts assigned after the engine wrote its Unstarted list
			// (still on the wire to it), which it will never run. Queue
			// them all again without using a retry.
			unstarted := make([]transport.AttemptID, 0, len(e.inflight))
			for _, t := range e.inflight {
				unstarted = append(unstarted, t.attempt)
			}
			l.lose(e, unstarted)
		case m.Lost != nil:
			l.log.Info("controller: engine lost", "engine", e.id, "reason", m.Lost.Reason)
			l.lose(e, nil)
		}
	}
}

// register is the seed's registerWorker: the engine gets the next id (ids
// are never reused), joins the scheduler, and the scheduler runs.
func (l *loop) register(addr string, r *transport.Register) {
	if e := l.byAddr[addr]; e != nil {
		// A repeated hello: answer it again.
		l.send(e, transport.ToEngine{Registered: &transport.Registered{EngineID: e.id}})
		return
	}
	e := &engine{
		id:     l.nextEngine,
		addr:   addr,
		name:   r.Name,
		caps:   r.Capabilities,
		props:  r.Properties,
		window: max(1, min(l.cfg.Window, r.Window)),
	}
	e.class = l.classFor(e)
	l.nextEngine++
	l.engines[e.id] = e
	l.byAddr[addr] = e
	l.live++
	l.log.Info("controller: engine registered", "engine", e.id, "addr", addr, "name", r.Name)
	l.send(e, transport.ToEngine{Registered: &transport.Registered{EngineID: e.id}})
	if l.stopping {
		return
	}
	l.makeIdle(e)
	l.distribute()
	if len(l.engineWaiters) > 0 {
		l.engineWaiters = slices.DeleteFunc(l.engineWaiters, func(w request) bool { return l.engineWaited(&w) })
	}
}

// engineWaited answers a WaitEngines or WaitEngine request if what it
// waits for has happened.
func (l *loop) engineWaited(r *request) bool {
	if r.op == opWaitAddr {
		e := l.byAddr[r.addr]
		if e == nil {
			return false
		}
		r.reply <- response{engine: e.id}
		return true
	}
	if l.live < r.n {
		return false
	}
	r.reply <- response{}
	return true
}

// lose removes an engine that left or was lost. Attempts listed in
// unstarted go back to the queue as they are; every other attempt it had
// fails with EngineLost (retried elsewhere if the task has retries left).
func (l *loop) lose(e *engine, unstarted []transport.AttemptID) {
	if e.gone {
		return
	}
	if e.busy() {
		l.busy--
	}
	e.gone = true
	delete(l.engines, e.id)
	delete(l.byAddr, e.addr)
	l.live--
	if e.idle {
		l.sched.RemoveEngine(e.id)
		e.idle = false
	}
	l.releaseClass(e.class)
	inflight := e.inflight
	e.inflight = nil
	for _, t := range inflight {
		a := t.attempt
		t.eng, t.attempt = nil, 0
		l.assigned--
		if slices.Contains(unstarted, a) {
			if t.aborting {
				l.finish(t, nil, drovertype.NewAborted(t.id), true)
			} else {
				l.enqueue(t)
			}
			continue
		}
		l.ended(t, nil, nil, drovertype.NewEngineLost(t.id, e.id), time.Time{}, time.Time{})
	}
	for id, pc := range l.calls {
		if pc.eng == e {
			te := drovertype.NewTaskError(drovertype.EngineLost, "EngineLost", "engine lost before it replied")
			te.EngineID = e.id
			pc.reply <- response{err: te}
			delete(l.calls, id)
		}
	}
	e.out = nil
	l.idleDirty = true
}

// transportDown treats every engine as lost: the transport's receive
// failed for good.
func (l *loop) transportDown() {
	for _, e := range l.engines {
		l.lose(e, nil)
	}
}

// setProps takes new properties for e into the cache. It does not run the
// scheduler (as the seed).
func (l *loop) setProps(e *engine, props map[string]any) {
	e.props = props
	old := e.class
	e.class = l.classFor(e)
	l.releaseClass(old)
	if e.idle && e.class != old {
		l.sched.UpdateEngine(e.id, e.class.id)
	}
}

// classFor returns (and references) the class of e's properties and
// capabilities.
func (l *loop) classFor(e *engine) *class {
	key := classKey(e.caps.Commands, e.props)
	c := l.classes[key]
	if c == nil {
		l.nextClass++
		c = &class{id: l.nextClass, key: key, props: e.props, cmd: e.caps.Commands}
		l.classes[key] = c
		l.classesByID[c.id] = c
	}
	c.refs++
	return c
}

func (l *loop) releaseClass(c *class) {
	if c.refs--; c.refs == 0 {
		delete(l.classes, c.key)
		delete(l.classesByID, c.id)
	}
}

func (l *loop) engineInfos() []drovertype.EngineInfo {
	out := make([]drovertype.EngineInfo, 0, l.live)
	for _, e := range l.engines {
		info := drovertype.EngineInfo{
			ID:            e.id,
			Name:          e.name,
			Task:          drovertype.NoTask,
			AllowCommands: e.caps.Commands,
			Functions:     slices.Clone(e.caps.Functions),
		}
		if e.props != nil {
			info.Properties, _ = drovertype.CloneValue(e.props).(map[string]any)
		}
		if len(e.inflight) > 0 {
			info.Busy, info.Task = true, e.inflight[0].id
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b drovertype.EngineInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// call forwards a client's Call to its engine.
func (l *loop) call(r *request) {
	id := r.engine
	e := l.engines[id]
	if e == nil {
		te := drovertype.NewTaskError(drovertype.NotFound, "KeyError", "no engine with id "+itoa(int64(id)))
		te.EngineID = id
		r.reply <- response{err: te}
		return
	}
	l.nextCall++
	msg := *r.callMsg
	msg.ID = l.nextCall
	l.calls[msg.ID] = &pendingCall{eng: e, op: msg.Op, reply: r.reply}
	l.send(e, transport.ToEngine{Call: &msg})
}

// reply routes an engine's Reply to the waiting caller.
func (l *loop) reply(e *engine, r *transport.Reply) {
	pc := l.calls[r.ID]
	if pc == nil || pc.eng != e {
		l.log.Debug("controller: reply to an unknown call", "engine", e.id, "call", r.ID)
		return
	}
	delete(l.calls, r.ID)
	if r.Props != nil {
		l.setProps(e, r.Props.Properties)
	}
	resp := response{value: r.Value}
	if r.Err != nil {
		resp.err = r.Err
	}
	pc.reply <- resp
}

// ---- sending ----

// send queues msg for e; flush sends every engine's messages in one batch.
func (l *loop) send(e *engine, msg transport.ToEngine) {
	e.out = append(e.out, msg)
	if !e.queued {
		e.queued = true
		l.dirty = append(l.dirty, e)
	}
}

func (l *loop) flush(ctx context.Context) {
	for i, e := range l.dirty {
		l.dirty[i] = nil
		e.queued = false
		msgs := e.out
		if e.gone || len(msgs) == 0 {
			e.out = nil
			continue
		}
		if err := l.c.end.Send(ctx, e.addr, msgs...); err != nil {
			// The transport reports the engine lost; its attempts are
			// failed then.
			l.log.Warn("controller: send to engine failed", "engine", e.id, "err", err)
		}
		// The transport keeps the messages (and what they point to), not
		// the slice that carried them: reuse it.
		clear(msgs)
		e.out = msgs[:0]
	}
	l.dirty = l.dirty[:0]
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
