package scheduler_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/scheduler"
)

const (
	benchTasks   = 1_000_000
	benchEngines = 1_000
)

// workload describes a queue for the benchmarks.
type workload struct {
	name string
	// every dependEvery-th task is constrained (0: none), cycling over
	// groups 1..groups.
	dependEvery int
	groups      int
	// classes: engine e has class 1 + e%classes; perEngine: class = engine
	// id + 1 (every engine its own class, the controller's simplest choice).
	classes   int
	perEngine bool
}

// eligible: group g may run on classes whose number is divisible by g;
// group `groups` (the last) may run nowhere (a depend nothing satisfies).
func (w workload) eligible(calls *int) scheduler.Eligible {
	return func(g scheduler.Group, c scheduler.Class) bool {
		*calls++
		if int(g) == w.groups {
			return false
		}
		return int(c)%int(g) == 0
	}
}

func (w workload) group(i int) scheduler.Group {
	if w.dependEvery == 0 || i%w.dependEvery != 0 {
		return scheduler.Unconstrained
	}
	return scheduler.Group(1 + (i/w.dependEvery)%w.groups)
}

func (w workload) class(e int) scheduler.Class {
	if w.perEngine {
		return scheduler.Class(e + 1)
	}
	return scheduler.Class(1 + e%w.classes)
}

var workloads = []workload{
	{name: "no-depend", classes: 1},
	{name: "depend-10pct-8groups-4classes", dependEvery: 10, groups: 8, classes: 4},
	{name: "depend-10pct-8groups-engine-classes", dependEvery: 10, groups: 8, perEngine: true},
	{name: "depend-50pct-64groups-16classes", dependEvery: 2, groups: 64, classes: 16},
}

func build(tb testing.TB, p scheduler.Policy, w workload, tasks, engines int, calls *int) (scheduler.Scheduler, []scheduler.Group) {
	s, err := scheduler.New(p, w.eligible(calls))
	if err != nil {
		tb.Fatal(err)
	}
	groups := make([]scheduler.Group, tasks)
	for i := range tasks {
		groups[i] = w.group(i)
		if err := s.AddTask(scheduler.Item{ID: drovertype.TaskID(i), Group: groups[i]}); err != nil {
			tb.Fatal(err)
		}
	}
	for e := range engines {
		if err := s.AddEngine(drovertype.EngineID(e), w.class(e)); err != nil {
			tb.Fatal(err)
		}
	}
	return s, groups
}

// BenchmarkSchedule measures one decision plus what the controller does
// when the attempt ends: the task is requeued (a retry, or think of it as
// the next task arriving) and the engine readmitted. The queue holds
// 1,000,000 tasks and 1,000 idle engines throughout. evals/op is the number
// of Eligible calls per decision.
func BenchmarkSchedule(b *testing.B) {
	for _, p := range []scheduler.Policy{scheduler.FIFO, scheduler.LIFO} {
		for _, w := range workloads {
			b.Run(fmt.Sprintf("%v/%s", p, w.name), func(b *testing.B) {
				calls := 0
				s, groups := build(b, p, w, benchTasks, benchEngines, &calls)
				b.ReportAllocs()
				calls = 0
				for b.Loop() {
					t, e, ok := s.Schedule()
					if !ok {
						b.Fatal("no decision")
					}
					if err := s.AddTask(scheduler.Item{ID: t, Group: groups[t]}); err != nil {
						b.Fatal(err)
					}
					if err := s.AddEngine(e, w.class(int(e))); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(calls)/float64(b.N), "evals/op")
			})
		}
	}
}

