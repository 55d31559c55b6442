package bgjob

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// listID says which of the manager's lists a job is in.
type listID uint8

const (
	inNone listID = iota
	inRunning
	inCompleted
	inDead
)

// jobList is an ordered list of jobs from which jobs are removed by marking
// (Job.where no longer equals the list's id) and compacted later, so that
// removal is O(1) amortized and order is kept.
type jobList struct {
	jobs  []*Job
	holes int
}

func (l *jobList) add(j *Job) { l.jobs = append(l.jobs, j) }

// removed records that one job left the list and compacts it when at least
// half of it is holes.
func (l *jobList) removed(id listID) {
	l.holes++
	if l.holes > 32 && l.holes*2 > len(l.jobs) {
		l.compact(id)
	}
}

func (l *jobList) compact(id listID) {
	if l.holes == 0 {
		return
	}
	k := 0
	for _, j := range l.jobs {
		if j.where == id {
			l.jobs[k] = j
			k++
		}
	}
	clear(l.jobs[k:])
	l.jobs = l.jobs[:k]
	l.holes = 0
}

// snapshot compacts the list and returns a copy of it.
func (l *jobList) snapshot(id listID) []*Job {
	l.compact(id)
	return slices.Clone(l.jobs)
}

func (l *jobList) len() int { return len(l.jobs) - l.holes }

// Manager creates and tracks background jobs: the Go counterpart of
// IPython's BackgroundJobManager. Create one with New. A Manager is safe for
// concurrent use; one mutex guards its lists, and it is never held while a
// job runs or while output is written to a caller's io.Writer.
type Manager struct {
	cfg Config // immutable after New

	mu      sync.Mutex
	closed  bool
	next    int    // the next job number
	all     []*Job // registered jobs in increasing number order
	running jobList
	done    jobList // completed
	dead    jobList
	// Jobs detected as finished (by update) and not reported yet. They hold
	// only what StatusNew prints, so that Flush, which leaves them there as
	// modern IPython does, really releases the jobs.
	compReport []reportEntry
	deadReport []reportEntry
	// Jobs that finished since the last update, in the order they finished.
	pending []*Job

	wg    sync.WaitGroup // one count per job goroutine
	names sync.Map       // function names by code address (uintptr → string)
	bufs  sync.Pool      // *[]byte buffers for Status output
}

// New returns a Manager configured by cfg; nil means all defaults. It
// returns an error naming the field if a field is invalid.
func New(cfg *Config) (*Manager, error) {
	m := &Manager{}
	if cfg != nil {
		m.cfg = *cfg
	}
	switch {
	case m.cfg.OutputLimit < 0:
		return nil, fmt.Errorf("new job manager: Config.OutputLimit is %d, want >= 0", m.cfg.OutputLimit)
	case m.cfg.OutputLimit == 0:
		m.cfg.OutputLimit = DefaultOutputLimit
	}
	switch {
	case m.cfg.KillGrace < 0:
		return nil, fmt.Errorf("new job manager: Config.KillGrace is %v, want >= 0", m.cfg.KillGrace)
	case m.cfg.KillGrace == 0:
		m.cfg.KillGrace = DefaultKillGrace
	}
	return m, nil
}

// New starts a background job; it is NewWith with zero Options.
func (m *Manager) New(target any, args ...any) (*Job, error) {
	return m.NewWith(Options{}, target, args...)
}

// NewWith starts a background job for target and returns it; the job gets
// the next number (from 0, never reused) and is put in the running list.
//
// target may be:
//
//   - a Func (or a func(context.Context) (any, error)), with no args;
//   - any other Go function, called with args (each assignable to its
//     parameter; nil for a pointer, interface, map, slice, func or chan
//     parameter). If its first parameter is a context.Context, the job's
//     context is passed there and args bind the remaining ones. Its results
//     may be none, (T), (error) or (T, error);
//   - a string: an expression, compiled at once by Config.Evaluator with
//     args as its namespaces (at most 2: globals, locals);
//   - a Cmd or *Cmd: a command, with no args.
//
// Every error (ErrInvalidArgs, ErrNotCallable, ErrTooManyNamespaces,
// ErrNoEvaluator, a compile error, an unknown executable, ErrClosed) is
// returned before a number is taken: no job is registered.
func (m *Manager) NewWith(opts Options, target any, args ...any) (*Job, error) {
	j, err := m.register(opts, target, args)
	if err != nil {
		return nil, err
	}
	j.start()
	return j, nil
}

