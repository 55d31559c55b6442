package scheduler_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/scheduler"
)

type (
	TaskID   = drovertype.TaskID
	EngineID = drovertype.EngineID
)

// reference is the seed's FIFOScheduler/LIFOScheduler, written as plainly as
// the seed: two lists and the nested loop.
type reference struct {
	lifo     bool
	eligible scheduler.Eligible
	tasks    []scheduler.Item
	engines  []refEngine
}

type refEngine struct {
	id    EngineID
	class scheduler.Class
}

func (r *reference) AddTask(it scheduler.Item) error {
	for _, t := range r.tasks {
		if t.ID == it.ID {
			return drovertype.ErrAlreadyExists
		}
	}
	if r.lifo {
		r.tasks = slices.Insert(r.tasks, 0, it)
	} else {
		r.tasks = append(r.tasks, it)
	}
	return nil
}

func (r *reference) RemoveTask(id TaskID) bool {
	for i, t := range r.tasks {
		if t.ID == id {
			r.tasks = slices.Delete(r.tasks, i, i+1)
			return true
		}
	}
	return false
}

func (r *reference) AddEngine(id EngineID, c scheduler.Class) error {
	for _, e := range r.engines {
		if e.id == id {
			return drovertype.ErrAlreadyExists
		}
	}
	if r.lifo {
		r.engines = slices.Insert(r.engines, 0, refEngine{id, c})
	} else {
		r.engines = append(r.engines, refEngine{id, c})
	}
	return nil
}

func (r *reference) UpdateEngine(id EngineID, c scheduler.Class) bool {
	for i := range r.engines {
		if r.engines[i].id == id {
			r.engines[i].class = c
			return true
		}
	}
	return false
}

func (r *reference) RemoveEngine(id EngineID) bool {
	for i, e := range r.engines {
		if e.id == id {
			r.engines = slices.Delete(r.engines, i, i+1)
			return true
		}
	}
	return false
}

func (r *reference) Schedule() (TaskID, EngineID, bool) {
	for i, t := range r.tasks {
		for j, w := range r.engines {
			if t.Group == scheduler.Unconstrained || r.eligible(t.Group, w.class) {
				r.tasks = slices.Delete(r.tasks, i, i+1)
				r.engines = slices.Delete(r.engines, j, j+1)
				return t.ID, w.id, true
			}
		}
	}
	return 0, 0, false
}

func (r *reference) TaskIDs() []TaskID {
	out := []TaskID{}
	for _, t := range r.tasks {
		out = append(out, t.ID)
	}
	return out
}

func (r *reference) EngineIDs() []EngineID {
	out := []EngineID{}
	for _, e := range r.engines {
		out = append(out, e.id)
	}
	return out
}

// op is one step of a script, applied to both schedulers.
type op struct {
	kind  byte // 't' add task, 'T' remove task, 'e' add engine, 'E' remove engine, 'u' update engine, 's' schedule
	id    int64
	key   uint64 // group or class
	label string
}

func addT(id int64, g scheduler.Group) op { return op{kind: 't', id: id, key: uint64(g)} }
func rmT(id int64) op                     { return op{kind: 'T', id: id} }
func addE(id int64, c scheduler.Class) op { return op{kind: 'e', id: id, key: uint64(c)} }
func rmE(id int64) op                     { return op{kind: 'E', id: id} }
func updE(id int64, c scheduler.Class) op { return op{kind: 'u', id: id, key: uint64(c)} }
func sched() op                           { return op{kind: 's'} }
func drain() op                           { return op{kind: 'd'} }
func tasks(g scheduler.Group, ids ...int64) []op {
	var out []op
	for _, id := range ids {
		out = append(out, addT(id, g))
	}
	return out
}

