package bgjob_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/drover-dev/drover/bgjob"
)

func TestMain(m *testing.M) {
	// Re-executed as a helper process (see orphan_test.go)?
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	goleak.VerifyTestMain(m)
}

// testEval is a tiny Evaluator, a test double injected through the
// Evaluator interface. It understands:
//
//	an integer literal           "42"
//	a sum of two operands        "a+b" (integer literals or names)
//	a name                       looked up in locals (namespace 2) then globals (namespace 1)
//	print(name-or-literal)       writes the value and a newline to out, returns nil
//	spin()                       blocks until its context ends, returns ctx.Err()
//	fail()                       returns an error with a Backtrace method
//	panic()                      panics
//
// Anything else, such as a statement "x = 1", is a syntax error at Compile.
type testEval struct{}

type testProg struct {
	expr string
	ns   []any
}

var errSyntax = errors.New("syntax error")

func (testEval) Compile(expr string, ns []any) (bgjob.Program, error) {
	e := strings.TrimSpace(expr)
	switch {
	case e == "spin()", e == "fail()", e == "panic()":
	case strings.HasPrefix(e, "print(") && strings.HasSuffix(e, ")"):
		if !isOperand(e[len("print(") : len(e)-1]) {
			return nil, fmt.Errorf("%w in %q", errSyntax, expr)
		}
	default:
		a, b, ok := strings.Cut(e, "+")
		if !isOperand(a) || (ok && !isOperand(b)) {
			return nil, fmt.Errorf("%w in %q", errSyntax, expr)
		}
	}
	for i, n := range ns {
		if _, ok := n.(map[string]any); !ok && n != nil {
			return nil, fmt.Errorf("namespace %d is a %T, want map[string]any", i+1, n)
		}
	}
	return &testProg{expr: e, ns: ns}, nil
}

func isOperand(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	if _, err := strconv.Atoi(s); err == nil {
		return true
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

type backtraceError struct{ msg string }

func (e *backtraceError) Error() string { return e.msg }
func (e *backtraceError) Backtrace() string {
	return "Traceback (most recent call last):\n  <expr>:1:1: in <toplevel>\nError: " + e.msg
}

func (p *testProg) value(s string) (any, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	for i := len(p.ns) - 1; i >= 0; i-- { // locals first
		if m, _ := p.ns[i].(map[string]any); m != nil {
			if v, ok := m[s]; ok {
				return v, nil
			}
		}
	}
	return nil, fmt.Errorf("name %q is not defined", s)
}

func (p *testProg) Eval(ctx context.Context, out io.Writer) (any, error) {
	switch {
	case p.expr == "spin()":
		<-ctx.Done()
		return nil, ctx.Err()
	case p.expr == "fail()":
		return nil, &backtraceError{"fail called"}
	case p.expr == "panic()":
		panic("expression panicked")
	case strings.HasPrefix(p.expr, "print("):
		v, err := p.value(p.expr[len("print(") : len(p.expr)-1])
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(out, v)
		return nil, nil
	}
	a, b, ok := strings.Cut(p.expr, "+")
	va, err := p.value(a)
	if err != nil || !ok {
		return va, err
	}
	vb, err := p.value(b)
	if err != nil {
		return nil, err
	}
	ia, ok1 := va.(int)
	ib, ok2 := vb.(int)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("unsupported operands %T + %T", va, vb)
	}
	return ia + ib, nil
}

// newManager returns a Manager with the test evaluator, closed at the end of
// the test (which waits for every job).
func newManager(t testing.TB, cfg *bgjob.Config) *bgjob.Manager {
	t.Helper()
	if cfg == nil {
		cfg = &bgjob.Config{}
	}
	if cfg.Evaluator == nil {
		cfg.Evaluator = testEval{}
	}
	m, err := bgjob.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // kill whatever is left at once
		_ = m.Close(ctx)
	})
	return m
}

// mustNew starts a job or fails the test.
func mustNew(t testing.TB, m *bgjob.Manager, target any, args ...any) *bgjob.Job {
	t.Helper()
	j, err := m.New(target, args...)
	if err != nil {
		t.Fatalf("New(%v): %v", target, err)
	}
	return j
}

// mustNewWait starts a job and waits for it, or fails the test.
func mustNewWait(t testing.TB, m *bgjob.Manager, target any, args ...any) *bgjob.Job {
	t.Helper()
	j := mustNew(t, m, target, args...)
	wait(t, j)
	return j
}

// wait waits for j or fails the test.
func wait(t testing.TB, j *bgjob.Job) {
	t.Helper()
	if err := j.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// gateJob is a function job that blocks until release is closed (or it is
// killed) and then returns value. Its run method has a stable name,
// "bgjob_test.gateJob.run" (a closure's name depends on inlining).
type gateJob struct {
	release <-chan struct{}
	value   any
}

func (g gateJob) run(ctx context.Context) (any, error) {
	select {
	case <-g.release:
		return g.value, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// gate returns gateJob{release, value}.run.
func gate(release <-chan struct{}, value any) bgjob.Func { return gateJob{release, value}.run }

// startedGate returns a function job that closes started once running, then
// behaves as gate.
func startedGate(started chan<- struct{}, release <-chan struct{}) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) {
		close(started)
		return gateJob{release, "released"}.run(ctx)
	}
}

func statusOf(m *bgjob.Manager) string {
	var b strings.Builder
	m.Status(&b)
	return b.String()
}

func statusNewOf(m *bgjob.Manager) (string, bool) {
	var b strings.Builder
	ok := m.StatusNew(&b)
	return b.String(), ok
}