// register prepares a job and registers it (Created, in the running list)
// without starting its goroutine; the caller must start it (j.start()).
func (m *Manager) register(opts Options, target any, args []any) (*Job, error) {
	j := &Job{m: m, daemon: opts.Daemon}
	if err := m.prepare(j, target, args); err != nil {
		return nil, err
	}
	if opts.Name != "" {
		j.strform = opts.Name
	}
	j.out.limit = m.cfg.OutputLimit
	j.done = make(chan struct{})
	ctx, cancel := context.WithCancelCause(context.Background())
	j.ctx = jobCtx{Context: ctx, j: j}
	j.cancel = cancel

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		cancel(ErrClosed)
		return nil, fmt.Errorf("new job %s: %w", j.strform, ErrClosed)
	}
	j.num = m.next
	m.next++
	j.where = inRunning
	m.running.add(j)
	m.all = append(m.all, j)
	m.wg.Add(1)
	m.mu.Unlock()
	return j, nil
}

// lookup returns the registered job numbered num, or nil. m.mu must be held.
func (m *Manager) lookup(num int) *Job {
	i := sort.Search(len(m.all), func(i int) bool { return m.all[i].num >= num })
	if i < len(m.all) && m.all[i].num == num {
		return m.all[i]
	}
	return nil
}

func (m *Manager) get(num int) (*Job, error) {
	m.mu.Lock()
	j := m.lookup(num)
	m.mu.Unlock()
	if j == nil {
		return nil, &JobError{Num: num, Err: ErrNotFound}
	}
	return j, nil
}

// Get returns a registered job (IPython's jobs[key]). key is a job number of
// any Go integer type, or a *Job of this manager (Get(j) returns the same
// pointer as Get(j.Num()) while j is registered). An unknown key gives a
// *JobError matching ErrNotFound ("Job #7 not found"); a key of another type
// gives an error matching ErrNotFound too.
func (m *Manager) Get(key any) (*Job, error) {
	var num int
	switch k := key.(type) {
	case int:
		num = k
	case int8:
		num = int(k)
	case int16:
		num = int(k)
	case int32:
		num = int(k)
	case int64:
		if int64(int(k)) != k {
			return nil, fmt.Errorf("get job %d: %w", k, ErrNotFound)
		}
		num = int(k)
	case uint:
		if k > uint(maxInt) {
			return nil, fmt.Errorf("get job %d: %w", k, ErrNotFound)
		}
		num = int(k)
	case uint8:
		num = int(k)
	case uint16:
		num = int(k)
	case uint32:
		if uint64(k) > uint64(maxInt) {
			return nil, fmt.Errorf("get job %d: %w", k, ErrNotFound)
		}
		num = int(k)
	case uint64:
		if k > uint64(maxInt) {
			return nil, fmt.Errorf("get job %d: %w", k, ErrNotFound)
		}
		num = int(k)
	case uintptr:
		if uint64(k) > uint64(maxInt) {
			return nil, fmt.Errorf("get job %d: %w", k, ErrNotFound)
		}
		num = int(k)
	case *Job:
		if k == nil || k.m != m {
			return nil, fmt.Errorf("get job %v: %w: the job does not belong to this manager", k, ErrNotFound)
		}
		num = k.num
	default:
		return nil, fmt.Errorf("get job: %w: key %v of type %T is neither a job number nor a *Job", ErrNotFound, key, key)
	}
	return m.get(num)
}

const maxInt = int(^uint(0) >> 1)

// Jobs returns every registered job in number order: running, completed and
// dead ones, and those dropped from the lists by Remove (they stay
// registered, as in the seed's `all`); not those deleted by Flush.
func (m *Manager) Jobs() []*Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.all)
}

// Len returns the number of registered jobs (len(Jobs())).
func (m *Manager) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.all)
}