// apply runs o on s and returns what it reported, as text.
func apply(s interface {
	AddTask(scheduler.Item) error
	RemoveTask(TaskID) bool
	AddEngine(EngineID, scheduler.Class) error
	UpdateEngine(EngineID, scheduler.Class) bool
	RemoveEngine(EngineID) bool
	Schedule() (TaskID, EngineID, bool)
}, o op) string {
	switch o.kind {
	case 't':
		err := s.AddTask(scheduler.Item{ID: TaskID(o.id), Group: scheduler.Group(o.key)})
		return fmt.Sprintf("add t%d: %v", o.id, errors.Is(err, drovertype.ErrAlreadyExists))
	case 'T':
		return fmt.Sprintf("rm t%d: %v", o.id, s.RemoveTask(TaskID(o.id)))
	case 'e':
		err := s.AddEngine(EngineID(o.id), scheduler.Class(o.key))
		return fmt.Sprintf("add e%d: %v", o.id, errors.Is(err, drovertype.ErrAlreadyExists))
	case 'E':
		return fmt.Sprintf("rm e%d: %v", o.id, s.RemoveEngine(EngineID(o.id)))
	case 'u':
		return fmt.Sprintf("upd e%d: %v", o.id, s.UpdateEngine(EngineID(o.id), scheduler.Class(o.key)))
	case 's':
		return decision(s.Schedule())
	case 'd':
		var out []string
		for {
			t, e, ok := s.Schedule()
			if !ok {
				return strings.Join(out, " ")
			}
			out = append(out, decision(t, e, ok))
		}
	}
	panic("bad op")
}

func decision(t TaskID, e EngineID, ok bool) string {
	if !ok {
		return "none"
	}
	return fmt.Sprintf("t%d→e%d", t, e)
}

// table is an eligibility relation: group → classes that may take it.
type table map[scheduler.Group][]scheduler.Class

func (tb table) eligible(g scheduler.Group, c scheduler.Class) bool { return slices.Contains(tb[g], c) }

// run drives a new scheduler and the reference through script and returns
// the decisions (Schedule results only) of the scheduler; every other
// result and the queue and idle orders must agree after each step.
func run(t *testing.T, p scheduler.Policy, elig scheduler.Eligible, script []op) []string {
	t.Helper()
	s, err := scheduler.New(p, elig)
	if err != nil {
		t.Fatal(err)
	}
	ref := &reference{lifo: p == scheduler.LIFO, eligible: elig}
	var decisions []string
	for i, o := range script {
		got, want := apply(s, o), apply(ref, o)
		if got != want {
			t.Fatalf("step %d (%c %d %d): scheduler %q, reference %q", i, o.kind, o.id, o.key, got, want)
		}
		if o.kind == 's' || o.kind == 'd' {
			decisions = append(decisions, got)
		}
		// slices.Equal first: cmp.Diff is slow and this runs at every step.
		if rt, st := ref.TaskIDs(), s.TaskIDs(); !slices.Equal(rt, st) {
			t.Fatalf("step %d: TaskIDs (-reference +scheduler):\n%s", i, cmp.Diff(rt, st))
		}
		if re, se := ref.EngineIDs(), s.EngineIDs(); !slices.Equal(re, se) {
			t.Fatalf("step %d: EngineIDs (-reference +scheduler):\n%s", i, cmp.Diff(re, se))
		}
		if s.NumTasks() != len(ref.tasks) || s.NumEngines() != len(ref.engines) {
			t.Fatalf("step %d: counts %d/%d, reference %d/%d", i, s.NumTasks(), s.NumEngines(), len(ref.tasks), len(ref.engines))
		}
	}
	return decisions
}

func concat(parts ...[]op) []op { return slices.Concat(parts...) }

