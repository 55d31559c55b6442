package bgjob_test

// Ports of IPython's tests/test_backgroundjobs.py and of the behaviours
// SEED-SPEC.md A6 lists, plus the lazy-update and report-list semantics of
// A3.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/bgjob"
)

const tShort = 1 // the seed's t_short interval; nothing sleeps here

// sleeper is the seed's sleeper without the sleep: it returns its arguments.
func sleeper(interval int, a ...any) map[string]any {
	return map[string]any{"interval": interval, "other_args": a}
}

// crasher is the seed's crasher: it fails.
func crasher(interval int) error {
	return fmt.Errorf("Dead job with interval %d", interval)
}

func TestResult(t *testing.T) { // test_result
	t.Parallel()
	m := newManager(t, nil)
	j := mustNew(t, m, sleeper, tShort)
	wait(t, j)
	res, ok := j.Result().(map[string]any)
	if !ok || res["interval"] != tShort {
		t.Fatalf("Result() = %#v, want a map with interval %d", j.Result(), tShort)
	}
	got, err := m.Result(j.Num())
	if err != nil || !cmp.Equal(got, j.Result()) {
		t.Fatalf("m.Result(%d) = %v, %v; want %v", j.Num(), got, err, j.Result())
	}
}

func TestFlush(t *testing.T) { // test_flush
	t.Parallel()
	m := newManager(t, nil)
	j := mustNew(t, m, sleeper, tShort)
	wait(t, j)
	if n, d := len(m.Completed()), len(m.Dead()); n != 1 || d != 0 {
		t.Fatalf("completed %d dead %d, want 1 0", n, d)
	}
	var b strings.Builder
	m.Flush(&b)
	if got, want := b.String(), "Flushing 1 Completed job.\n"; got != want {
		t.Errorf("Flush printed %q, want %q", got, want)
	}
	if n := len(m.Completed()); n != 0 {
		t.Fatalf("completed %d after flush, want 0", n)
	}
	if _, err := m.Get(j.Num()); !errors.Is(err, bgjob.ErrNotFound) {
		t.Fatalf("Get of a flushed job: %v, want ErrNotFound", err)
	}
}

func TestDead(t *testing.T) { // test_dead
	t.Parallel()
	m := newManager(t, nil)
	j := mustNew(t, m, crasher, tShort)
	wait(t, j)
	if n, d := len(m.Completed()), len(m.Dead()); n != 0 || d != 1 {
		t.Fatalf("completed %d dead %d, want 0 1", n, d)
	}
	var b strings.Builder
	m.Flush(&b)
	if got, want := b.String(), "Flushing 1 Dead job.\n"; got != want {
		t.Errorf("Flush printed %q, want %q", got, want)
	}
	if n := len(m.Dead()); n != 0 {
		t.Fatalf("dead %d after flush, want 0", n)
	}
}

func TestLonger(t *testing.T) { // test_longer: running, then completed
	t.Parallel()
	m := newManager(t, nil)
	release := make(chan struct{})
	j := mustNew(t, m, gate(release, "done"))
	if r, c := len(m.Running()), len(m.Completed()); r != 1 || c != 0 {
		t.Fatalf("running %d completed %d, want 1 0", r, c)
	}
	close(release)
	wait(t, j)
	if r, c := len(m.Running()), len(m.Completed()); r != 0 || c != 1 {
		t.Fatalf("running %d completed %d, want 0 1", r, c)
	}
}

func TestExpressionNamespaces(t *testing.T) {
	t.Parallel()
	glob := map[string]any{"x": 1, "y": 10}
	loc := map[string]any{"y": 2}
	tests := []struct {
		name string
		expr string
		ns   []any
		want any
	}{
		{"no namespace", "40+2", nil, 42},
		{"one namespace is globals and locals", "x+y", []any{glob}, 11},
		{"two namespaces, locals first", "x+y", []any{glob, loc}, 3},
		{"nil namespaces", "1+1", []any{nil, nil}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newManager(t, nil)
			j := mustNew(t, m, tt.expr, tt.ns...)
			wait(t, j)
			if diff := cmp.Diff(tt.want, j.Result()); diff != "" {
				t.Errorf("Result (-want +got):\n%s", diff)
			}
			if j.Kind() != bgjob.ExprJob || j.String() != tt.expr {
				t.Errorf("Kind %v String %q, want expression %q", j.Kind(), j.String(), tt.expr)
			}
		})
	}
}

