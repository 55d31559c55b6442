package script

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.starlark.net/starlark"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testSession is a session with the test built-ins and captured output.
type testSession struct {
	*Session
	out, err *syncBuffer
}

// newTestSession returns a session with the test built-ins; at the end of
// the test it is closed, killing the jobs still running.
func newTestSession(t testing.TB, cfg *Config) *testSession {
	t.Helper()
	var c Config
	if cfg != nil {
		c = *cfg
	}
	ts := &testSession{out: &syncBuffer{}, err: &syncBuffer{}}
	c.Stdout, c.Stderr = ts.out, ts.err
	s, err := NewSession(&c)
	if err != nil {
		t.Fatal(err)
	}
	ts.Session = s
	for name, fn := range testBuiltins {
		s.ns.set(name, starlark.NewBuiltin(name, fn))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // kill whatever is still running
		s.Close(ctx)
	})
	return ts
}

// exec runs src in the session and fails the test on error.
func (ts *testSession) exec(t testing.TB, src string) starlark.Value {
	t.Helper()
	v, _, err := ts.Exec(t.Context(), "<test>", src)
	if err != nil {
		t.Fatalf("Exec(%q): %s", src, FormatError(err))
	}
	return v
}

// testBuiltins are predeclared in test sessions only.
var testBuiltins = map[string]func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error){
	"assert_eq":    assertEq,
	"assert_true":  assertTrue,
	"assert_fails": assertFails,
	"capture":      capture,
	"gate":         newGate,
}

// assert_eq(got, want, msg="") fails unless got == want.
func assertEq(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var got, want starlark.Value
	var msg string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "got", &got, "want", &want, "msg?", &msg); err != nil {
		return nil, err
	}
	eq, err := starlark.Equal(got, want)
	if err != nil {
		return nil, err
	}
	if !eq {
		return nil, fmt.Errorf("assert_eq: %s\n got: %s\nwant: %s", msg, got, want)
	}
	return starlark.None, nil
}

// assert_true(x, msg="") fails unless x is true.
func assertTrue(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value
	var msg string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "x", &x, "msg?", &msg); err != nil {
		return nil, err
	}
	if !x.Truth() {
		return nil, fmt.Errorf("assert_true: %s: got %s", msg, x)
	}
	return starlark.None, nil
}

// assert_fails(fn, pattern, *args) calls fn(*args), which must fail with
// an error whose "Kind: message" text matches the regexp pattern; it
// returns the error value.
func assertFails(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("assert_fails: want fn, pattern, *args")
	}
	pattern, ok := starlark.AsString(args[1])
	if !ok {
		return nil, fmt.Errorf("assert_fails: pattern must be a string")
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	_, err = starlark.Call(thread, args[0], args[2:], kwargs)
	if err == nil {
		return nil, fmt.Errorf("assert_fails: %s succeeded, want an error matching %q", args[0], pattern)
	}
	ev := newErrorValue(err)
	if !re.MatchString(ev.String()) {
		return nil, fmt.Errorf("assert_fails: error %q does not match %q", ev.String(), pattern)
	}
	return ev, nil
}

// capture(fn, *args, **kwargs) calls fn and returns (printed, errors): what
// it printed, and the "ERROR: " lines it wrote, as strings.
func capture(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("capture: want fn")
	}
	st := stateOf(thread)
	var out, errw strings.Builder
	savedPrint, savedErr := thread.Print, st.errw
	thread.Print = func(_ *starlark.Thread, msg string) { out.WriteString(msg + "\n") }
	st.errw = &errw
	defer func() { thread.Print, st.errw = savedPrint, savedErr }()
	if _, err := starlark.Call(thread, args[0], args[1:], kwargs); err != nil {
		return nil, err
	}
	return starlark.Tuple{starlark.String(out.String()), starlark.String(errw.String())}, nil
}

// gateValue is a one-shot latch for tests: jobs block in g.wait() until
// g.open(). It is safe for concurrent use (and so shared, not copied, with
// jobs).
type gateValue struct {
	once sync.Once
	ch   chan struct{}
}

func newGate(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	return &gateValue{ch: make(chan struct{})}, nil
}

func (g *gateValue) String() string        { return "<gate>" }
func (g *gateValue) Type() string          { return "gate" }
func (g *gateValue) Freeze()               {}
func (g *gateValue) Truth() starlark.Bool  { return true }
func (g *gateValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: gate") }
func (g *gateValue) AttrNames() []string   { return []string{"is_open", "open", "wait"} }

func (g *gateValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "open":
		return starlark.NewBuiltin("open", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			g.once.Do(func() { close(g.ch) })
			return starlark.None, nil
		}).BindReceiver(g), nil
	case "is_open":
		return starlark.NewBuiltin("is_open", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			select {
			case <-g.ch:
				return starlark.True, nil
			default:
				return starlark.False, nil
			}
		}).BindReceiver(g), nil
	case "wait":
		// wait() blocks until open (True) or the thread is interrupted.
		return starlark.NewBuiltin("wait", func(thread *starlark.Thread, _ *starlark.Builtin, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			select {
			case <-g.ch:
				return starlark.True, nil
			case <-stateOf(thread).ctx.Done():
				return nil, fmt.Errorf("gate.wait: %w", context.Cause(stateOf(thread).ctx))
			}
		}).BindReceiver(g), nil
	}
	return nil, nil
}