func TestScheduleTable(t *testing.T) {
	t.Parallel()
	const gpu, cpu, never scheduler.Group = 1, 2, 3
	const cGPU, cCPU scheduler.Class = 10, 20
	elig := table{gpu: {cGPU}, cpu: {cCPU}}.eligible
	tests := []struct {
		name   string
		policy scheduler.Policy
		script []op
		want   []string // decisions, checked against hand-worked results as well as the reference
	}{
		{"fifo plain", scheduler.FIFO,
			concat(tasks(0, 0, 1, 2), []op{addE(7, cCPU), addE(8, cCPU), drain(), addE(9, cCPU), sched(), sched()}),
			[]string{"t0→e7 t1→e8", "t2→e9", "none"}},
		{"lifo plain", scheduler.LIFO,
			concat(tasks(0, 0, 1, 2), []op{addE(7, cCPU), addE(8, cCPU), drain(), addE(9, cCPU), sched()}),
			[]string{"t2→e8 t1→e7", "t0→e9"}},
		{"no engines", scheduler.FIFO, concat(tasks(0, 0), []op{sched(), addE(1, cCPU), sched()}),
			[]string{"none", "t0→e1"}},
		{"unmet depend does not block", scheduler.FIFO,
			concat(tasks(never, 0), tasks(gpu, 1), tasks(0, 2), []op{addE(5, cCPU), addE(6, cGPU), drain(), sched()}),
			[]string{"t1→e6 t2→e5", "none"}},
		{"depend picks the first eligible engine", scheduler.FIFO,
			concat([]op{addE(1, cCPU), addE(2, cGPU), addE(3, cGPU)}, tasks(gpu, 0), tasks(0, 1), []op{drain()}),
			[]string{"t0→e2 t1→e1"}},
		{"lifo depend picks the most recently freed eligible engine", scheduler.LIFO,
			concat([]op{addE(1, cGPU), addE(2, cGPU), addE(3, cCPU)}, tasks(gpu, 0), tasks(0, 1), []op{drain()}),
			[]string{"t1→e3 t0→e2"}},
		{"engine becomes eligible by update", scheduler.FIFO,
			concat(tasks(gpu, 0), []op{addE(1, cCPU), addE(2, cCPU), sched(), updE(2, cGPU), sched()}),
			[]string{"none", "t0→e2"}},
		{"update keeps the idle order", scheduler.FIFO,
			concat([]op{addE(1, cCPU), addE(2, cCPU), addE(3, cGPU), updE(1, cGPU)}, tasks(gpu, 0, 1), []op{drain()}),
			[]string{"t0→e1 t1→e3"}},
		{"remove queued task and idle engine", scheduler.FIFO,
			concat(tasks(0, 0, 1), []op{rmT(0), rmT(0), addE(1, cCPU), addE(2, cCPU), rmE(1), rmE(1), sched(), sched()}),
			[]string{"t1→e2", "none"}},
		{"requeued retry goes to the back (fifo)", scheduler.FIFO,
			concat(tasks(0, 0, 1), []op{addE(1, cCPU), sched(), addT(0, 0), addE(1, cCPU), sched(), addE(1, cCPU), sched()}),
			[]string{"t0→e1", "t1→e1", "t0→e1"}},
		{"requeued retry goes to the front (lifo)", scheduler.LIFO,
			concat(tasks(0, 0, 1), []op{addE(1, cCPU), sched(), addT(1, 0), addE(1, cCPU), sched()}),
			[]string{"t1→e1", "t1→e1"}},
		{"duplicates refused", scheduler.FIFO,
			concat(tasks(0, 0, 0), []op{addE(1, cCPU), addE(1, cGPU), sched()}),
			[]string{"t0→e1"}},
		{"dormant group wakes for a new class", scheduler.FIFO,
			concat(tasks(gpu, 0), []op{addE(1, cCPU), sched(), sched(), addE(2, cGPU), sched()}),
			[]string{"none", "none", "t0→e2"}},
		{"dormant group wakes when its class is idle again", scheduler.FIFO,
			concat(tasks(gpu, 0, 1), []op{addE(1, cGPU), addE(2, cCPU), sched(), sched(), addE(1, cGPU), sched()}),
			[]string{"t0→e1", "none", "t1→e1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := run(t, tc.policy, elig, tc.script)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("decisions (-want +got):\n%s", d)
			}
		})
	}
}