// TestNewErrorsTakeNoNumber covers the New errors of the seed (≥3
// namespaces, new(42), non-callable, syntax error) and drover's own; none
// registers a job or uses a number.
func TestNewErrorsTakeNoNumber(t *testing.T) {
	t.Parallel()
	var nilFunc func(int) int
	var nilFunc2 bgjob.Func
	tests := []struct {
		name     string
		evalNil  bool
		target   any
		args     []any
		is       error
		wantText string // exact text if set
		contains string
	}{
		{name: "three namespaces", target: "1+2", args: []any{nil, nil, nil}, is: bgjob.ErrTooManyNamespaces,
			wantText: "Expression jobs take at most 2 args (globals,locals)"},
		{name: "new(42)", target: 42, is: bgjob.ErrInvalidArgs, contains: "invalid args for new job: the target of type int"},
		{name: "nil target", target: nil, is: bgjob.ErrInvalidArgs, contains: "invalid args for new job"},
		{name: "nil func", target: nilFunc, is: bgjob.ErrNotCallable, contains: "target is not callable"},
		{name: "nil Func", target: nilFunc2, is: bgjob.ErrNotCallable},
		{name: "statement is not an expression", target: "x = 1", is: errSyntax, contains: `compile expression job "x = 1"`},
		{name: "no evaluator", evalNil: true, target: "1+2", is: bgjob.ErrNoEvaluator},
		{name: "Func with args", target: bgjob.Func(func(context.Context) (any, error) { return nil, nil }), args: []any{1},
			is: bgjob.ErrInvalidArgs, contains: "takes no args"},
		{name: "command with args", target: bgjob.Cmd{Argv: []string{"true"}}, args: []any{1}, is: bgjob.ErrInvalidArgs},
		{name: "empty Cmd", target: bgjob.Cmd{}, is: bgjob.ErrInvalidArgs, contains: "neither Argv nor Shell"},
		{name: "Cmd with both", target: &bgjob.Cmd{Argv: []string{"true"}, Shell: "true"}, is: bgjob.ErrInvalidArgs, contains: "both"},
		{name: "nil *Cmd", target: (*bgjob.Cmd)(nil), is: bgjob.ErrInvalidArgs},
		{name: "unknown executable", target: bgjob.Cmd{Argv: []string{"no-such-command-bgjob"}}, contains: "no-such-command-bgjob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := &bgjob.Config{Evaluator: testEval{}}
			var m *bgjob.Manager
			if tt.evalNil {
				var err error
				if m, err = bgjob.New(nil); err != nil {
					t.Fatal(err)
				}
			} else {
				m = newManager(t, cfg)
			}
			j, err := m.New(tt.target, tt.args...)
			if err == nil {
				t.Fatalf("New(%#v, %v) = %v, want an error", tt.target, tt.args, j)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q does not match %q", err, tt.is)
			}
			if tt.wantText != "" && err.Error() != tt.wantText {
				t.Errorf("error text %q, want %q", err, tt.wantText)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
			if m.Len() != 0 {
				t.Errorf("a failed New registered a job: Len() = %d", m.Len())
			}
			if tt.evalNil {
				m, _ = bgjob.New(&bgjob.Config{})
				defer m.Close(context.Background())
			}
			j = mustNew(t, m, sleeper, 1)
			if j.Num() != 0 {
				t.Errorf("first job after a failed New is #%d, want #0", j.Num())
			}
			wait(t, j)
		})
	}
}

// TestZeroJobUnusable is the Go form of "BackgroundJobBase can not be
// instantiated directly": a Job not made by a Manager cannot run or be
// waited for.
func TestZeroJobUnusable(t *testing.T) {
	t.Parallel()
	var j bgjob.Job
	if err := j.Kill(); err == nil {
		t.Error("Kill of a zero Job succeeded")
	}
	if err := j.Wait(context.Background()); err == nil {
		t.Error("Wait of a zero Job succeeded")
	}
	if j.State() != bgjob.Created || j.Finished() || j.Result() != "<BackgroundJob has not completed>" {
		t.Errorf("zero Job: state %v finished %v result %v", j.State(), j.Finished(), j.Result())
	}
	if text, n := j.Output(); text != "" || n != 0 {
		t.Errorf("zero Job Output = %q, %d", text, n)
	}
}