// update is the seed's _update_status: it moves the jobs that finished since
// the last update out of the running list into the completed or dead list and
// the matching report list, in running-list order (that is, job number
// order). m.mu must be held. Its cost is O(k log k) for k finished jobs.
func (m *Manager) update() {
	p := m.pending
	if len(p) == 0 {
		return
	}
	if len(p) > 1 {
		slices.SortFunc(p, func(a, b *Job) int { return a.num - b.num })
	}
	for _, j := range p {
		if j.where != inRunning { // cannot happen: only running jobs finish
			continue
		}
		if State(j.state.Load()) == Completed {
			j.where = inCompleted
			m.done.add(j)
			m.compReport = append(m.compReport, reportEntry{j.num, j.strform})
		} else {
			j.where = inDead
			m.dead.add(j)
			m.deadReport = append(m.deadReport, reportEntry{j.num, j.strform})
		}
		m.running.removed(inRunning)
	}
	clear(p)
	m.pending = p[:0]
}

// finished records that j reached its final state. m.mu must be held.
func (m *Manager) finished(j *Job) { m.pending = append(m.pending, j) }

// reportEntry is what a report list keeps of a finished job.
type reportEntry struct {
	num     int
	strform string
}

// groupReport appends the seed's _group_report of the jobs of group that
// are in list id to b, and reports whether there were any.
func groupReport(b []byte, group []*Job, id listID, name string) ([]byte, bool) {
	some := false
	for _, j := range group {
		if j.where != id {
			continue
		}
		if !some {
			b = groupHeader(b, name)
			some = true
		}
		b = groupLine(b, j.num, j.strform)
	}
	if some {
		b = append(b, '\n')
	}
	return b, some
}

// reportNew is groupReport for a report list.
func reportNew(b []byte, group []reportEntry, name string) ([]byte, bool) {
	if len(group) == 0 {
		return b, false
	}
	b = groupHeader(b, name)
	for _, e := range group {
		b = groupLine(b, e.num, e.strform)
	}
	return append(b, '\n'), true
}

func groupHeader(b []byte, name string) []byte {
	b = append(b, name...)
	return append(b, " jobs:\n"...)
}

// groupLine appends the seed's "%s : %s" line.
func groupLine(b []byte, num int, strform string) []byte {
	b = strconv.AppendInt(b, int64(num), 10)
	b = append(b, " : "...)
	b = append(b, strform...)
	return append(b, '\n')
}

// Status updates the lists and prints the running, completed and dead jobs
// (IPython's jobs.status(), or jobs()):
//
//	Running jobs:
//	0 : sleeper
//
//	Completed jobs:
//	...
//
// one "N : <Job.String()>" line per job and an empty line after each group;
// an empty group prints nothing. It also clears the "new since last report"
// lists that StatusNew prints. The output is written after the lock is
// released, so a slow w does not hold up the manager.
func (m *Manager) Status(w io.Writer) {
	bp := m.getBuf()
	m.mu.Lock()
	m.update()
	b := *bp
	b, _ = groupReport(b, m.running.jobs, inRunning, "Running")
	b, _ = groupReport(b, m.done.jobs, inCompleted, "Completed")
	b, _ = groupReport(b, m.dead.jobs, inDead, "Dead")
	m.clearReports()
	m.mu.Unlock()
	if len(b) > 0 {
		_, _ = w.Write(b)
	}
	*bp = b
	m.putBuf(bp)
}

// getBuf returns an empty buffer for printing, from m.bufs.
func (m *Manager) getBuf() *[]byte {
	if bp, ok := m.bufs.Get().(*[]byte); ok {
		return bp
	}
	return new([]byte)
}

// putBuf returns a buffer to m.bufs, unless it is too big to keep.
func (m *Manager) putBuf(bp *[]byte) {
	if cap(*bp) > 16<<20 {
		return
	}
	*bp = (*bp)[:0]
	m.bufs.Put(bp)
}

func (m *Manager) clearReports() {
	clear(m.compReport)
	m.compReport = m.compReport[:0]
	clear(m.deadReport)
	m.deadReport = m.deadReport[:0]
}

