package controller

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/scheduler"
	"github.com/drover-dev/drover/transport"
)

// Controller is the task farm's controller (the seed's TaskController): it
// numbers and queues tasks, places them on engines through a scheduler,
// retries them, runs their recovery tasks, times them out, aborts them,
// and keeps their results until they are cleared.
//
// One goroutine, the loop, owns every piece of the controller's state; the
// methods talk to it through an inbox (requests are handled in the order
// they were made, so a Run followed by an Abort of the returned id always
// finds the task). Run does not wait for the loop: it validates and copies
// the task, takes the next id and queues the request. Every other method
// waits for the loop's answer, honouring its ctx: a method that returns
// ctx's error before the loop got to its request leaves the controller as
// it was (the loop drops such requests).
//
// A Controller is safe for concurrent use. Create it with New, then Start
// it; Stop it when done.
type Controller struct {
	cfg Config                  // immutable after New
	end transport.ControllerEnd // immutable after New

	// deps caches compiled depend constraints; used by Run's callers.
	deps dependCache

	// mu guards the inbox and the lifecycle flags. Written and read by
	// every method, the loop, Start and Stop.
	mu      sync.Mutex
	nextID  drovertype.TaskID // the id the next Run takes
	idLimit drovertype.TaskID // with a journal: ids below it are reserved
	// idMu orders durable runs: held while the journal reserves ids and
	// writes records, so that records and the loop's queue are in id order
	// (taken before mu).
	idMu sync.Mutex
	// diskOK and diskFail count the results recovered from the journal
	// that are not in the loop's memory (finished before a restart).
	diskOK, diskFail int
	runs             []*task   // Run requests not yet taken by the loop
	reqs             []request // other requests not yet taken by the loop
	started          bool
	closed           bool // Stop was called: no more requests
	wake             chan struct{}

	stopCh   chan struct{} // closed by Stop: stop gracefully
	hardCh   chan struct{} // closed by Stop when its ctx ends: stop now
	hardOnce sync.Once
	done     chan struct{} // closed when the loop and the pump have exited
	wg       sync.WaitGroup

	l *loop // owned by the loop goroutine once started
}

// New returns a controller that talks to its engines through end, with the
// configuration cfg (nil: every default). It returns an error naming the
// field when a field of cfg is invalid. The controller does not close end;
// its owner does, after Stop.
func New(end transport.ControllerEnd, cfg *Config) (*Controller, error) {
	if end == nil {
		return nil, fmt.Errorf("new controller: nil transport end")
	}
	c, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	ctl := &Controller{
		cfg:    c,
		end:    end,
		wake:   make(chan struct{}, 1),
		stopCh: make(chan struct{}),
		hardCh: make(chan struct{}),
		done:   make(chan struct{}),
	}
	l := newLoop(ctl)
	var s scheduler.Scheduler
	if c.NewScheduler != nil {
		s, err = c.NewScheduler(l.eligible)
		if err == nil && s == nil {
			err = fmt.Errorf("returned nil")
		}
		if err != nil {
			return nil, fmt.Errorf("new controller: Config.NewScheduler: %w", err)
		}
	} else if s, err = scheduler.New(c.Policy, l.eligible); err != nil {
		return nil, fmt.Errorf("new controller: %w", err)
	}
	l.sched = s
	ctl.l = l
	return ctl, nil
}

// Start starts the controller's goroutines: the loop and the goroutine that
// receives engine messages from the transport. Requests made before Start
// are handled once it runs. Cancelling ctx stops the controller at once, as
// Stop does when its ctx ends. Start returns an error if the controller was
// already started or stopped.
func (c *Controller) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return fmt.Errorf("start controller: %w", errClosed)
	case c.started:
		return fmt.Errorf("start controller: already started")
	}
	if j := c.cfg.Journal; j != nil {
		j.Notify(c.durable)
		rec, err := j.Recover(ctx)
		if err != nil {
			return fmt.Errorf("start controller: %w", err)
		}
		c.restore(rec)
	}
	c.started = true
	lctx, cancel := context.WithCancel(ctx)
	msgs := make(chan []transport.FromEngine)
	c.l.fromEngines = msgs
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		c.pump(lctx, msgs)
	}()
	go func() {
		defer c.wg.Done()
		defer cancel() // stops the pump
		c.l.run(lctx)
	}()
	go func() {
		c.wg.Wait()
		close(c.done)
	}()
	return nil
}

