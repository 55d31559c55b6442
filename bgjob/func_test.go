package bgjob_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/bgjob"
)

type point struct{ X, Y int }

func addInts(a, b int) int                           { return a + b }
func addCtx(ctx context.Context, a int) (int, error) { return a + 1, ctx.Err() }
func sum(base int, more ...int) int {
	for _, m := range more {
		base += m
	}
	return base
}
func noResults(p *point)                 { p.X = 99 }
func onlyError(fail bool) error          { return map[bool]error{true: errors.New("failed")}[fail] }
func iface(v any, s fmt.Stringer) string { return fmt.Sprint(v, s == nil) }
func takesPoint(p point) int             { return p.X * p.Y }
func twoValues() (int, string)           { return 1, "a" }
func threeResults() (int, int, error)    { return 1, 2, nil }
func noArgs() string                     { return "none" }
func canonical(ctx context.Context) (any, error) {
	return "canonical", nil
}

func TestFunctionTargets(t *testing.T) {
	t.Parallel()
	p := &point{}
	tests := []struct {
		name    string
		target  any
		args    []any
		want    any
		wantErr string // error of the job (Dead) if set
		newErr  string // error of New if set (matches ErrInvalidArgs)
	}{
		{name: "two ints", target: addInts, args: []any{2, 3}, want: 5},
		{name: "ctx first", target: addCtx, args: []any{41}, want: 42},
		{name: "variadic none", target: sum, args: []any{1}, want: 1},
		{name: "variadic some", target: sum, args: []any{1, 2, 3}, want: 6},
		{name: "no results", target: noResults, args: []any{p}, want: nil},
		{name: "only error nil", target: onlyError, args: []any{false}, want: nil},
		{name: "only error", target: onlyError, args: []any{true}, wantErr: "failed"},
		{name: "nil for interfaces", target: iface, args: []any{nil, nil}, want: "<nil> true"},
		{name: "struct arg", target: takesPoint, args: []any{point{3, 4}}, want: 12},
		{name: "no args", target: noArgs, want: "none"},
		{name: "Func", target: bgjob.Func(canonical), want: "canonical"},
		{name: "canonical signature", target: canonical, want: "canonical"},
		{name: "method value", target: strings.NewReplacer("a", "b").Replace, args: []any{"aaa"}, want: "bbb"},

		{name: "too few", target: addInts, args: []any{1}, newErr: "bgjob_test.addInts takes 2 args, got 1"},
		{name: "too many", target: addInts, args: []any{1, 2, 3}, newErr: "takes 2 args, got 3"},
		{name: "variadic too few", target: sum, newErr: "takes at least 1 args, got 0"},
		{name: "wrong type", target: addInts, args: []any{1, "2"}, newErr: "arg 2: string is not assignable to int"},
		{name: "wrong variadic type", target: sum, args: []any{1, 2.5}, newErr: "arg 2: float64 is not assignable to int"},
		{name: "nil for int", target: addInts, args: []any{nil, 1}, newErr: "arg 1: nil is not a valid int"},
		{name: "two values", target: twoValues, newErr: "has results (int, string)"},
		{name: "three results", target: threeResults, newErr: "has results (int, int, error)"},
		{name: "ctx passed by caller", target: addCtx, args: []any{context.Background(), 1}, newErr: "takes 1 args, got 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newManager(t, nil)
			j, err := m.New(tt.target, tt.args...)
			if tt.newErr != "" {
				if !errors.Is(err, bgjob.ErrInvalidArgs) || !strings.Contains(err.Error(), tt.newErr) {
					t.Fatalf("New error %v, want ErrInvalidArgs containing %q", err, tt.newErr)
				}
				if !strings.HasPrefix(err.Error(), "invalid args for new job: ") {
					t.Errorf("error %q does not start with the seed text", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wait(t, j)
			v, jerr := j.Value()
			if tt.wantErr != "" {
				if jerr == nil || jerr.Error() != tt.wantErr || j.State() != bgjob.Dead {
					t.Fatalf("Value() = %v, %v; want error %q", v, jerr, tt.wantErr)
				}
				return
			}
			if jerr != nil {
				t.Fatal(jerr)
			}
			if diff := cmp.Diff(tt.want, v); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
			if j.State() != bgjob.Completed || j.Kind() != bgjob.FuncJob {
				t.Errorf("state %v kind %v", j.State(), j.Kind())
			}
		})
	}
	t.Cleanup(func() { // after the parallel subtests
		if p.X != 99 {
			t.Error("the pointer argument was not passed through")
		}
	})
}

func TestPanic(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	j := mustNew(t, m, func() { panic("boom") })
	e := mustNew(t, m, "panic()")
	for _, j := range []*bgjob.Job{j, e} {
		wait(t, j)
		if j.State() != bgjob.Dead {
			t.Fatalf("state %v after a panic", j.State())
		}
		_, err := j.Value()
		var pe *bgjob.PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v is not a *PanicError", err)
		}
		tb := j.Traceback()
		if !strings.HasPrefix(tb, "panic: ") || !strings.Contains(tb, "goroutine ") || !strings.Contains(tb, "bgjob_test.") {
			t.Errorf("traceback lacks the panic or its stack:\n%s", tb)
		}
	}
	if _, err := j.Value(); err.Error() != "panic: boom" {
		t.Errorf("error text %q", err)
	}
	// A panic with an error value unwraps to it.
	sentinel := errors.New("sentinel")
	k := mustNewWait(t, m, func() { panic(sentinel) })
	if _, err := k.Value(); !errors.Is(err, sentinel) {
		t.Errorf("error %v does not unwrap to the panic value", err)
	}
}

func TestGoexit(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	j := mustNewWait(t, m, func() { runtime.Goexit() })
	if _, err := j.Value(); j.State() != bgjob.Dead || err == nil || !strings.Contains(err.Error(), "Goexit") {
		t.Errorf("state %v error %v", j.State(), err)
	}
}

func TestExpressionJobs(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	p := mustNewWait(t, m, "print(x)", map[string]any{"x": "hello"})
	if out, _ := p.Output(); out != "hello\n" || p.Result() != nil || p.State() != bgjob.Completed {
		t.Errorf("print: output %q result %v state %v", out, p.Result(), p.State())
	}
	f := mustNewWait(t, m, "fail()")
	wantTB := "Traceback (most recent call last):\n  <expr>:1:1: in <toplevel>\nError: fail called"
	if tb := f.Traceback(); tb != wantTB {
		t.Errorf("traceback %q, want the error's Backtrace %q", tb, wantTB)
	}
	u := mustNewWait(t, m, "nope")
	if _, err := u.Value(); err == nil || err.Error() != `name "nope" is not defined` {
		t.Errorf("undefined name: %v", err)
	}
}

func TestOutputFrom(t *testing.T) {
	t.Parallel()
	if w := bgjob.OutputFrom(context.Background()); w != io.Discard {
		t.Errorf("OutputFrom outside a job = %v, want io.Discard", w)
	}
	if w := bgjob.OutputFrom(nil); w != io.Discard { //nolint:staticcheck // nil ctx on purpose
		t.Errorf("OutputFrom(nil) = %v, want io.Discard", w)
	}
	m := newManager(t, nil)
	wrote, release := make(chan struct{}), make(chan struct{})
	j := mustNew(t, m, func(ctx context.Context) error {
		fmt.Fprintf(bgjob.OutputFrom(ctx), "step %d\n", 1)
		// A context derived from the job's still finds its output.
		sub, cancel := context.WithCancel(ctx)
		defer cancel()
		fmt.Fprintf(bgjob.OutputFrom(sub), "step %d\n", 2)
		close(wrote)
		<-release
		fmt.Fprintln(bgjob.OutputFrom(ctx), "done")
		return nil
	})
	<-wrote
	if out, n := j.Output(); out != "step 1\nstep 2\n" || n != 0 || j.State() != bgjob.Running {
		t.Errorf("while running: Output() = %q, %d; state %v", out, n, j.State())
	}
	close(release)
	wait(t, j)
	if out, _ := j.Output(); out != "step 1\nstep 2\ndone\n" {
		t.Errorf("Output() = %q", out)
	}
}

func TestOnFinish(t *testing.T) {
	t.Parallel()
	type seen struct {
		num      int
		state    bgjob.State
		doneOpen bool
	}
	ch := make(chan seen, 3)
	m := newManager(t, &bgjob.Config{OnFinish: func(j *bgjob.Job) {
		s := seen{num: j.Num(), state: j.State()}
		select {
		case <-j.Done():
		default:
			s.doneOpen = true
		}
		ch <- s
	}})
	mustNewWait(t, m, sleeper, 1)
	mustNewWait(t, m, crasher, 1)
	k := mustNew(t, m, "spin()")
	_ = k.Kill()
	got := []seen{<-ch, <-ch, <-ch}
	// OnFinish runs after Done is closed, so job 1's call may come after
	// job 2's: compare in job order.
	slices.SortFunc(got, func(a, b seen) int { return a.num - b.num })
	want := []seen{{0, bgjob.Completed, false}, {1, bgjob.Dead, false}, {2, bgjob.Dead, false}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(seen{})); diff != "" {
		t.Errorf("OnFinish calls (-want +got):\n%s", diff)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, cfg := range []bgjob.Config{{OutputLimit: -1}, {KillGrace: -1}} {
		if _, err := bgjob.New(&cfg); err == nil || !strings.Contains(err.Error(), "Config.") {
			t.Errorf("New(%+v) = %v, want an error naming the field", cfg, err)
		}
	}
}

// TestJobContextEndsWithJob: the context a function job gets is cancelled
// when the job returns (as an http.Request's when ServeHTTP returns), so
// that goroutines and context.AfterFunc callbacks the job tied to it end.
func TestJobContextEndsWithJob(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	ctxs := make(chan context.Context, 1)
	afterFunc := make(chan struct{})
	j := mustNew(t, m, func(ctx context.Context) error {
		ctxs <- ctx
		context.AfterFunc(ctx, func() { close(afterFunc) })
		return nil
	})
	wait(t, j)
	ctx := <-ctxs
	select {
	case <-ctx.Done():
	default:
		t.Fatal("the job's context is still live after the job returned")
	}
	<-afterFunc // would block for ever (goleak would report it) without the fix
	if j.State() != bgjob.Completed {
		t.Errorf("state %v: the end-of-job cancellation must not count as a kill", j.State())
	}
	if _, err := j.Value(); err != nil {
		t.Errorf("Value() error %v", err)
	}
}

// TestKillCause: a killed job's context says why it ended
// (context.Cause is ErrKilled), so that code that reports the cancellation,
// such as a Starlark thread, says "job killed" rather than a bare
// "context canceled".
func TestKillCause(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	started := make(chan struct{})
	causes := make(chan error, 1)
	j := mustNew(t, m, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	})
	<-started
	if err := j.Kill(); err != nil {
		t.Fatal(err)
	}
	wait(t, j)
	if cause := <-causes; !errors.Is(cause, bgjob.ErrKilled) {
		t.Errorf("context.Cause of a killed job's context = %v, want ErrKilled", cause)
	}
}