// StatusNew is the seed's _status_new: it updates the lists, prints the jobs
// that finished since the last report (by Status or StatusNew) under
// "Completed jobs:" and "Dead, call jobs.traceback() for details jobs:",
// clears that record and reports whether it printed anything. A shell calls
// it before each prompt.
func (m *Manager) StatusNew(w io.Writer) bool {
	bp := m.getBuf()
	m.mu.Lock()
	m.update()
	b := *bp
	b, newComp := reportNew(b, m.compReport, "Completed")
	b, newDead := reportNew(b, m.deadReport, "Dead, call jobs.traceback() for details")
	m.clearReports()
	m.mu.Unlock()
	if len(b) > 0 {
		_, _ = w.Write(b)
	}
	*bp = b
	m.putBuf(bp)
	return newComp || newDead
}

// Running updates the lists and returns the running list: the jobs not yet
// seen finished, Created ones included, in number order.
func (m *Manager) Running() []*Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.update()
	return m.running.snapshot(inRunning)
}

// Completed updates the lists and returns the completed list, in the order
// the jobs were detected as finished.
func (m *Manager) Completed() []*Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.update()
	return m.done.snapshot(inCompleted)
}

// Dead updates the lists and returns the dead list, in the order the jobs
// were detected as finished.
func (m *Manager) Dead() []*Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.update()
	return m.dead.snapshot(inDead)
}

// Remove updates the lists and drops a finished job from the completed or
// dead list. The job stays registered: Get and Result still find it, but
// Status no longer shows it and Flush never deletes it. A Running job gives
// a *JobError matching ErrStillRunning ("Job #3 is still running, it can not
// be removed."), an unknown number one matching ErrNotFound; a Created job,
// or a job already removed, is left alone and Remove returns nil.
func (m *Manager) Remove(num int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.update()
	j := m.lookup(num)
	if j == nil {
		return &JobError{Num: num, Err: ErrNotFound}
	}
	switch State(j.state.Load()) {
	case Running:
		return &JobError{Num: num, Err: ErrStillRunning}
	case Completed:
		if j.where == inCompleted {
			j.where = inNone
			m.done.removed(inCompleted)
		}
	case Dead:
		if j.where == inDead {
			j.where = inNone
			m.dead.removed(inDead)
		}
	}
	return nil
}

// Flush updates the lists, deletes every completed and dead job (they are no
// longer registered: Get gives ErrNotFound), empties both lists and prints
// "Flushing 2 Completed jobs." and "Flushing 1 Dead job." for the non-empty
// ones, or "No jobs to flush.". Running and Created jobs are never flushed.
// As in modern IPython there is no abort when jobs finished since the last
// report, and the report lists are not cleared (StatusNew still reports a
// flushed job once; it keeps only its number and string form). Flushed jobs
// are no longer referenced by the manager.
func (m *Manager) Flush(w io.Writer) {
	m.mu.Lock()
	m.update()
	m.running.compact(inRunning) // drop the finished jobs it still points to
	m.done.compact(inCompleted)
	m.dead.compact(inDead)
	nComp, nDead := len(m.done.jobs), len(m.dead.jobs)
	if nComp+nDead > 0 {
		for _, j := range m.done.jobs {
			j.where = inNone
			j.flushed = true
		}
		for _, j := range m.dead.jobs {
			j.where = inNone
			j.flushed = true
		}
		k := 0
		for _, j := range m.all {
			if !j.flushed {
				m.all[k] = j
				k++
			}
		}
		clear(m.all[k:])
		m.all = m.all[:k]
		m.done = jobList{}
		m.dead = jobList{}
	}
	m.mu.Unlock()
	var b []byte
	b = groupFlush(b, nComp, "Completed")
	b = groupFlush(b, nDead, "Dead")
	if nComp+nDead == 0 {
		b = append(b, "No jobs to flush.\n"...)
	}
	_, _ = w.Write(b)
}

func groupFlush(b []byte, n int, name string) []byte {
	if n == 0 {
		return b
	}
	b = fmt.Appendf(b, "Flushing %d %s job", n, name)
	if n != 1 {
		b = append(b, 's')
	}
	return append(b, ".\n"...)
}