// restore takes the state a journal recovered, before the loop starts
// (c.mu is held).
func (c *Controller) restore(rec *Recovered) {
	c.nextID, c.idLimit = rec.NextID, rec.NextID
	c.diskOK, c.diskFail = rec.Succeeded, rec.Failed
	l := c.l
	// Attempt ids of this run must not match those of attempts engines
	// still report from before the restart.
	l.nextAttempt = transport.AttemptID(time.Now().UnixNano())
	tasks := make([]*task, 0, len(rec.Tasks))
	for _, rt := range rec.Tasks {
		t, err := c.prepare(rt.Task)
		if err != nil {
			// Cannot be run any more (a depend compiler missing, say): it
			// finishes with the error rather than vanish.
			c.cfg.Logger.Warn("controller: recovered task refused", "task", rt.ID, "err", err)
			te := drovertype.FromError(err)
			c.cfg.Journal.Finished(rt.ID, nil, te, true)
			c.diskFail++
			continue
		}
		t.id = rt.ID
		tasks = append(tasks, t)
	}
	l.restore(tasks)
}

// pump receives engine messages and hands them to the loop, one batch at a
// time (while the loop is busy, the transport gathers the next batch).
func (c *Controller) pump(ctx context.Context, out chan<- []transport.FromEngine) {
	for {
		msgs, err := c.end.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The transport is closed (or broken): tell the loop, which
			// treats every engine as lost.
			c.cfg.Logger.Warn("controller: transport receive failed", "err", err)
			select {
			case out <- nil:
			case <-ctx.Done():
			}
			return
		}
		if len(msgs) == 0 {
			continue // nothing to do (a nil batch tells the loop the transport is down)
		}
		select {
		case out <- msgs:
		case <-ctx.Done():
			return
		}
	}
}

// Stop stops the controller gracefully: it takes no more requests (they fail
// with an error matching drovertype.ErrClosed), dispatches no more tasks,
// waits for the attempts running on engines to end (their results are
// stored and delivered), then asks every engine to shut down, fails the
// calls still waiting with ErrClosed, and returns once its goroutines have
// exited. If ctx ends first, it stops at once (running attempts are
// abandoned: the engines stop them when they shut down) and returns ctx's
// error. Stop before Start, and a second Stop, are safe.
func (c *Controller) Stop(ctx context.Context) error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.stopCh)
	}
	started := c.started
	var reqs []request
	if !started {
		reqs, c.reqs, c.runs = c.reqs, nil, nil
	}
	c.mu.Unlock()
	if !started {
		for i := range reqs {
			reqs[i].fail(errClosed)
		}
		return nil
	}
	select {
	case <-c.done:
		if j := c.cfg.Journal; j != nil {
			if err := j.Flush(ctx); err != nil {
				return fmt.Errorf("stop controller: %w", err)
			}
		}
		return nil
	case <-ctx.Done():
	}
	c.hardOnce.Do(func() { close(c.hardCh) })
	<-c.done
	return fmt.Errorf("stop controller: %w", ctx.Err())
}

// enqueue hands r to the loop, or fails with ErrClosed.
func (c *Controller) enqueue(r request) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClosed
	}
	r.before = len(c.runs)
	c.reqs = append(c.reqs, r)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// take returns the queued requests, giving the spares (emptied) as the
// new queues' storage. Run requests are queued apart (a pointer each);
// request.before orders the two queues.
func (c *Controller) take(spareRuns []*task, spareReqs []request) ([]*task, []request) {
	c.mu.Lock()
	runs, reqs := c.runs, c.reqs
	c.runs, c.reqs = spareRuns[:0], spareReqs[:0]
	c.mu.Unlock()
	return runs, reqs
}

// call makes a request and waits for its answer.
func (c *Controller) call(ctx context.Context, r request) (response, error) {
	if err := ctx.Err(); err != nil {
		return response{}, err
	}
	r.reply = make(chan response, 1)
	r.ctx = ctx
	if err := c.enqueue(r); err != nil {
		return response{}, err
	}
	select {
	case resp := <-r.reply:
		if resp.err == errClosed {
			// Failed unserved when the controller stopped: the caller
			// names the operation.
			return response{}, errClosed
		}
		return resp, nil
	case <-ctx.Done():
		return response{}, ctx.Err()
	}
}