func TestDaemonFlag(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	j, err := m.NewWith(bgjob.Options{Daemon: true}, sleeper, 1)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, j)
	if !j.Daemon() {
		t.Error("Daemon() = false for a daemon job")
	}
	if j2 := mustNew(t, m, sleeper, 1); j2.Daemon() {
		t.Error("Daemon() = true for a plain job")
	} else {
		wait(t, j2)
	}
}

func TestGetByNumberAndJob(t *testing.T) { // jobs[num] is jobs[job]
	t.Parallel()
	m := newManager(t, nil)
	j := mustNew(t, m, sleeper, 1)
	wait(t, j)
	for _, key := range []any{0, int8(0), int16(0), int32(0), int64(0), uint(0), uint8(0), uint16(0), uint32(0), uint64(0), uintptr(0), j} {
		got, err := m.Get(key)
		if err != nil || got != j {
			t.Errorf("Get(%T %v) = %v, %v; want job #0", key, key, got, err)
		}
	}
	_, err := m.Get(7)
	if !errors.Is(err, bgjob.ErrNotFound) || err.Error() != "Job #7 not found" {
		t.Errorf("Get(7) error %q, want ErrNotFound with text %q", err, "Job #7 not found")
	}
	for _, key := range []any{"0", -1, uint64(1) << 63, 1.0, (*bgjob.Job)(nil)} {
		if _, err := m.Get(key); !errors.Is(err, bgjob.ErrNotFound) {
			t.Errorf("Get(%T %v) error %v, want ErrNotFound", key, key, err)
		}
	}
	other := newManager(t, nil)
	if _, err := other.Get(j); !errors.Is(err, bgjob.ErrNotFound) {
		t.Errorf("Get of another manager's job: %v, want ErrNotFound", err)
	}
}

func TestStrRepr(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	tests := []struct {
		target   any
		opts     bgjob.Options
		wantStr  string
		wantKind bgjob.Kind
	}{
		{target: sleeper, wantStr: "bgjob_test.sleeper", wantKind: bgjob.FuncJob},
		{target: "1+2", wantStr: "1+2", wantKind: bgjob.ExprJob},
		{target: bgjob.Cmd{Argv: []string{"echo", "a b", "it's", ""}}, wantStr: `echo 'a b' 'it'\''s' ''`, wantKind: bgjob.CommandJob},
		{target: bgjob.Cmd{Shell: "echo $HOME | wc -c"}, wantStr: "echo $HOME | wc -c", wantKind: bgjob.CommandJob},
		{target: sleeper, opts: bgjob.Options{Name: "my job"}, wantStr: "my job", wantKind: bgjob.FuncJob},
	}
	for i, tt := range tests {
		args := []any{}
		if tt.wantKind == bgjob.FuncJob {
			args = []any{1}
		}
		j, err := m.NewWith(tt.opts, tt.target, args...)
		if err != nil {
			t.Fatal(err)
		}
		wait(t, j)
		if j.Num() != i {
			t.Errorf("job number %d, want %d", j.Num(), i)
		}
		if j.String() != tt.wantStr {
			t.Errorf("String() = %q, want %q", j.String(), tt.wantStr)
		}
		if want := fmt.Sprintf("<BackgroundJob #%d: %s>", i, tt.wantStr); j.Repr() != want {
			t.Errorf("Repr() = %q, want %q", j.Repr(), want)
		}
		if j.Kind() != tt.wantKind {
			t.Errorf("Kind() = %v, want %v", j.Kind(), tt.wantKind)
		}
	}
}