// Result returns Get(num).Result(): the value of a completed job, or the
// seed's placeholder text while it runs or after it died.
func (m *Manager) Result(num int) (any, error) {
	j, err := m.get(num)
	if err != nil {
		return nil, err
	}
	return j.Result(), nil
}

// Traceback prints the traceback of job num followed by a newline, or
// "None" if the job did not die (as Python prints a None _tb).
func (m *Manager) Traceback(w io.Writer, num int) error {
	j, err := m.get(num)
	if err != nil {
		return err
	}
	tb := j.Traceback()
	if tb == "" {
		tb = "None"
	}
	_, err = io.WriteString(w, trimNL(tb)+"\n")
	return err
}

// Tracebacks updates the lists and, for every job in the dead list, prints
// "Traceback for: <Repr>", the traceback and an empty line (modern IPython's
// jobs.traceback() without argument).
func (m *Manager) Tracebacks(w io.Writer) {
	m.mu.Lock()
	m.update()
	dead := m.dead.snapshot(inDead)
	m.mu.Unlock()
	var b []byte
	for _, j := range dead {
		b = append(b, "Traceback for: "...)
		b = append(b, j.Repr()...)
		b = append(b, '\n')
		b = append(b, trimNL(j.Traceback())...)
		b = append(b, "\n\n"...)
	}
	if len(b) > 0 {
		_, _ = w.Write(b)
	}
}

func trimNL(s string) string { return strings.TrimRight(s, "\n") }

// Kill kills job num (see Job.Kill).
func (m *Manager) Kill(num int) error {
	j, err := m.get(num)
	if err != nil {
		return err
	}
	return j.Kill()
}

// Wait waits until job num has finished or ctx ends (see Job.Wait).
func (m *Manager) Wait(ctx context.Context, num int) error {
	j, err := m.get(num)
	if err != nil {
		return err
	}
	return j.Wait(ctx)
}

// unfinished returns the jobs not yet finished but self, daemons included
// or not.
func (m *Manager) unfinished(daemons bool, self *Job) (plain, daemon []*Job) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, j := range m.running.jobs {
		if j.where != inRunning || j == self || j.Finished() {
			continue
		}
		if j.daemon {
			if daemons {
				daemon = append(daemon, j)
			}
		} else {
			plain = append(plain, j)
		}
	}
	return plain, daemon
}

// WaitAll waits until every non-daemon job has finished, including jobs
// started while it waits, or until ctx ends (it then returns an error
// wrapping ctx.Err()). Called by one of the manager's jobs with its context
// (or one derived from it), it waits for every other job.
func (m *Manager) WaitAll(ctx context.Context) error {
	self := jobOf(ctx)
	for {
		jobs, _ := m.unfinished(false, self)
		if len(jobs) == 0 {
			return nil
		}
		for _, j := range jobs {
			select {
			case <-j.done:
			case <-ctx.Done():
				return fmt.Errorf("wait for all jobs: %w", ctx.Err())
			}
		}
	}
}

// Close shuts the manager down: New fails with ErrClosed from now on, daemon
// jobs are killed at once, the other unfinished jobs are waited for until ctx
// ends and then killed. Close returns when every job goroutine and every
// command process has ended, so it can block past ctx if a function job
// ignores its context; for the same reason a job must not call Close of its
// own manager. It returns nil if no non-daemon job had to be killed,
// else an error wrapping ctx.Err(). Calling it again is safe and waits again.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	plain, daemons := m.unfinished(true, nil)
	for _, j := range daemons {
		_ = j.Kill()
	}
	var err error
	for _, j := range plain {
		select {
		case <-j.done:
			continue
		case <-ctx.Done():
		}
		killed := 0
		for _, j := range plain {
			if j.Kill() == nil {
				killed++
			}
		}
		if killed > 0 { // they may all have finished on their own meanwhile
			err = fmt.Errorf("close job manager: %w; killed %d unfinished jobs", ctx.Err(), killed)
		}
		break
	}
	m.wg.Wait()
	return err
}