// errClosed is the error of every request made to a stopped controller.
var errClosed = drovertype.NewTaskError(drovertype.Closed, "", "controller closed")

// Run queues a copy of t (the caller's task is not changed, and may be
// reused) and returns its id: consecutive from 0, never reused. t is
// validated first (Task.Validate), and its depend constraints, and those of
// its recovery tasks, are compiled with Config.Depend; an invalid task gets
// no id. Run does not wait for the loop.
func (c *Controller) Run(ctx context.Context, t *drovertype.Task) (drovertype.TaskID, error) {
	if err := ctx.Err(); err != nil {
		return drovertype.NoTask, fmt.Errorf("run: %w", err)
	}
	rec, err := c.prepare(t)
	if err != nil {
		return drovertype.NoTask, err
	}
	if c.cfg.Journal != nil {
		ids, err := c.runDurable(ctx, []*task{rec})
		if err != nil {
			return drovertype.NoTask, fmt.Errorf("run: %w", err)
		}
		return ids[0], nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return drovertype.NoTask, fmt.Errorf("run: %w", errClosed)
	}
	id := c.nextID
	c.nextID++
	rec.id = id
	c.runs = append(c.runs, rec)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return id, nil
}

// RunBatch queues copies of tasks as Run does, in order, and returns their
// ids. Every task is validated first: if one is invalid, none is queued and
// the error is a *BatchError with its index. With a journal, the tasks are written
// together and RunBatch waits for them all to be durable; if the write
// fails, none is queued and the error says why.
func (c *Controller) RunBatch(ctx context.Context, tasks []*drovertype.Task) ([]drovertype.TaskID, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	recs := make([]*task, len(tasks))
	for i, t := range tasks {
		rec, err := c.prepare(t)
		if err != nil {
			return nil, &BatchError{Index: i, Err: err}
		}
		recs[i] = rec
	}
	if c.cfg.Journal != nil {
		ids, err := c.runDurable(ctx, recs)
		if err != nil {
			return ids, fmt.Errorf("run: %w", err)
		}
		return ids, nil
	}
	ids := make([]drovertype.TaskID, len(recs))
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("run: %w", errClosed)
	}
	for i, rec := range recs {
		rec.id = c.nextID
		c.nextID++
		ids[i] = rec.id
		c.runs = append(c.runs, rec)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return ids, nil
}

// BatchError is RunBatch's error for an invalid task: none of the batch
// was queued.
type BatchError struct {
	Index int   // the index of the first invalid task
	Err   error // its error (from Run's validation)
}

func (e *BatchError) Error() string { return fmt.Sprintf("task %d of the batch: %v", e.Index, e.Err) }

// Unwrap returns the task's error.
func (e *BatchError) Unwrap() error { return e.Err }