func TestStateAndKindStrings(t *testing.T) {
	t.Parallel()
	got := []string{bgjob.Created.String(), bgjob.Running.String(), bgjob.Completed.String(), bgjob.Dead.String(), bgjob.State(5).String(),
		bgjob.FuncJob.String(), bgjob.ExprJob.String(), bgjob.CommandJob.String(), bgjob.Kind(9).String()}
	want := []string{"Created", "Running", "Completed", "Dead (Exception), call jobs.traceback() for details", "State(5)",
		"function", "expression", "command", "Kind(9)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
	if bgjob.Dead != -1 || bgjob.Created != 0 || bgjob.Running != 1 || bgjob.Completed != 2 {
		t.Error("state codes differ from the seed's stat_*_c")
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	if got := statusOf(m); got != "" {
		t.Fatalf("Status of an empty manager printed %q", got)
	}
	release := make(chan struct{})
	defer close(release)
	run := mustNew(t, m, gate(release, nil))
	done := mustNew(t, m, sleeper, 1)
	wait(t, done)
	dead := mustNew(t, m, crasher, 1)
	wait(t, dead)
	want := "Running jobs:\n0 : bgjob_test.gateJob.run\n\n" +
		"Completed jobs:\n1 : bgjob_test.sleeper\n\n" +
		"Dead jobs:\n2 : bgjob_test.crasher\n\n"
	if diff := cmp.Diff(want, statusOf(m)); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
	// Status cleared the report lists.
	if out, ok := statusNewOf(m); ok || out != "" {
		t.Errorf("StatusNew after Status = %q, %v; want nothing", out, ok)
	}
	_ = run
}

func TestStatusNew(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	j := mustNew(t, m, sleeper, 1)
	d := mustNew(t, m, crasher, 1)
	wait(t, j)
	wait(t, d)
	out, ok := statusNewOf(m)
	want := "Completed jobs:\n0 : bgjob_test.sleeper\n\n" +
		"Dead, call jobs.traceback() for details jobs:\n1 : bgjob_test.crasher\n\n"
	if !ok || out != want {
		t.Errorf("StatusNew = %q, %v; want %q, true", out, ok, want)
	}
	if out, ok := statusNewOf(m); ok || out != "" {
		t.Errorf("second StatusNew = %q, %v; want nothing, false", out, ok)
	}
	// Status still lists them.
	if got := statusOf(m); !strings.Contains(got, "0 : bgjob_test.sleeper") || !strings.Contains(got, "1 : bgjob_test.crasher") {
		t.Errorf("Status = %q", got)
	}
}

// TestDetectionOrder: finished jobs enter the completed list (and the report
// list) in the order an update detects them: number order among the jobs
// detected by the same update, not finish order.
func TestDetectionOrder(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	rel := []chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	var jobs []*bgjob.Job
	for i := range rel {
		jobs = append(jobs, mustNew(t, m, gate(rel[i], i)))
	}
	close(rel[2])
	wait(t, jobs[2])
	close(rel[0])
	wait(t, jobs[0])
	nums := func(js []*bgjob.Job) []int {
		var n []int
		for _, j := range js {
			n = append(n, j.Num())
		}
		return n
	}
	if diff := cmp.Diff([]int{0, 2}, nums(m.Completed())); diff != "" {
		t.Errorf("completed (-want +got):\n%s", diff)
	}
	close(rel[1])
	wait(t, jobs[1])
	if diff := cmp.Diff([]int{0, 2, 1}, nums(m.Completed())); diff != "" {
		t.Errorf("completed (-want +got):\n%s", diff)
	}
	// Completed() updated the lists, so the report holds all three, in
	// detection order.
	out, _ := statusNewOf(m)
	want := "Completed jobs:\n0 : bgjob_test.gateJob.run\n2 : bgjob_test.gateJob.run\n1 : bgjob_test.gateJob.run\n\n"
	if out != want {
		t.Errorf("StatusNew = %q, want %q", out, want)
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	c := mustNew(t, m, sleeper, 1)
	d := mustNew(t, m, crasher, 1)
	release, started := make(chan struct{}), make(chan struct{})
	r, err := m.NewWith(bgjob.Options{Name: "gate"}, startedGate(started, release))
	if err != nil {
		t.Fatal(err)
	}
	<-started // Running, not Created (Remove of a Created job does nothing)
	wait(t, c)
	wait(t, d)

	err = m.Remove(r.Num())
	if !errors.Is(err, bgjob.ErrStillRunning) || err.Error() != "Job #2 is still running, it can not be removed." {
		t.Errorf("Remove(running) = %q, want ErrStillRunning with the seed text", err)
	}
	err = m.Remove(9)
	if !errors.Is(err, bgjob.ErrNotFound) || err.Error() != "Job #9 not found" {
		t.Errorf("Remove(9) = %q, want ErrNotFound with the seed text", err)
	}
	for _, j := range []*bgjob.Job{c, d} {
		if err := m.Remove(j.Num()); err != nil {
			t.Fatalf("Remove(%d): %v", j.Num(), err)
		}
		if err := m.Remove(j.Num()); err != nil { // again: nothing to do
			t.Fatalf("second Remove(%d): %v", j.Num(), err)
		}
	}
	if n, dd := len(m.Completed()), len(m.Dead()); n != 0 || dd != 0 {
		t.Errorf("completed %d dead %d after Remove, want 0 0", n, dd)
	}
	// Removed jobs stay registered.
	if got, err := m.Get(c.Num()); err != nil || got != c {
		t.Errorf("Get of a removed job: %v, %v", got, err)
	}
	if res, err := m.Result(c.Num()); err != nil || res == nil {
		t.Errorf("Result of a removed job: %v, %v", res, err)
	}
	if got := statusOf(m); got != "Running jobs:\n2 : gate\n\n" {
		t.Errorf("Status after Remove = %q", got)
	}
	// Flush never deletes them: they are in no list.
	close(release)
	wait(t, r)
	var b strings.Builder
	m.Flush(&b)
	if b.String() != "Flushing 1 Completed job.\n" {
		t.Errorf("Flush printed %q", b.String())
	}
	if n := m.Len(); n != 2 {
		t.Errorf("Len() = %d after flush, want the 2 removed jobs", n)
	}
}

func TestFlushFormats(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	var b strings.Builder
	m.Flush(&b)
	if b.String() != "No jobs to flush.\n" {
		t.Errorf("Flush of an empty manager printed %q", b.String())
	}
	release := make(chan struct{})
	r := mustNew(t, m, gate(release, nil))
	for _, j := range []*bgjob.Job{mustNew(t, m, sleeper, 1), mustNew(t, m, sleeper, 2), mustNew(t, m, crasher, 1)} {
		wait(t, j)
	}
	b.Reset()
	m.Flush(&b)
	if want := "Flushing 2 Completed jobs.\nFlushing 1 Dead job.\n"; b.String() != want {
		t.Errorf("Flush printed %q, want %q", b.String(), want)
	}
	// The running job is never flushed; numbers are not reused.
	if js := m.Jobs(); len(js) != 1 || js[0] != r {
		t.Errorf("Jobs() after flush = %v, want only the running job", js)
	}
	if j := mustNew(t, m, sleeper, 1); j.Num() != 4 {
		t.Errorf("next job is #%d after flush, want #4", j.Num())
	} else {
		wait(t, j)
	}
	close(release)
	wait(t, r)
}

// TestFlushKeepsReports: as in modern IPython, Flush does not clear the
// report lists, so StatusNew still reports a flushed job once.
func TestFlushKeepsReports(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	wait(t, mustNew(t, m, sleeper, 1))
	var b strings.Builder
	m.Flush(&b)
	out, ok := statusNewOf(m)
	if !ok || out != "Completed jobs:\n0 : bgjob_test.sleeper\n\n" {
		t.Errorf("StatusNew after Flush = %q, %v", out, ok)
	}
}

func TestResultAndTraceback(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	c := mustNew(t, m, sleeper, 1)
	d := mustNew(t, m, crasher, 1)
	wait(t, c)
	wait(t, d)

	if _, err := m.Result(5); !errors.Is(err, bgjob.ErrNotFound) || err.Error() != "Job #5 not found" {
		t.Errorf("Result(5) error %q", err)
	}
	var b strings.Builder
	if err := m.Traceback(&b, 5); !errors.Is(err, bgjob.ErrNotFound) || b.Len() != 0 {
		t.Errorf("Traceback(5) = %v, printed %q", err, b.String())
	}
	if err := m.Traceback(&b, c.Num()); err != nil || b.String() != "None\n" {
		t.Errorf("Traceback(completed) = %v, printed %q; want None", err, b.String())
	}
	b.Reset()
	if err := m.Traceback(&b, d.Num()); err != nil || b.String() != "Dead job with interval 1\n" {
		t.Errorf("Traceback(dead) = %v, printed %q", err, b.String())
	}
	b.Reset()
	m.Tracebacks(&b)
	if want := "Traceback for: <BackgroundJob #1: bgjob_test.crasher>\nDead job with interval 1\n\n"; b.String() != want {
		t.Errorf("Tracebacks printed %q, want %q", b.String(), want)
	}
}

func TestDeadJobAttributes(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	j := mustNew(t, m, crasher, 1)
	wait(t, j)
	if j.State() != bgjob.Dead || j.Status() != "Dead (Exception), call jobs.traceback() for details" || !j.Finished() {
		t.Errorf("state %v status %q finished %v", j.State(), j.Status(), j.Finished())
	}
	if r, _ := j.Result().(string); !strings.Contains(r, "died") || r != "<BackgroundJob died, call jobs.traceback() for details>" {
		t.Errorf("Result() = %v", j.Result())
	}
	if !strings.Contains(j.Traceback(), "Dead job with interval 1") {
		t.Errorf("Traceback() = %q", j.Traceback())
	}
	if v, err := j.Value(); v != nil || err == nil || err.Error() != "Dead job with interval 1" {
		t.Errorf("Value() = %v, %v", v, err)
	}
	if j.Ended().IsZero() || j.Started().IsZero() || j.Duration() < 0 {
		t.Errorf("times: started %v ended %v duration %v", j.Started(), j.Ended(), j.Duration())
	}
}

func TestPlaceholdersWhileRunning(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	release := make(chan struct{})
	started := make(chan struct{})
	j := mustNew(t, m, func(ctx context.Context) (int, error) {
		close(started)
		<-release
		return 7, nil
	})
	<-started
	if j.State() != bgjob.Running || j.Finished() || j.Result() != "<BackgroundJob has not completed>" || j.Traceback() != "" {
		t.Errorf("running job: state %v finished %v result %v tb %q", j.State(), j.Finished(), j.Result(), j.Traceback())
	}
	if v, err := j.Value(); v != nil || err != nil {
		t.Errorf("Value() while running = %v, %v", v, err)
	}
	if !j.Ended().IsZero() || j.Started().IsZero() {
		t.Errorf("running job: started %v ended %v", j.Started(), j.Ended())
	}
	if err := m.Kill(9); !errors.Is(err, bgjob.ErrNotFound) {
		t.Errorf("Kill(9) = %v", err)
	}
	close(release)
	if err := m.Wait(context.Background(), j.Num()); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(context.Background(), 9); !errors.Is(err, bgjob.ErrNotFound) {
		t.Errorf("Wait(9) = %v", err)
	}
	if j.Result() != 7 || j.Duration() != j.Ended().Sub(j.Started()) {
		t.Errorf("Result %v Duration %v", j.Result(), j.Duration())
	}
	if err := j.Kill(); !errors.Is(err, bgjob.ErrNotRunning) || err.Error() != "Job #0 is not running" {
		t.Errorf("Kill of a finished job = %q", err)
	}
}

func TestWaitContext(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	release := make(chan struct{})
	j := mustNew(t, m, gate(release, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := j.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled ctx = %v", err)
	}
	if err := m.WaitAll(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitAll with a cancelled ctx = %v", err)
	}
	select {
	case <-j.Done():
		t.Fatal("Done closed while the job runs")
	default:
	}
	close(release)
	<-j.Done()
	if err := m.WaitAll(ctx); err != nil {
		t.Errorf("WaitAll with nothing running = %v", err)
	}
}

// TestNewReturnsRunningJob: as IPython's Thread.start() returns once the
// thread runs, a job that New returned is Running (not Created): its status
// says so and Remove refuses it with the seed's "still running" error
// instead of silently doing nothing.
func TestNewReturnsRunningJob(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	release := make(chan struct{})
	defer close(release)
	for range 50 {
		j := mustNew(t, m, gate(release, nil))
		if got := j.State(); got != bgjob.Running {
			t.Fatalf("%s: State() right after New = %v, want Running", j.Repr(), got)
		}
		if j.Started().IsZero() {
			t.Fatalf("%s: Started() is zero for a running job", j.Repr())
		}
		if err := m.Remove(j.Num()); !errors.Is(err, bgjob.ErrStillRunning) {
			t.Fatalf("Remove(%d) right after New = %v, want ErrStillRunning", j.Num(), err)
		}
	}
}
