package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/script"
)

func newEngine(t testing.TB, cfg *engine.Config) *engine.Engine {
	t.Helper()
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	return e
}

// taskErr asserts that err is a *drovertype.TaskError of the given kind and
// type, whose message contains msg.
func taskErr(t *testing.T, err error, kind drovertype.Kind, typ, msg string) *drovertype.TaskError {
	t.Helper()
	te, ok := errors.AsType[*drovertype.TaskError](err)
	if !ok || te == nil {
		t.Fatalf("error %v (%T): want a *drovertype.TaskError %s %s", err, err, kind, typ)
	}
	if te.Kind != kind || te.Type != typ || !strings.Contains(te.Message, msg) {
		t.Fatalf("error = {Kind: %s, Type: %s, Message: %q}, want {%s, %s, containing %q}", te.Kind, te.Type, te.Message, kind, typ, msg)
	}
	return te
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	e := newEngine(t, nil)
	if e.ID() != 0 || e.Window() != engine.DefaultWindow {
		t.Errorf("defaults: id %d window %d", e.ID(), e.Window())
	}
	e = newEngine(t, &engine.Config{ID: 3, Window: 1, Properties: map[string]any{"n": 1, "l": []int{1, 2}}})
	if e.ID() != 3 || e.Window() != 1 {
		t.Errorf("id %d window %d, want 3 and 1", e.ID(), e.Window())
	}
	got, err := e.GetProperties(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Values that convert to plain data are stored converted.
	if diff := cmp.Diff(map[string]any{"n": 1, "l": []any{int64(1), int64(2)}}, got); diff != "" {
		t.Errorf("properties (-want +got):\n%s", diff)
	}
	if _, err := engine.New(&engine.Config{Properties: map[string]any{"c": make(chan int)}}); !errors.Is(err, drovertype.ErrInvalidProperty) {
		t.Errorf("New with a channel property: %v, want InvalidProperty", err)
	}
	if _, err := engine.New(&engine.Config{Window: -1}); err == nil {
		t.Errorf("New with a negative window: no error")
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	r := engine.NewRegistry()
	f := func(context.Context, []any, map[string]any) (any, error) { return nil, nil }
	if err := r.Register("b", f); err != nil {
		t.Fatal(err)
	}
	r.MustRegister("a", f)
	if err := r.Register("a", f); err == nil || !strings.Contains(err.Error(), `"a": already registered`) {
		t.Errorf("duplicate Register: %v", err)
	}
	if err := r.Register("", f); err == nil {
		t.Errorf("Register with an empty name: no error")
	}
	if err := r.Register("c", nil); err == nil {
		t.Errorf("Register of nil: no error")
	}
	if diff := cmp.Diff([]string{"a", "b"}, r.Names()); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	if _, ok := r.Lookup("a"); !ok {
		t.Errorf("Lookup(a) failed")
	}
	var zero engine.Registry
	if _, ok := zero.Lookup("a"); ok || len(zero.Names()) != 0 {
		t.Errorf("zero Registry is not empty")
	}
}

func TestPushPull(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEngine(t, nil)
	big1, _ := new(big.Int).SetString("99999999999999999999", 10)
	in := map[string]any{
		"n": int64(5), "f": 1.5, "s": "x", "b": []byte("by"), "none": nil, "t": true, "big": big1,
		"l": []any{int64(1), []any{"a"}}, "d": map[string]any{"k": int64(1)}, "tup": script.Tuple{int64(1), int64(2)},
		"anykey": map[any]any{int64(1): "one"}, "ints": []int{4, 5},
	}
	if err := e.Push(ctx, in); err != nil {
		t.Fatalf("Push: %v", err)
	}
	// Seed forms of pull.
	for _, tc := range []struct {
		keys any
		want any
	}{
		{"n", int64(5)},
		{[]string{"n", "s"}, []any{int64(5), "x"}},
		{[]any{"n", "f"}, []any{int64(5), 1.5}},
		{[]string{"s"}, "x"}, // a one-element sequence gives the bare value
		{[]string{}, []any{}},
		{"none", nil},
		{"b", []byte("by")},
		{"l", []any{int64(1), []any{"a"}}},
		{"d", map[string]any{"k": int64(1)}},
		{"tup", []any{int64(1), int64(2)}}, // tuples come back as lists
		{"anykey", map[any]any{int64(1): "one"}},
		{"ints", []any{int64(4), int64(5)}},
	} {
		got, err := e.Pull(ctx, tc.keys)
		if err != nil {
			t.Errorf("Pull(%#v): %v", tc.keys, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Pull(%#v) (-want +got):\n%s", tc.keys, diff)
		}
	}
	got, err := e.Pull(ctx, "big")
	if err != nil || got.(*big.Int).Cmp(big1) != 0 {
		t.Errorf("Pull(big) = %v, %v", got, err)
	}
	// Values are copied: changing what was pushed or pulled changes nothing.
	in["l"].([]any)[0] = int64(99)
	got, _ = e.Pull(ctx, "l")
	got.([]any)[1] = "changed"
	if again, _ := e.Pull(ctx, "l"); !cmp.Equal(again, []any{int64(1), []any{"a"}}) {
		t.Errorf("namespace value changed through a copy: %v", again)
	}

	// Seed errors.
	_, err = e.Pull(ctx, "nope")
	taskErr(t, err, drovertype.TaskFailed, "NameError", "name 'nope' is not defined")
	_, err = e.Pull(ctx, []string{"n", "nope"})
	taskErr(t, err, drovertype.TaskFailed, "NameError", "name 'nope' is not defined")
	_, err = e.Pull(ctx, []any{"n", 3})
	taskErr(t, err, drovertype.TaskFailed, "TypeError", "objects must be keyed by strings.")
	_, err = e.Pull(ctx, 3)
	taskErr(t, err, drovertype.TaskFailed, "TypeError", "keys must be a strong or a list/tuple of strings")
	if err := e.Execute(ctx, "fn = lambda: 1"); err != nil {
		t.Fatal(err)
	}
	_, err = e.Pull(ctx, "fn")
	taskErr(t, err, drovertype.TaskFailed, "TypeError", "cannot copy a value of type function")
	_, err = e.Pull(ctx, "<ns>")
	taskErr(t, err, drovertype.TaskFailed, "NameError", "'<ns>'")

	// A push with one bad value pushes nothing.
	err = e.Push(ctx, map[string]any{"ok": int64(1), "bad": make(chan int)})
	taskErr(t, err, drovertype.InvalidArgument, "TypeError", "bad")
	if _, err := e.Pull(ctx, "ok"); err == nil {
		t.Errorf("a failed push pushed some values")
	}
	err = e.Push(ctx, map[string]any{"<ns>": 1})
	taskErr(t, err, drovertype.InvalidArgument, "ValueError", "reserved")
}

func TestResetAndKeys(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEngine(t, &engine.Config{ID: 4, Properties: map[string]any{"p": 1}})
	keys, err := e.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"id", "properties"}, keys); diff != "" {
		t.Errorf("Keys of a new engine (-want +got):\n%s", diff)
	}
	if id, _ := e.Pull(ctx, "id"); id != int64(4) {
		t.Errorf("id = %v, want 4", id)
	}
	if err := e.Execute(ctx, "a = 1\nid = 99\ndef f(): return a"); err != nil {
		t.Fatal(err)
	}
	keys, _ = e.Keys(ctx)
	if diff := cmp.Diff([]string{"a", "f", "id", "properties"}, keys); diff != "" {
		t.Errorf("Keys (-want +got):\n%s", diff)
	}
	if err := e.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	keys, _ = e.Keys(ctx)
	if diff := cmp.Diff([]string{"id", "properties"}, keys); diff != "" {
		t.Errorf("Keys after Reset (-want +got):\n%s", diff)
	}
	if id, _ := e.Pull(ctx, "id"); id != int64(4) {
		t.Errorf("id after Reset = %v, want 4 (re-seeded)", id)
	}
	if props, _ := e.GetProperties(ctx); len(props) != 0 {
		t.Errorf("properties after Reset = %v, want none (cleared)", props)
	}
	_, err = e.Pull(ctx, "a")
	taskErr(t, err, drovertype.TaskFailed, "NameError", "name 'a' is not defined")
}

func TestProperties(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEngine(t, nil)
	in := map[string]any{"a": int64(1), "l": []any{"x"}}
	if err := e.SetProperties(ctx, in); err != nil {
		t.Fatal(err)
	}
	in["l"].([]any)[0] = "changed" // copied in
	got, err := e.GetProperties(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"a": int64(1), "l": []any{"x"}}, got); diff != "" {
		t.Errorf("GetProperties (-want +got):\n%s", diff)
	}
	got["l"].([]any)[0] = "changed" // copied out
	got, _ = e.GetProperties(ctx, "l")
	if diff := cmp.Diff(map[string]any{"l": []any{"x"}}, got); diff != "" {
		t.Errorf("GetProperties(l) (-want +got):\n%s", diff)
	}
	_, err = e.GetProperties(ctx, "a", "zz")
	taskErr(t, err, drovertype.NotFound, "KeyError", "'zz'")
	has, err := e.HasProperties(ctx, "a", "zz", "l")
	if err != nil || !cmp.Equal([]bool{true, false, true}, has) {
		t.Errorf("HasProperties = %v, %v", has, err)
	}
	err = e.DelProperties(ctx, "a", "zz")
	taskErr(t, err, drovertype.NotFound, "KeyError", "'zz'")
	if has, _ := e.HasProperties(ctx, "a"); !has[0] {
		t.Errorf("a failed DelProperties deleted something")
	}
	if err := e.DelProperties(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	// Values that cannot be serialized are refused, with the seed's text.
	type point struct{ X int }
	for _, v := range []any{point{1}, make(chan int), func() {}, []any{point{2}}} {
		err := e.SetProperties(ctx, map[string]any{"bad": v, "good": 1})
		te := taskErr(t, err, drovertype.InvalidProperty, "InvalidProperty", "can't be a value: ")
		if !errors.Is(te, drovertype.ErrInvalidProperty) {
			t.Errorf("errors.Is(%v, ErrInvalidProperty) = false", te)
		}
	}
	if has, _ := e.HasProperties(ctx, "good"); has[0] {
		t.Errorf("a refused SetProperties stored the other values")
	}
	if err := e.ClearProperties(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.GetProperties(ctx); len(got) != 0 {
		t.Errorf("after ClearProperties: %v", got)
	}
}

// TestPropertiesFromCode: engine code reads and changes its properties
// through `properties`.
func TestPropertiesFromCode(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEngine(t, &engine.Config{Properties: map[string]any{"n": 1, "tags": []any{"a"}}})
	code := `
n = properties["n"]
has = "n" in properties
missing = properties.get("zz", "dflt")
properties["n"] = n + 1
properties["new"] = {"k": [1, 2]}
tags = properties["tags"]
tags.append("b")            # a copy: the property is unchanged
size = len(properties)
keys = properties.keys()
popped = properties.pop("tags")
properties.update({"u": 1}, v=2)
ks = sorted([k for k in properties])
`
	if err := e.Execute(ctx, code); err != nil {
		t.Fatal(err)
	}
	got, err := e.Pull(ctx, []string{"n", "has", "missing", "size", "keys", "popped", "ks"})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{int64(1), true, "dflt", int64(3), []any{"n", "new", "tags"}, []any{"a"}, []any{"n", "new", "u", "v"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	props, _ := e.GetProperties(ctx)
	wantProps := map[string]any{"n": int64(2), "new": map[string]any{"k": []any{int64(1), int64(2)}}, "u": int64(1), "v": int64(2)}
	if diff := cmp.Diff(wantProps, props); diff != "" {
		t.Errorf("properties (-want +got):\n%s", diff)
	}
	err = e.Execute(ctx, "properties['f'] = lambda: 1")
	te := taskErr(t, err, drovertype.TaskFailed, "InvalidProperty", "can't be a value: <function lambda>")
	if !strings.Contains(te.Traceback, "<engine>:1") {
		t.Errorf("traceback %q does not point at the code", te.Traceback)
	}
	err = e.Execute(ctx, "properties.pop('zz')")
	taskErr(t, err, drovertype.TaskFailed, "KeyError", "'zz'")
	if err := e.Execute(ctx, "properties.clear()"); err != nil {
		t.Fatal(err)
	}
	if props, _ := e.GetProperties(ctx); len(props) != 0 {
		t.Errorf("properties.clear() left %v", props)
	}
}

// TestDialect: engine code is the shell's Python-like dialect, and its
// globals live in the namespace.
func TestDialect(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEngine(t, nil)
	if err := e.Push(ctx, map[string]any{"i": int64(10), "factor": int64(2)}); err != nil {
		t.Fatal(err)
	}
	code := `
i += 1                       # augmented assignment on a pushed name
total = 0
for k in range(4):           # top-level for
    total += k
if total > 5:                # top-level if
    big = True
else:
    big = False
n = 0
while n < 3:                 # while
    n += 1
s = set([1, 2])              # sets
def scaled(x):               # globals of a function resolve in the namespace
    return x * factor
def fact(k):                 # recursion
    return 1 if k <= 1 else k * fact(k - 1)
a, (b, c) = 1, (2, 3)
first = scaled(5)
f5 = fact(5)
`
	if err := e.Execute(ctx, code); err != nil {
		t.Fatal(err)
	}
	got, err := e.Pull(ctx, []string{"i", "total", "big", "n", "a", "b", "c", "first", "f5", "k"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{int64(11), int64(6), true, int64(3), int64(1), int64(2), int64(3), int64(10), int64(120), int64(3)}, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	// Live globals: a later push is seen by a function defined earlier.
	if err := e.Push(ctx, map[string]any{"factor": int64(7)}); err != nil {
		t.Fatal(err)
	}
	if err := e.Execute(ctx, "second = scaled(5)"); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.Pull(ctx, "second"); v != int64(35) {
		t.Errorf("scaled(5) after factor = 7: %v, want 35 (globals resolve live)", v)
	}
	// A function may name a global that does not exist yet.
	if err := e.Execute(ctx, "def later(): return not_yet"); err != nil {
		t.Fatal(err)
	}
	err = e.Execute(ctx, "x = later()")
	taskErr(t, err, drovertype.TaskFailed, "NameError", "name 'not_yet' is not defined")
	if err := e.Execute(ctx, "not_yet = 'now'\nx = later()"); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.Pull(ctx, "x"); v != "now" {
		t.Errorf("later() = %v, want now", v)
	}
	// Shadowing a built-in, and un-shadowing it on reset.
	if err := e.Execute(ctx, "len = 42\ny = len"); err != nil {
		t.Fatal(err)
	}
	if err := e.Execute(ctx, "z = len"); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.Pull(ctx, []string{"y", "z"}); !cmp.Equal(v, []any{int64(42), int64(42)}) {
		t.Errorf("shadowed len: %v, want [42 42]", v)
	}
	e.Reset(ctx)
	if err := e.Execute(ctx, "z = len([1, 2])"); err != nil {
		t.Fatalf("len after reset: %v", err)
	}
	if v, _ := e.Pull(ctx, "z"); v != int64(2) {
		t.Errorf("len([1, 2]) after reset = %v", v)
	}
	err = e.Execute(ctx, `load("x.star", "y")`)
	taskErr(t, err, drovertype.TaskFailed, "SyntaxError", "load statements are not supported")
}

// TestErrors: errors of engine code carry Python's name for them, the
// message and the Starlark backtrace.
func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tests := []struct {
		code, typ, msg string
	}{
		{"x = undefined + 1", "NameError", "name 'undefined' is not defined"},
		{"def f():\n    return nope\nf()", "NameError", "name 'nope' is not defined"},
		{"nope += 1", "NameError", "name 'nope' is not defined"},
		{"x = 1 / 0", "ZeroDivisionError", "division by zero"},
		{"x = 1 // 0", "ZeroDivisionError", "division by zero"},
		{"x = 1 % 0", "ZeroDivisionError", "modulo by zero"},
		{"x = {}['k']", "KeyError", `key "k" not in dict`},
		{"x = {}.pop('k')", "KeyError", ""},
		{"x = [1][5]", "IndexError", "out of range"},
		{"x = [].pop()", "IndexError", ""},
		{"x = 1 + 'a'", "TypeError", "unknown binary op"},
		{"x = len(1)", "TypeError", ""},
		{"x = (lambda a: a)()", "TypeError", "missing 1 argument"},
		{"x = 1()", "TypeError", "invalid call of non-function"},
		{"x = int('abc')", "ValueError", "invalid literal"},
		{"x = [1].index(2)", "ValueError", ""},
		{"fail('boom')", "AssertionError", "boom"},
		{"x = 'a'.nope", "AttributeError", "has no .nope field or method"},
		{"def f():\n    y = y + 1\n    return y\nf()", "UnboundLocalError", "local variable y referenced before assignment"},
		{"x = = 1", "SyntaxError", "<engine>:1:5"},
		{"x = (", "SyntaxError", "<engine>:"},
		{"def f():\n  return 1\n   x = 2", "SyntaxError", ""},
	}
	for _, tc := range tests {
		e := newEngine(t, &engine.Config{ID: 6})
		err := e.Execute(ctx, tc.code)
		te := taskErr(t, err, drovertype.TaskFailed, tc.typ, tc.msg)
		if te.EngineID != 6 {
			t.Errorf("%q: EngineID = %d, want 6", tc.code, te.EngineID)
		}
		if tc.typ != "SyntaxError" && !strings.Contains(te.Traceback, "<engine>:") {
			t.Errorf("%q: traceback %q has no position", tc.code, te.Traceback)
		}
		if strings.Contains(te.Traceback, "internal error") || strings.Contains(te.Traceback, "<ns>") {
			t.Errorf("%q: traceback shows engine internals: %q", tc.code, te.Traceback)
		}
		if !errors.Is(err, &drovertype.TaskError{Kind: drovertype.TaskFailed, Type: tc.typ}) {
			t.Errorf("%q: errors.Is by type failed", tc.code)
		}
	}
}

// TestStepBudget: the step budget stops runaways, per engine and per run,
// and ordinary work (a loop of ten million iterations) runs by default.
func TestStepBudget(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEngine(t, &engine.Config{StepBudget: 100_000})
	err := e.Execute(ctx, "while True:\n    pass")
	te := taskErr(t, err, drovertype.TaskFailed, "StepBudgetExceeded", "more than 100000 steps")
	if !errors.Is(te, engine.ErrStepBudget) {
		t.Errorf("errors.Is(%v, ErrStepBudget) = false", err)
	}
	// The budget is per run: the engine works afterwards.
	if err := e.Execute(ctx, "x = len([1, 2, 3])"); err != nil {
		t.Errorf("after a run over budget: %v", err)
	}
	// Per run, larger and smaller.
	if err := e.ExecuteBudget(ctx, "def f():\n    for i in range(100000):\n        pass\nf()", 10_000_000); err != nil {
		t.Errorf("ExecuteBudget with a larger budget: %v", err)
	}
	d := newEngine(t, nil)
	err = d.ExecuteBudget(ctx, "for i in range(1000):\n    pass", 50)
	taskErr(t, err, drovertype.TaskFailed, "StepBudgetExceeded", "more than 50 steps")
}

// TestTenMillionIterations: the default step budget lets a loop of ten
// million iterations run: a loop of ten thousand runs within a thousandth
// of it (steps grow linearly with iterations), at top level and in a
// function; and, outside race-detector builds (where it takes ten times
// as long), ten million iterations really run.
func TestTenMillionIterations(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEngine(t, nil)
	top := "n = 0\nfor i in range(%d):\n    n += 1\n"
	fn := "def count():\n    n = 0\n    for i in range(%d):\n        n += 1\n    return n\nm = count()\n"
	for _, code := range []string{top, fn} {
		if err := e.ExecuteBudget(ctx, fmt.Sprintf(code, 10_000), engine.DefaultStepBudget/1000); err != nil {
			t.Errorf("10,000 iterations with a thousandth of the default budget: %v", err)
		}
	}
	if raceEnabled {
		return
	}
	if err := e.Execute(ctx, fmt.Sprintf(top, 10_000_000)+fmt.Sprintf(fn, 10_000_000)); err != nil {
		t.Fatalf("loops of ten million iterations under the default budget: %v", err)
	}
	if v, _ := e.Pull(ctx, []string{"n", "m"}); !cmp.Equal(v, []any{int64(10_000_000), int64(10_000_000)}) {
		t.Errorf("n, m = %v", v)
	}
}

func TestRecursionLimit(t *testing.T) {
	t.Parallel()
	e := newEngine(t, &engine.Config{MaxCallDepth: 200})
	err := e.Execute(t.Context(), "def r(n):\n    return r(n + 1)\nr(0)")
	te := taskErr(t, err, drovertype.TaskFailed, "RecursionError", "maximum recursion depth exceeded")
	if !errors.Is(te, engine.ErrRecursion) {
		t.Errorf("errors.Is(ErrRecursion) = false")
	}
	// Recursion within the limit works.
	if err := e.Execute(t.Context(), "def d(n):\n    return 0 if n == 0 else 1 + d(n - 1)\nx = d(150)"); err != nil {
		t.Errorf("recursion of depth 150 with a limit of 200: %v", err)
	}
}

// TestCancelBusyLoop: a busy Starlark loop stops when its ctx is cancelled.
func TestCancelBusyLoop(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	e := newEngine(t, &engine.Config{Print: func(string) { started <- struct{}{} }})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Execute(ctx, "print('go')\nwhile True:\n    pass") }()
	<-started
	cancel()
	err := <-done
	if !errors.Is(err, drovertype.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Execute: %v, want Canceled", err)
	}
	// The engine is usable afterwards.
	if err := e.Execute(t.Context(), "x = 1"); err != nil {
		t.Errorf("after a cancelled run: %v", err)
	}
	// A ctx with a cause that is a TaskError gives that error.
	ctx2, cancel2 := context.WithCancelCause(t.Context())
	go func() { done <- e.Execute(ctx2, "print('go')\nwhile True:\n    pass") }()
	<-started
	cancel2(drovertype.NewAborted(12))
	if err := <-done; !errors.Is(err, drovertype.ErrTaskAborted) {
		t.Errorf("Execute cancelled with an abort cause: %v, want TaskAborted", err)
	}
}

// TestSerialized: commands wait for one another; a command waiting for the
// engine gives up when its ctx ends.
func TestSerialized(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	e := newEngine(t, &engine.Config{Print: func(string) { started <- struct{}{} }})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Execute(ctx, "print('go')\nwhile True:\n    pass") }()
	<-started
	wctx, wcancel := context.WithCancel(t.Context())
	wcancel()
	if err := e.Push(wctx, map[string]any{"a": 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("Push while busy with a cancelled ctx: %v", err)
	}
	cancel()
	<-done
	if err := e.Push(t.Context(), map[string]any{"a": 1}); err != nil {
		t.Errorf("Push when free: %v", err)
	}
}

// FuzzExecute: any code gives a result or a TaskError, never a panic or a
// hang (a small step budget bounds every run).
func FuzzExecute(f *testing.F) {
	for _, s := range []string{
		"x = 1", "i += 1", "for a, (b, c) in [(1, (2, 3))]:\n  pass", "def f(x=[]): return x\ny = f()",
		"while True: pass", "load('a', 'b')", "x = = 1", "properties['a'] = 1", "def r(): r()\nr()",
		"[x for x in range(3)]", "if 1:\n  z = 2\nelse:\n  z = 3", "a, b = 1", "len = 3\nq = len",
	} {
		f.Add(s)
	}
	e, err := engine.New(&engine.Config{StepBudget: 20_000, MaxCallDepth: 100})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, code string) {
		err := e.Execute(t.Context(), code)
		if err != nil {
			if _, ok := errors.AsType[*drovertype.TaskError](err); !ok {
				t.Fatalf("Execute(%q): %v (%T) is not a TaskError", code, err, err)
			}
		}
	})
}
