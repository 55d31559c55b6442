package script

import (
	"context"
	"testing"

	"github.com/drover-dev/drover/bgjob"
)

// TestNoRaceWithRunningJobs runs jobs that keep reading a list, a dict, a
// set and a global while the session keeps mutating and reassigning them.
// Under -race this fails if a job and the session share memory: the jobs
// read snapshots taken when they were created (see snapshot.go).
func TestNoRaceWithRunningJobs(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	ts.exec(t, `
L = [0]
D = {"k": 0}
S = set([0])
x = 0
started = [gate(), gate(), gate()]
stop = gate()

def reader(i):
    started[i].open()
    n = 0
    for _ in range(1000000):
        if stop.is_open():
            break
        n += len(L) + len(D) + len(S) + x
        for v in L:
            n += v
        for k in D:
            n += D[k]
    return [len(L), len(D), len(S), x]

def probe(d, l, i):
    started[i].open()
    for _ in range(1000000):
        if stop.is_open():
            break
        n = len(d) + len(l)
    return [len(d), len(l)]

fj = jobs.new(reader, 0)               # a function job
ej = jobs.new("reader(1)")             # an expression job, caller's namespace
nj = jobs.new("probe(d, l, 2)", {"d": D, "l": L, "probe": probe, "started": started})
for g in started:
    g.wait()
`)
	// The jobs are running; the session mutates what they read.
	ts.exec(t, `
for i in range(2000):
    L.append(i)
    D[i] = i
    S.add(i)
    L[0] = i
    x = i
stop.open()
`)
	ts.exec(t, "jobs.wait()")
	for _, tc := range []struct{ expr, want string }{
		{"fj.result", "[1, 1, 1, 0]"},
		{"ej.result", "[1, 1, 1, 0]"},
		{"nj.result", "[1, 1]"},
		{"[len(L), len(D), len(S), x]", "[2001, 2001, 2000, 1999]"},
	} {
		if got := ts.exec(t, tc.expr).String(); got != tc.want {
			t.Errorf("%s = %s, want %s (%s)", tc.expr, got, tc.want, ts.exec(t, "[j.traceback() for j in jobs.dead]"))
		}
	}
}

// TestNoRaceJobResults reads one job's (frozen) result from the session
// and from other jobs at the same time.
func TestNoRaceJobResults(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	ts.exec(t, `
src = jobs.new(lambda: {"a": [1, 2, 3]})
src.wait()
def walk(job):
    n = 0
    for _ in range(200):
        for k in job.result:
            n += len(job.result[k])
    return n
readers = [jobs.new(walk, src) for _ in range(4)]
mine = walk(src)
jobs.wait()
`)
	if got := ts.exec(t, "[r.result for r in readers] + [mine]").String(); got != "[600, 600, 600, 600, 600]" {
		t.Errorf("results %s", got)
	}
}

// TestGoJobResultConverted checks that a Go function job's result is
// converted for Starlark.
func TestGoJobResultConverted(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	j, err := ts.Jobs().New(func() map[string]any { return map[string]any{"n": 1, "l": []int{2}} })
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := ts.exec(t, "jobs[0].result").String(); got != `{"l": [2], "n": 1}` {
		t.Errorf("result %s", got)
	}
	j2, err := ts.Jobs().New(func() chan int { return nil })
	if err != nil {
		t.Fatal(err)
	}
	j2.Wait(t.Context())
	_, _, err = ts.Exec(t.Context(), "<stdin>", "jobs[1].result")
	if err == nil || KindOf(err) != KindTypeError {
		t.Errorf("unconvertible result: %v", err)
	}
}

// TestEvaluatorStandalone uses the Evaluator in a Manager of one's own.
func TestEvaluatorStandalone(t *testing.T) {
	t.Parallel()
	m, err := bgjob.New(&bgjob.Config{Evaluator: &Evaluator{}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	ns := map[string]any{"a": 2, "b": []any{1, 2, 3}}
	j, err := m.New("a * len(b) + c", ns, map[string]any{"c": 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v, err := j.Value(); err != nil || v.(interface{ String() string }).String() != "16" {
		t.Errorf("Value() = %v, %v", v, err)
	}
	j2, err := m.New("print('x')")
	if err != nil {
		t.Fatal(err)
	}
	j2.Wait(t.Context())
	if out, _ := j2.Output(); out != "x\n" {
		t.Errorf("output %q", out)
	}
	for _, tc := range []struct {
		expr string
		ns   []any
		kind string
	}{
		{"x = 1", nil, KindSyntaxError},
		{"y", nil, KindNameError},
		{"a", []any{map[string]any{"a": make(chan int)}}, KindTypeError},
		{"a", []any{42}, KindTypeError},
	} {
		_, err := m.New(tc.expr, tc.ns...)
		if KindOf(err) != tc.kind {
			t.Errorf("New(%q): %v (kind %s), want kind %s", tc.expr, err, KindOf(err), tc.kind)
		}
	}
	if _, err := (&Evaluator{}).Compile("1", []any{nil, nil, nil}); KindOf(err) != KindValueError {
		t.Errorf("three namespaces: %v", err)
	}
}