// TestEligibleIsCached checks that Eligible runs at most once per (group,
// class) while the group is queued, and not at all for repeated decisions
// over an unchanged set.
func TestEligibleIsCached(t *testing.T) {
	t.Parallel()
	calls := map[[2]uint64]int{}
	total := 0
	elig := func(g scheduler.Group, c scheduler.Class) bool {
		calls[[2]uint64{uint64(g), uint64(c)}]++
		total++
		return g == 1 && c == 10
	}
	s := scheduler.NewFIFO(elig)
	for i := range 1000 {
		if err := s.AddTask(scheduler.Item{ID: TaskID(i), Group: scheduler.Group(1 + i%3)}); err != nil {
			t.Fatal(err)
		}
	}
	for e := range 50 {
		if err := s.AddEngine(EngineID(e), 20); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		if _, _, ok := s.Schedule(); ok {
			t.Fatal("scheduled on an ineligible class")
		}
	}
	if total != 3 {
		t.Errorf("Eligible called %d times for 3 groups × 1 class, want 3: %v", total, calls)
	}
	// Busy engines coming back with the same class cost nothing.
	for e := range 50 {
		s.RemoveEngine(EngineID(e))
		if err := s.AddEngine(EngineID(e), 20); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := s.Schedule(); ok {
			t.Fatal("scheduled on an ineligible class")
		}
	}
	if total != 3 {
		t.Errorf("after re-adding engines of a known class: %d calls, want 3", total)
	}
	// A new class is evaluated once per group.
	if err := s.AddEngine(100, 10); err != nil {
		t.Fatal(err)
	}
	task, eng, ok := s.Schedule()
	if !ok || task != 0 || eng != 100 {
		t.Fatalf("Schedule = %d, %d, %v; want task 0 on engine 100", task, eng, ok)
	}
	if total != 4 { // group 1 is first in queue order: the other groups are not looked at
		t.Errorf("after a new class: %d calls, want 4: %v", total, calls)
	}
	for k, n := range calls {
		if n != 1 {
			t.Errorf("Eligible%v called %d times", k, n)
		}
	}
}