// BenchmarkDrain measures decisions that remove tasks for good: engines
// are readmitted only once every engine is busy (so each op is a decision
// plus, amortized, one AddEngine), and half a million tasks are added when
// nothing is runnable on an all-idle set (dormant depend tasks stay).
func BenchmarkDrain(b *testing.B) {
	for _, w := range workloads {
		b.Run(w.name, func(b *testing.B) {
			calls := 0
			s, _ := build(b, scheduler.FIFO, w, benchTasks, benchEngines, &calls)
			b.ReportAllocs()
			next := benchTasks
			busy := make([]drovertype.EngineID, 0, benchEngines)
			calls = 0
			for b.Loop() {
				if _, e, ok := s.Schedule(); ok {
					busy = append(busy, e)
					continue
				}
				if len(busy) == 0 {
					for range benchTasks / 2 {
						_ = s.AddTask(scheduler.Item{ID: drovertype.TaskID(next), Group: w.group(next)})
						next++
					}
				}
				for _, e := range busy {
					_ = s.AddEngine(e, w.class(int(e)))
				}
				busy = busy[:0]
			}
			b.ReportMetric(float64(calls)/float64(b.N), "evals/op")
			b.ReportMetric(float64(s.NumTasks()), "queued")
		})
	}
}

// BenchmarkAddTask measures queueing b.N tasks into one scheduler and
// reports the heap bytes each queued task holds (the arena node, the index
// entry, amortized growth). Run with -benchtime=1000000x for the figure at
// one million tasks.
func BenchmarkAddTask(b *testing.B) {
	for _, w := range workloads[:2] {
		b.Run(w.name, func(b *testing.B) {
			calls := 0
			s, _ := build(b, scheduler.FIFO, w, 0, 0, &calls)
			before := heapInUse()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.AddTask(scheduler.Item{ID: drovertype.TaskID(i), Group: w.group(i)}); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.StopTimer()
			b.ReportMetric(float64(heapInUse()-before)/float64(s.NumTasks()), "B/task")
			runtime.KeepAlive(s)
		})
	}
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestMemoryPerTask enforces the budget of 1 KiB per queued task (not a
// timing: heap bytes). It is not parallel, so no other test of this package
// allocates meanwhile.
func TestMemoryPerTask(t *testing.T) {
	const n = 200_000
	for _, w := range workloads[:2] {
		calls := 0
		before := heapInUse()
		s, _ := build(t, scheduler.FIFO, w, n, benchEngines, &calls)
		perTask := float64(heapInUse()-before) / n
		runtime.KeepAlive(s)
		t.Logf("%s: %.0f bytes per queued task (%d tasks)", w.name, perTask, n)
		if perTask > 1024 {
			t.Errorf("%s: %.0f bytes per queued task, budget 1024", w.name, perTask)
		}
	}
	// Worst case for the paged index: every queued id alone in its page.
	s := scheduler.NewFIFO(nil)
	before := heapInUse()
	for i := range n / 4 {
		must(t, s.AddTask(scheduler.Item{ID: drovertype.TaskID(i * 128)}))
	}
	perTask := float64(heapInUse()-before) / (n / 4)
	runtime.KeepAlive(s)
	t.Logf("sparse ids: %.0f bytes per queued task (%d tasks)", perTask, n/4)
	if perTask > 1024 {
		t.Errorf("sparse ids: %.0f bytes per queued task, budget 1024", perTask)
	}
}

// TestSteadyStateDoesNotAllocate checks that decisions and readmissions
// reuse the scheduler's nodes once it is warm.
func TestSteadyStateDoesNotAllocate(t *testing.T) {
	for _, p := range []scheduler.Policy{scheduler.FIFO, scheduler.LIFO} {
		for _, w := range workloads {
			calls := 0
			s, groups := build(t, p, w, 20_000, 100, &calls)
			step := func() {
				tk, e, ok := s.Schedule()
				if !ok {
					t.Fatal("no decision")
				}
				_ = s.AddTask(scheduler.Item{ID: tk, Group: groups[tk]})
				_ = s.AddEngine(e, w.class(int(e)))
			}
			for range 50_000 { // warm up: every group and class has come and gone
				step()
			}
			if a := testing.AllocsPerRun(10_000, step); a != 0 {
				t.Errorf("%v/%s: %v allocations per decision", p, w.name, a)
			}
		}
	}
}