// runDurable queues recs with the journal: ids are taken from the
// reserved block, the records are written together (under c.mu, so that
// the journal sees them in the order the loop does), and the tasks go to
// the loop at once, while their records are being written; it then waits
// for the write. If it fails, the tasks are forgotten (the loop drops
// them, stopping an attempt already started) and no id is returned.
func (c *Controller) runDurable(ctx context.Context, recs []*task) ([]drovertype.TaskID, error) {
	j := c.cfg.Journal
	data := make([][]byte, len(recs))
	for i, rec := range recs {
		b, err := j.EncodeTask(rec.def)
		if err != nil {
			if len(recs) > 1 {
				err = fmt.Errorf("task %d of %d: %w", i, len(recs), err)
			}
			return nil, err
		}
		data[i] = b
	}
	// idMu keeps ids and records in order while the journal is called
	// (it may block); c.mu is taken only to hand the tasks to the loop, so
	// the loop never waits for the journal.
	c.idMu.Lock()
	c.mu.Lock()
	var err error
	switch {
	case c.closed:
		err = errClosed
	case !c.started:
		err = fmt.Errorf("controller not started (Start recovers its journal first)")
	}
	first, limit := c.nextID, c.idLimit
	c.mu.Unlock()
	end := first + drovertype.TaskID(len(recs))
	if err == nil && end > limit {
		if limit, err = j.ReserveIDs(ctx, end); err == nil {
			c.mu.Lock()
			c.idLimit = limit
			c.mu.Unlock()
		}
	}
	var wait Appended
	if err == nil {
		wait, err = j.AppendTasks(first, data)
	}
	if err != nil {
		c.idMu.Unlock()
		return nil, err
	}
	ids := make([]drovertype.TaskID, len(recs))
	c.mu.Lock()
	c.nextID = end // also if closed: the records may be durable
	closed := c.closed
	if !closed {
		for i, rec := range recs {
			rec.id = first + drovertype.TaskID(i)
			ids[i] = rec.id
			c.runs = append(c.runs, rec)
		}
	}
	c.mu.Unlock()
	c.idMu.Unlock()
	if closed {
		for id := first; id < end; id++ {
			j.Forget(id)
		}
		return nil, errClosed
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	if err := wait.Wait(ctx); err != nil {
		c.forget(ids)
		return nil, err
	}
	return ids, nil
}

// durable tells the loop that the results of ids are durable (called by
// the journal's goroutine).
func (c *Controller) durable(ids []drovertype.TaskID) {
	_ = c.enqueue(request{op: opDurable, ids: slices.Clone(ids)})
}

// forget drops tasks whose journal write failed: no client has their ids.
func (c *Controller) forget(ids []drovertype.TaskID) {
	for _, id := range ids {
		c.cfg.Journal.Forget(id)
	}
	if err := c.enqueue(request{op: opForget, ids: ids}); err != nil {
		c.cfg.Logger.Debug("controller: tasks not forgotten: controller closed", "tasks", len(ids))
	}
}

// prepare validates and copies t and compiles its depend constraints.
func (c *Controller) prepare(t *drovertype.Task) (*task, error) {
	if t == nil {
		return nil, fmt.Errorf("run: %w", drovertype.NewNotATask())
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	var def *drovertype.Task
	if t.Recovery == nil {
		// The common case: one allocation for the copy and its arguments.
		b := new(defBlock)
		copyTask(&b.def, t, b.args[:0:len(b.args)])
		def = &b.def
	} else {
		def = t.Clone() // also cuts recovery loops with the seed's guard
	}
	rec := &task{def: def, retries: def.Retries}
	n := 0
	for s := def; s != nil; s = s.Recovery {
		if s.Depend != nil {
			if c.cfg.Depend == nil {
				return nil, fmt.Errorf("run: %w", drovertype.NewValueError(
					"the task has a depend constraint but the controller has no depend compiler (Config.Depend)"))
			}
			if rec.deps == nil {
				rec.deps = make([]*compiled, chainLen(def))
			}
			d, err := c.deps.compile(c.cfg.Depend, *s.Depend)
			if err != nil {
				return nil, fmt.Errorf("run: %w", err)
			}
			rec.deps[n] = d
		}
		n++
	}
	return rec, nil
}

// defBlock is a task's copy and room for its first arguments, allocated
// together.
type defBlock struct {
	def  drovertype.Task
	args [2]any
}

// copyTask copies src, which has no recovery task, into dst as deeply as
// Task.Clone does (values, slices and maps are copied; an empty map becomes
// nil), using args for the arguments when they fit.
func copyTask(dst, src *drovertype.Task, args []any) {
	*dst = *src
	if src.Args != nil {
		if len(src.Args) <= cap(args) {
			dst.Args = args[:len(src.Args)]
		} else {
			dst.Args = make([]any, len(src.Args))
		}
		for i, a := range src.Args {
			dst.Args[i] = drovertype.CloneValue(a)
		}
	}
	dst.Kwargs = cloneDict(src.Kwargs)
	dst.Push = cloneDict(src.Push)
	if src.Pull != nil {
		dst.Pull = slices.Clone(src.Pull)
	}
	if src.Argv != nil {
		dst.Argv = slices.Clone(src.Argv)
	}
	if src.Depend != nil {
		d := *src.Depend
		dst.Depend = &d
	}
}

func cloneDict(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = drovertype.CloneValue(v)
	}
	return c
}

func chainLen(t *drovertype.Task) int {
	n := 0
	for ; t != nil; t = t.Recovery {
		n++
	}
	return n
}

// Result waits for task id to finish and returns its result (the seed's
// get_task_result(id, block=True)):
//
//   - a map or command task that succeeded: its raw value (nil, bool, int64,
//     float64, string, []any, map[string]any, ...);
//   - a string task: its *drovertype.TaskResult, also when the task failed
//     (the TaskResult carries the failure; err is nil);
//   - a map or command task that failed, any task that was aborted or
//     failed the idle timeout: err is the task's *drovertype.TaskError
//     (errors.Is with drovertype.ErrTaskFailed, ErrTaskAborted,
//     ErrTaskTimeout, ErrEngineLost...);
//   - an unknown or cleared id: the seed's IndexError "task ID not
//     registered: 7" (kind NotFound).
//
// The value is the one stored for the task, shared with every caller of
// Result, Poll and Results: treat it as read-only (copy it with
// drovertype.CloneValue to change it).
//
// If ctx ends first, Result returns ctx's error; the task is not affected.
func (c *Controller) Result(ctx context.Context, id drovertype.TaskID) (any, error) {
	resp, err := c.call(ctx, request{op: opWait, wait: waitOne, ids: []drovertype.TaskID{id}})
	if err != nil {
		return nil, fmt.Errorf("result: task %d: %w", id, err)
	}
	if resp.err != nil && c.cfg.Journal != nil && drovertype.KindOf(resp.err) == drovertype.NotFound {
		if v, err, ok := c.fromJournal(ctx, "result", id); ok {
			return v, err
		}
	}
	return resp.value, resp.err
}

// fromJournal reads the result of a task the loop does not hold (finished
// before a restart). ok is false when the journal has none.
func (c *Controller) fromJournal(ctx context.Context, op string, id drovertype.TaskID) (any, error, bool) {
	v, te, found, err := c.cfg.Journal.Result(ctx, id)
	switch {
	case err != nil && ctx.Err() != nil:
		// The caller's wait ended during the read: say so (the control API
		// answers "not done" and the client asks again).
		return nil, fmt.Errorf("%s: task %d: %w", op, id, context.Cause(ctx)), true
	case err != nil:
		return nil, fmt.Errorf("%s: task %d: %w", op, id, err), true
	case !found:
		return nil, nil, false
	case te != nil:
		return nil, te, true
	}
	return v, nil, true
}

// Poll returns task id's result if it has finished (done is true; value
// and err as for Result), or done false at once if it is queued or running
// (the seed's get_task_result(id, block=False), whose None drover makes
// explicit). An unknown or cleared id is an error, as for Result.
func (c *Controller) Poll(ctx context.Context, id drovertype.TaskID) (value any, done bool, err error) {
	resp, err := c.call(ctx, request{op: opPoll, id: id})
	if err != nil {
		return nil, false, fmt.Errorf("poll: task %d: %w", id, err)
	}
	if resp.err != nil && c.cfg.Journal != nil && drovertype.KindOf(resp.err) == drovertype.NotFound {
		if v, err, ok := c.fromJournal(ctx, "poll", id); ok {
			return v, true, err
		}
	}
	return resp.value, resp.done, resp.err
}

// Results waits for every task in ids to finish and returns their results
// in the order of ids: values[i] and errs[i] are what Result(ids[i]) would
// return. The error is ctx's or ErrClosed only. One request serves them
// all (Map uses it).
func (c *Controller) Results(ctx context.Context, ids []drovertype.TaskID) (values []any, errs []error, err error) {
	// The loop keeps the ids until the tasks finish; the caller may reuse
	// its slice as soon as this returns (ctx ended): the loop gets a copy.
	resp, err := c.call(ctx, request{op: opWait, wait: waitAll, ids: slices.Clone(ids)})
	if err != nil {
		return nil, nil, fmt.Errorf("results: %w", err)
	}
	if resp.err != nil {
		return nil, nil, fmt.Errorf("results: %w", resp.err)
	}
	if c.cfg.Journal != nil {
		for i, e := range resp.errs {
			if e != nil && drovertype.KindOf(e) == drovertype.NotFound {
				v, err, ok := c.fromJournal(ctx, "result", ids[i])
				if err != nil && ctx.Err() != nil {
					// The wait ended while reading the results on disk:
					// that is the call's end, not the task's result.
					return nil, nil, fmt.Errorf("results: %w", context.Cause(ctx))
				}
				if ok {
					resp.values[i], resp.errs[i] = v, err
				}
			}
		}
	}
	return resp.values, resp.errs, nil
}

// Barrier waits until every task in ids has finished (the seed's barrier).
// It never reports the tasks' failures, and unknown or cleared ids count as
// finished. It returns ctx's error if ctx ends first, or ErrClosed if the
// controller stops.
func (c *Controller) Barrier(ctx context.Context, ids ...drovertype.TaskID) error {
	resp, err := c.call(ctx, request{op: opWait, wait: waitNone, ids: slices.Clone(ids)})
	if err == nil {
		err = resp.err
	}
	if err != nil {
		return fmt.Errorf("barrier: %w", err)
	}
	return nil
}

// Abort aborts task id (the seed's abort). A queued task (also one waiting
// for a retry, or whose recovery task is queued) finishes at once with
// TaskAborted. A running task's attempt is stopped (beyond the seed, which
// let it run): the engine cancels it, and the task finishes with
// TaskAborted when the engine reports the attempt's end, whatever its
// outcome, with no retry or recovery task. Errors, with the seed's texts:
// a finished task (also one aborted while queued) "Task Already
// Completed" (kind AlreadyCompleted); a second abort while the attempt is
// being stopped "Task Already Aborted" (AlreadyAborted); an unknown or
// cleared id "No task #7" (NotFound).
func (c *Controller) Abort(ctx context.Context, id drovertype.TaskID) error {
	resp, err := c.call(ctx, request{op: opAbort, id: id})
	if err != nil {
		return fmt.Errorf("abort: task %d: %w", id, err)
	}
	return resp.err
}

// Spin runs the scheduler (the seed's spin) and reports whether it
// dispatched at least one task. Engine properties changing does not
// trigger scheduling by itself (as in the seed); Spin does.
func (c *Controller) Spin(ctx context.Context) (bool, error) {
	resp, err := c.call(ctx, request{op: opSpin})
	if err != nil {
		return false, fmt.Errorf("spin: %w", err)
	}
	return resp.done, nil
}

// QueueStatus returns the ids of the tasks running (assigned to an engine;
// a running recovery task shows the original id), queued (in queue order),
// finished successfully and finished with a failure (the seed's
// queue_status(verbose=True)). Unlike the seed, which counts only string
// tasks, every finished task is counted: a map or command task that
// returned a value, a string task whose TaskResult has no failure are
// succeeded; every other (failed, aborted, timed out, engine lost) is
// failed. Pending, Succeeded and Failed are in increasing id order.
func (c *Controller) QueueStatus(ctx context.Context) (drovertype.QueueStatus, error) {
	resp, err := c.call(ctx, request{op: opStatus})
	if err != nil {
		return drovertype.QueueStatus{}, fmt.Errorf("queue status: %w", err)
	}
	return resp.status, nil
}

// DiskCounts returns how many results of tasks finished before the last
// restart the journal holds (and the loop does not), by outcome: part of
// QueueCounts, not listed by QueueStatus. Zero without a journal.
func (c *Controller) DiskCounts() (succeeded, failed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.diskOK, c.diskFail
}

// QueueCounts returns the numbers QueueStatus would list (the seed's
// queue_status(verbose=False)), in O(1).
func (c *Controller) QueueCounts(ctx context.Context) (drovertype.QueueCounts, error) {
	resp, err := c.call(ctx, request{op: opCounts})
	if err != nil {
		return drovertype.QueueCounts{}, fmt.Errorf("queue status: %w", err)
	}
	ok, failed := c.DiskCounts()
	resp.counts.Succeeded += ok
	resp.counts.Failed += failed
	return resp.counts, nil
}

// Clear forgets the results of the finished tasks in ids (the seed's
// clear(ids)) and returns how many it dropped. Their ids become unknown
// (and are never reused). If some id is not a finished task (unknown,
// cleared, queued or running), the others are dropped anyway and the error
// is the seed's KeyError "Cleared 1 results, but no tasks found for ids: 7,
// 8" (kind NotFound); queued and running tasks are not affected. No ids:
// 0, nil.
func (c *Controller) Clear(ctx context.Context, ids ...drovertype.TaskID) (int, error) {
	resp, err := c.call(ctx, request{op: opClear, ids: slices.Clone(ids)})
	if err != nil {
		return 0, fmt.Errorf("clear: %w", err)
	}
	if j := c.cfg.Journal; j != nil {
		// The results dropped from memory are on disk too; the missing ids
		// may be results from before a restart, on disk only.
		if _, _, err := j.Clear(ctx, resp.dropped); err != nil {
			return resp.n, err
		}
		var missing []drovertype.TaskID
		for _, id := range resp.missing {
			ok, failed, err := j.Clear(ctx, []drovertype.TaskID{id})
			if err != nil {
				return resp.n, err
			}
			if ok+failed == 0 {
				missing = append(missing, id)
				continue
			}
			resp.n++
			c.mu.Lock()
			c.diskOK = max(0, c.diskOK-ok)
			c.diskFail = max(0, c.diskFail-failed)
			c.mu.Unlock()
		}
		if len(missing) == 0 {
			return resp.n, nil
		}
		return resp.n, fmt.Errorf("clear: %w", drovertype.NewClearNotFound(resp.n, missing))
	}
	if resp.err != nil {
		return resp.n, fmt.Errorf("clear: %w", resp.err)
	}
	return resp.n, nil
}

// ClearAll forgets the results of every finished task (the seed's
// clear(None)) and returns how many it dropped.
func (c *Controller) ClearAll(ctx context.Context) (int, error) {
	resp, err := c.call(ctx, request{op: opClearAll})
	if err != nil {
		return 0, fmt.Errorf("clear: %w", err)
	}
	if j := c.cfg.Journal; j != nil {
		if err := j.ClearAll(ctx); err != nil {
			return resp.n, err
		}
		c.mu.Lock()
		resp.n += c.diskOK + c.diskFail
		c.diskOK, c.diskFail = 0, 0
		c.mu.Unlock()
	}
	return resp.n, nil
}

// Engines returns the registered engines in id order, with a copy of the
// properties the controller last saw for each.
func (c *Controller) Engines(ctx context.Context) ([]drovertype.EngineInfo, error) {
	resp, err := c.call(ctx, request{op: opEngines})
	if err != nil {
		return nil, fmt.Errorf("engines: %w", err)
	}
	return resp.engines, nil
}

// WaitEngines waits until at least n engines are registered.
func (c *Controller) WaitEngines(ctx context.Context, n int) error {
	resp, err := c.call(ctx, request{op: opWaitEngines, n: n})
	if err == nil {
		err = resp.err
	}
	if err != nil {
		return fmt.Errorf("wait for %d engines: %w", n, err)
	}
	return nil
}

// WaitEngine waits until the engine at transport address addr has
// registered and returns its id.
func (c *Controller) WaitEngine(ctx context.Context, addr string) (drovertype.EngineID, error) {
	resp, err := c.call(ctx, request{op: opWaitAddr, addr: addr})
	if err == nil {
		err = resp.err
	}
	if err != nil {
		return drovertype.NoEngine, fmt.Errorf("wait for engine %s: %w", addr, err)
	}
	return resp.engine, nil
}

// Call performs a namespace or property operation on engine id (push,
// pull, execute, reset, keys, and the property operations; see
// transport.CallOp) and returns the engine's reply value. The engine gets a
// copy of call's values and names. It runs in the
// engine's command order, behind the attempts already assigned to it. The
// controller sets call.ID. Errors: no such engine (kind NotFound); the
// engine was lost before it replied (EngineLost); the engine's own error
// (a *drovertype.TaskError: NameError for a missing name in pull, ...).
// Properties changed by the call are taken into the controller's cached
// copy (what depend sees), without triggering scheduling.
func (c *Controller) Call(ctx context.Context, id drovertype.EngineID, call transport.Call) (any, error) {
	// The engine gets a copy: the caller may change its values as soon as
	// Call returns, which it does when ctx ends, maybe before the engine
	// has read them.
	call.Values = cloneDict(call.Values)
	call.Names = slices.Clone(call.Names)
	resp, err := c.call(ctx, request{op: opCall, engine: id, callMsg: &call})
	if err == nil {
		err = resp.err
	}
	if err != nil {
		return nil, fmt.Errorf("%v on engine %d: %w", call.Op, id, err)
	}
	return resp.value, nil
}