func TestEligiblePanicIsFalse(t *testing.T) {
	t.Parallel()
	s := scheduler.NewLIFO(func(g scheduler.Group, c scheduler.Class) bool {
		if g == 1 {
			panic("depend blew up")
		}
		return true
	})
	must(t, s.AddTask(scheduler.Item{ID: 0, Group: 2}))
	must(t, s.AddTask(scheduler.Item{ID: 1, Group: 1}))
	must(t, s.AddEngine(1, 1))
	if got := decision(s.Schedule()); got != "t0→e1" {
		t.Errorf("Schedule = %s, want t0→e1", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s := scheduler.NewFIFO(nil)
	err := s.AddTask(scheduler.Item{ID: 3, Group: 1})
	if !errors.Is(err, drovertype.ErrInvalidArgument) || !strings.Contains(err.Error(), "add task 3: group 1 needs an Eligible function") {
		t.Errorf("constrained task without Eligible: %v", err)
	}
	must(t, s.AddTask(scheduler.Item{ID: 3}))
	if err := s.AddTask(scheduler.Item{ID: 3}); err == nil || err.Error() != "scheduler: add task 3: already queued: already exists" {
		t.Errorf("duplicate task: %v", err)
	}
	must(t, s.AddEngine(4, 0))
	if err := s.AddEngine(4, 1); !errors.Is(err, drovertype.ErrAlreadyExists) || !strings.Contains(err.Error(), "add engine 4: already idle") {
		t.Errorf("duplicate engine: %v", err)
	}
	if s.UpdateEngine(5, 1) || s.RemoveEngine(5) || s.RemoveTask(9) {
		t.Error("unknown ids reported present")
	}
	if _, err := scheduler.New(7, nil); !errors.Is(err, drovertype.ErrInvalidArgument) {
		t.Errorf("New(7) = %v", err)
	}
	for _, tc := range []struct {
		in   string
		want scheduler.Policy
	}{{"fifo", scheduler.FIFO}, {"LIFO", scheduler.LIFO}} {
		p, err := scheduler.ParsePolicy(tc.in)
		if err != nil || p != tc.want {
			t.Errorf("ParsePolicy(%q) = %v, %v", tc.in, p, err)
		}
		var back scheduler.Policy
		b, _ := p.MarshalText()
		if back.UnmarshalText(b) != nil || back != p || scheduler.NewLIFO(nil).Policy() != scheduler.LIFO {
			t.Errorf("text round trip of %v", p)
		}
	}
	if _, err := scheduler.ParsePolicy("random"); err == nil || !strings.Contains(err.Error(), `unknown policy "random"`) {
		t.Errorf("ParsePolicy(random) = %v", err)
	}
}

// randomScript builds a script from a byte source: a mix of task and engine
// arrivals, removals, property changes, decisions, and completions that
// readmit the engine (sometimes with new properties) and requeue the task
// as a retry.
type scriptGen struct {
	next    func() byte
	groups  int
	classes int
	ops     []op
	nextID  int64
	queued  []int64
	running [][2]int64 // task, engine
}

func (g *scriptGen) pick(n int) int {
	if n <= 1 {
		return 0
	}
	return int(g.next()) % n
}

func (g *scriptGen) step() {
	group := func() uint64 {
		if g.pick(3) == 0 {
			return 0
		}
		return uint64(1 + g.pick(g.groups))
	}
	class := func() uint64 { return uint64(1 + g.pick(g.classes)) }
	switch g.pick(10) {
	case 0, 1, 2:
		g.ops = append(g.ops, addT(g.nextID, scheduler.Group(group())))
		g.queued = append(g.queued, g.nextID)
		g.nextID++
	case 3:
		id := int64(g.pick(int(g.nextID) + 2)) // sometimes unknown
		g.ops = append(g.ops, rmT(id))
	case 4:
		g.ops = append(g.ops, addE(int64(g.pick(12)), scheduler.Class(class())))
	case 5:
		g.ops = append(g.ops, rmE(int64(g.pick(12))))
	case 6:
		g.ops = append(g.ops, updE(int64(g.pick(12)), scheduler.Class(class())))
	case 7, 8:
		g.ops = append(g.ops, sched())
	case 9:
		// A retry: requeue a task id seen before with its group (possibly
		// a different one: the recovery task).
		if g.nextID > 0 {
			g.ops = append(g.ops, addT(int64(g.pick(int(g.nextID))), scheduler.Group(group())))
		}
	}
}

func genScript(next func() byte, n, groups, classes int) []op {
	g := &scriptGen{next: next, groups: groups, classes: classes}
	for range n {
		g.step()
	}
	return g.ops
}

// randomTable makes a random eligibility relation; some groups are eligible
// nowhere, some everywhere.
func randomTable(next func() byte, groups, classes int) table {
	tb := table{}
	for gi := 1; gi <= groups; gi++ {
		mode := next() % 4
		for c := 1; c <= classes; c++ {
			if mode == 1 || (mode >= 2 && next()%2 == 0) {
				tb[scheduler.Group(gi)] = append(tb[scheduler.Group(gi)], scheduler.Class(c))
			}
		}
	}
	return tb
}

func TestRandomAgainstReference(t *testing.T) {
	t.Parallel()
	for seed := range uint64(150) {
		for _, p := range []scheduler.Policy{scheduler.FIFO, scheduler.LIFO} {
			r := rand.New(rand.NewPCG(seed, uint64(p)))
			next := func() byte { return byte(r.Uint32()) }
			groups, classes := 1+r.IntN(6), 1+r.IntN(5)
			tb := randomTable(next, groups, classes)
			script := genScript(next, 400, groups, classes)
			t.Run(fmt.Sprintf("%v/%d", p, seed), func(t *testing.T) {
				run(t, p, tb.eligible, script)
			})
		}
	}
}

func FuzzAgainstReference(f *testing.F) {
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"))
	f.Add([]byte("\x01\x03\x05\x00\x00\x04\x04\x07\x07\x07\x02\x09\x06\x08"))
	f.Add([]byte(strings.Repeat("\x04\x01\x00\x07\x06\x02\x05\x08\x03\x09", 20)))
	f.Fuzz(func(t *testing.T, data []byte) {
		i := 0
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[i%len(data)]
			i++
			return b + byte(i/len(data)) // vary on wrap-around
		}
		if len(data) < 3 {
			return
		}
		policy := scheduler.Policy(data[0] % 2)
		groups, classes := 1+int(data[1]%5), 1+int(data[2]%4)
		tb := randomTable(next, groups, classes)
		run(t, policy, tb.eligible, genScript(next, 2*len(data), groups, classes))
	})
}

// TestExtremeTaskIDs covers ids far apart and negative (the index is paged
// by id).
func TestExtremeTaskIDs(t *testing.T) {
	t.Parallel()
	ids := []int64{-1, math.MinInt64, math.MaxInt64, 1 << 40, 0, 127, 128, -128, -129}
	var script []op
	for _, id := range ids {
		script = append(script, addT(id, 0), addT(id, 0))
	}
	script = append(script, rmT(1<<40), rmT(1<<40), rmT(5), addE(1, 1), addE(2, 1), drain(), addT(1<<40, 0))
	got := run(t, scheduler.FIFO, table{}.eligible, script)
	if d := cmp.Diff([]string{"t-1→e1 t-9223372036854775808→e2"}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
