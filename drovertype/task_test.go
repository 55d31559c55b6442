package drovertype_test

import (
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	dt "github.com/drover-dev/drover/drovertype"
)

var bigCmp = cmp.Comparer(func(a, b *big.Int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Cmp(b) == 0
})

// wantTypeError checks err is an InvalidArgument *TaskError of the given
// Python type and exact message.
func wantTaskError(t *testing.T, err error, typ, msg string) {
	t.Helper()
	te, ok := errors.AsType[*dt.TaskError](err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *TaskError", err, err)
	}
	if te.Kind != dt.InvalidArgument || te.Type != typ || te.Message != msg {
		t.Errorf("got %s %s %q, want InvalidArgument %s %q", te.Kind, te.Type, te.Message, typ, msg)
	}
	if !errors.Is(err, dt.ErrInvalidArgument) {
		t.Errorf("errors.Is(%v, ErrInvalidArgument) = false", err)
	}
}

func TestNewMapTaskSeedMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		fn           string
		args, kwargs any
		msg          string // "" = valid
		wantArgs     []any
		wantKwargs   map[string]any
	}{
		{name: "no args", fn: "f", wantArgs: []any{}, wantKwargs: map[string]any{}},
		{name: "list args", fn: "f", args: []any{1, "a"}, kwargs: map[string]any{"k": 2.5},
			wantArgs: []any{1, "a"}, wantKwargs: map[string]any{"k": 2.5}},
		{name: "typed slice args", fn: "f", args: []int{1, 2}, kwargs: map[string]string{"a": "b"},
			wantArgs: []any{1, 2}, wantKwargs: map[string]any{"a": "b"}},
		{name: "array args", fn: "f", args: [2]string{"x", "y"}, wantArgs: []any{"x", "y"}, wantKwargs: map[string]any{}},
		{name: "empty function", fn: "", msg: dt.MsgTaskFunction},
		{name: "function checked first", fn: "", args: "bad", kwargs: 3, msg: dt.MsgTaskFunction},
		{name: "string args", fn: "f", args: "ab", msg: dt.MsgTaskArgs},
		{name: "bytes args", fn: "f", args: []byte("ab"), msg: dt.MsgTaskArgs},
		{name: "dict args", fn: "f", args: map[string]any{}, msg: dt.MsgTaskArgs},
		{name: "int args", fn: "f", args: 3, msg: dt.MsgTaskArgs},
		{name: "args before kwargs", fn: "f", args: 3, kwargs: 3, msg: dt.MsgTaskArgs},
		{name: "list kwargs", fn: "f", kwargs: []any{"a"}, msg: dt.MsgTaskKwargs},
		{name: "int-keyed kwargs", fn: "f", kwargs: map[int]any{1: 2}, msg: dt.MsgTaskKwargs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			task, err := dt.NewMapTask(tc.fn, tc.args, tc.kwargs, dt.Options{})
			if tc.msg != "" {
				wantTaskError(t, err, "TypeError", tc.msg)
				if task != nil {
					t.Errorf("task = %+v, want nil", task)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := &dt.Task{Kind: dt.MapTask, FuncName: tc.fn, Args: tc.wantArgs, Kwargs: tc.wantKwargs}
			if d := cmp.Diff(want, task); d != "" {
				t.Errorf("task (-want +got):\n%s", d)
			}
		})
	}
}

func TestNewStarlarkMapTask(t *testing.T) {
	t.Parallel()
	src := "def f(x):\n    return x * 2\n"
	task, err := dt.NewStarlarkMapTask(src, "f", []any{21}, nil, dt.Options{Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := &dt.Task{Kind: dt.MapTask, FuncName: "f", FuncSource: src, Args: []any{21},
		Kwargs: map[string]any{}, Options: dt.Options{Retries: 1}}
	if d := cmp.Diff(want, task); d != "" {
		t.Errorf("task (-want +got):\n%s", d)
	}
	_, err = dt.NewStarlarkMapTask("", "f", nil, nil, dt.Options{})
	wantTaskError(t, err, "TypeError", dt.MsgTaskFunction)
	_, err = dt.NewStarlarkMapTask(src, "", nil, nil, dt.Options{})
	wantTaskError(t, err, "TypeError", dt.MsgTaskFunction)
}

func TestNewStringTaskSeedMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		push, pull any
		msg        string
		wantPull   []string
		wantSingle bool
		wantPush   map[string]any
	}{
		{name: "nothing", wantPush: map[string]any{}},
		{name: "one name", pull: "a", wantPull: []string{"a"}, wantSingle: true, wantPush: map[string]any{}},
		{name: "one-element list", pull: []string{"a"}, wantPull: []string{"a"}, wantPush: map[string]any{}},
		{name: "list", pull: []any{"a", "b"}, push: map[string]any{"x": 1},
			wantPull: []string{"a", "b"}, wantPush: map[string]any{"x": 1}},
		{name: "tuple-like array", pull: [2]string{"a", "b"}, wantPull: []string{"a", "b"}, wantPush: map[string]any{}},
		{name: "empty list", pull: []string{}, wantPush: map[string]any{}},
		{name: "empty any list", pull: []any{}, wantPush: map[string]any{}},
		{name: "int pull", pull: 5, msg: dt.MsgPull},
		{name: "bytes pull", pull: []byte("a"), msg: dt.MsgPull},
		{name: "non-string element", pull: []any{"a", 1}, msg: dt.MsgPull},
		{name: "dict pull", pull: map[string]any{}, msg: dt.MsgPull},
		{name: "list push", push: []any{1}, msg: dt.MsgPush},
		{name: "pull before push", push: 1, pull: 1, msg: dt.MsgPull},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			task, err := dt.NewStringTask("a = x + 1", tc.push, tc.pull, dt.Options{})
			if tc.msg != "" {
				wantTaskError(t, err, "TypeError", tc.msg)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := &dt.Task{Kind: dt.StringTask, Code: "a = x + 1", Push: tc.wantPush, Pull: tc.wantPull, PullSingle: tc.wantSingle}
			if d := cmp.Diff(want, task); d != "" {
				t.Errorf("task (-want +got):\n%s", d)
			}
		})
	}
}

func TestCommandTasks(t *testing.T) {
	t.Parallel()
	task, err := dt.NewCommandTask([]string{"echo", "hi"}, dt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(&dt.Task{Kind: dt.CommandTask, Argv: []string{"echo", "hi"}, Options: dt.Options{Timeout: time.Second}}, task); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	task, err = dt.NewShellTask("echo hi | wc -c", dt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if task.Shell != "echo hi | wc -c" || task.Argv != nil {
		t.Errorf("shell task = %+v", task)
	}
	for _, tc := range []struct {
		name string
		make func() (*dt.Task, error)
		msg  string
	}{
		{"nil argv", func() (*dt.Task, error) { return dt.NewCommandTask(nil, dt.Options{}) }, "a command task needs argv or a shell line"},
		{"empty argv0", func() (*dt.Task, error) { return dt.NewCommandTask([]string{""}, dt.Options{}) }, "a command task's argv[0] must not be empty"},
		{"blank shell", func() (*dt.Task, error) { return dt.NewShellTask("  ", dt.Options{}) }, "a command task needs argv or a shell line"},
		{"both", func() (*dt.Task, error) {
			return nil, (&dt.Task{Kind: dt.CommandTask, Argv: []string{"ls"}, Shell: "ls"}).Validate()
		}, "a command task takes argv or a shell line, not both"},
	} {
		_, err := tc.make()
		wantTaskError(t, err, "ValueError", tc.msg)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	deep := any("x")
	for range dt.MaxValueDepth + 1 {
		deep = []any{deep}
	}
	okDeep := any("x")
	for range dt.MaxValueDepth {
		okDeep = []any{okDeep}
	}
	mapTask := func(args ...any) *dt.Task { return &dt.Task{Kind: dt.MapTask, FuncName: "f", Args: args} }
	tests := []struct {
		name string
		task *dt.Task
		typ  string
		msg  string // "" = valid; a prefix ending in "…" matches a prefix
	}{
		{"nil task", nil, "AssertionError", dt.MsgNotATask},
		{"zero task", &dt.Task{}, "ValueError", "invalid task kind 0"},
		{"unknown kind", &dt.Task{Kind: 9}, "ValueError", "invalid task kind 9"},
		{"map without function", &dt.Task{Kind: dt.MapTask}, "TypeError", dt.MsgTaskFunction},
		{"map with code", &dt.Task{Kind: dt.MapTask, FuncName: "f", Code: "x", Shell: "ls"}, "ValueError", "a map task cannot have code, shell"},
		{"string with args", &dt.Task{Kind: dt.StringTask, Args: []any{}}, "ValueError", "a string task cannot have args"},
		{"command with pull", &dt.Task{Kind: dt.CommandTask, Shell: "ls", Pull: []string{"a"}, PullSingle: true}, "ValueError", "a command task cannot have pull, pull_single"},
		{"single pull of two", &dt.Task{Kind: dt.StringTask, Pull: []string{"a", "b"}, PullSingle: true}, "TypeError", dt.MsgPull},
		{"empty code is valid", &dt.Task{Kind: dt.StringTask}, "", ""},
		{"negative retries", &dt.Task{Kind: dt.MapTask, FuncName: "f", Options: dt.Options{Retries: -1}}, "ValueError", "retries must be >= 0, got -1"},
		{"negative timeout", &dt.Task{Kind: dt.MapTask, FuncName: "f", Options: dt.Options{Timeout: -1}}, "ValueError", "timeout must be >= 0, got -1ns"},
		{"blank depend", &dt.Task{Kind: dt.MapTask, FuncName: "f", Options: dt.Options{Depend: &dt.Depend{Source: " "}}}, "ValueError", "depend must not be empty"},
		{"plain values", mapTask(nil, true, "s", []byte("b"), int8(1), uint64(2), float32(1.5), big.NewInt(7),
			map[string]any{"a": []any{1}}, map[any]any{1: "x", "k": nil, 2.5: true}, okDeep), "", ""},
		{"func arg", mapTask(1, func() {}), "TypeError", "args[1]: unsupported value of type func()…"},
		{"chan in list", mapTask([]any{make(chan int)}), "TypeError", "args[0][0]: unsupported value of type chan int…"},
		{"struct", mapTask(struct{}{}), "TypeError", "args[0]: unsupported value of type struct {}…"},
		{"typed slice", mapTask([]int{1}), "TypeError", "args[0]: unsupported value of type []int…"},
		{"nil big", mapTask((*big.Int)(nil)), "TypeError", "args[0]: nil *big.Int"},
		{"bad dict key", mapTask(map[any]any{[2]int{}: 1}), "TypeError", "args[0]: unsupported dict key of type [2]int"},
		{"too deep", mapTask(deep), "TypeError", "args[0]" + strings.Repeat("[0]", dt.MaxValueDepth) + ": nested more than 64 deep"},
		{"bad kwarg", &dt.Task{Kind: dt.MapTask, FuncName: "f", Kwargs: map[string]any{"k": new(int)}}, "TypeError", `kwargs["k"]: unsupported value of type *int…`},
		{"bad push", &dt.Task{Kind: dt.StringTask, Push: map[string]any{"k": []string{}}}, "TypeError", `push["k"]: unsupported value of type []string…`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.task.Validate()
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if p, ok := strings.CutSuffix(tc.msg, "…"); ok {
				te, isTE := errors.AsType[*dt.TaskError](err)
				if !isTE || te.Type != tc.typ || !strings.HasPrefix(te.Message, p) {
					t.Fatalf("Validate = %v, want %s starting %q", err, tc.typ, p)
				}
				return
			}
			wantTaskError(t, err, tc.typ, tc.msg)
		})
	}
}

func TestValidateRecovery(t *testing.T) {
	t.Parallel()
	bad := &dt.Task{Kind: dt.MapTask}
	mid := &dt.Task{Kind: dt.StringTask, Options: dt.Options{Recovery: bad}}
	top := &dt.Task{Kind: dt.MapTask, FuncName: "f", Options: dt.Options{Recovery: mid}}
	err := top.Validate()
	if err == nil || err.Error() != "recovery_task: recovery_task: "+dt.MsgTaskFunction {
		t.Fatalf("Validate = %v", err)
	}
	wantTaskError(t, err, "TypeError", dt.MsgTaskFunction)

	// Loops are allowed, as in the seed.
	a := &dt.Task{Kind: dt.MapTask, FuncName: "a"}
	b := &dt.Task{Kind: dt.MapTask, FuncName: "b", Options: dt.Options{Recovery: a}}
	a.Recovery = b
	if err := a.Validate(); err != nil {
		t.Fatalf("loop: %v", err)
	}
}

func TestValidateProperties(t *testing.T) {
	t.Parallel()
	if err := dt.ValidateProperties(map[string]any{"gpu": true, "mem": 16, "tags": []any{"a"}}); err != nil {
		t.Fatal(err)
	}
	err := dt.ValidateProperties(map[string]any{"f": func() {}})
	te, ok := errors.AsType[*dt.TaskError](err)
	if !ok || te.Kind != dt.InvalidProperty || te.Message != "can't be a value: value of type func()" {
		t.Fatalf("got %#v", err)
	}
	if !errors.Is(err, dt.ErrInvalidProperty) {
		t.Error("not ErrInvalidProperty")
	}
}

func TestCloneIsDeep(t *testing.T) {
	t.Parallel()
	orig := &dt.Task{
		Kind: dt.MapTask, FuncName: "f", FuncSource: "def f(*a, **k): pass",
		Args:   []any{[]any{1, "a"}, map[string]any{"m": []any{2}}, []byte("xy"), big.NewInt(5), map[any]any{1: []any{3}}},
		Kwargs: map[string]any{"k": map[string]any{"n": 1}},
		Options: dt.Options{
			Retries: 2, Timeout: time.Second, Depend: &dt.Depend{Source: "properties['gpu']"},
			Recovery: &dt.Task{Kind: dt.StringTask, Code: "a=1", Push: map[string]any{"p": []any{1}}, Pull: []string{"a"}},
		},
	}
	snapshot := func() *dt.Task { // an independent equal value, built again
		return &dt.Task{
			Kind: dt.MapTask, FuncName: "f", FuncSource: "def f(*a, **k): pass",
			Args:   []any{[]any{1, "a"}, map[string]any{"m": []any{2}}, []byte("xy"), big.NewInt(5), map[any]any{1: []any{3}}},
			Kwargs: map[string]any{"k": map[string]any{"n": 1}},
			Options: dt.Options{
				Retries: 2, Timeout: time.Second, Depend: &dt.Depend{Source: "properties['gpu']"},
				Recovery: &dt.Task{Kind: dt.StringTask, Code: "a=1", Push: map[string]any{"p": []any{1}}, Pull: []string{"a"}},
			},
		}
	}
	c := orig.Clone()
	if d := cmp.Diff(snapshot(), c, bigCmp); d != "" {
		t.Fatalf("clone differs (-want +got):\n%s", d)
	}
	// Mutate everything reachable from the clone.
	c.Args[0].([]any)[0] = 99
	c.Args[1].(map[string]any)["m"].([]any)[0] = 99
	c.Args[2].([]byte)[0] = 'Z'
	c.Args[3].(*big.Int).SetInt64(99)
	c.Args[4].(map[any]any)[1].([]any)[0] = 99
	c.Kwargs["k"].(map[string]any)["n"] = 99
	c.Depend.Source = "False"
	c.Recovery.Push["p"].([]any)[0] = 99
	c.Recovery.Pull[0] = "zz"
	c.Recovery.Code = "b=2"
	if d := cmp.Diff(snapshot(), orig, bigCmp); d != "" {
		t.Fatalf("original changed through the clone (-want +got):\n%s", d)
	}
	if (*dt.Task)(nil).Clone() != nil {
		t.Error("nil.Clone() != nil")
	}
}

// chainOf lists FuncName:Retries along the recovery chain.
func chainOf(t *dt.Task) []string {
	var out []string
	for ; t != nil; t = t.Recovery {
		out = append(out, t.FuncName+":"+string(rune('0'+t.Retries)))
	}
	return out
}

func TestCloneRecoveryLoops(t *testing.T) {
	t.Parallel()
	mk := func(name string, retries int) *dt.Task {
		return &dt.Task{Kind: dt.MapTask, FuncName: name, Options: dt.Options{Retries: retries}}
	}
	// A.recovery = A: A's attempts, then A once more without retries.
	a := mk("A", 2)
	a.Recovery = a
	// A → B → A: A, then B, then B's failure is final.
	b1, b2 := mk("A", 1), mk("B", 3)
	b1.Recovery, b2.Recovery = b2, b1
	// A → B → C → B: A, B, C.
	c1, c2, c3 := mk("A", 0), mk("B", 0), mk("C", 1)
	c1.Recovery, c2.Recovery, c3.Recovery = c2, c3, c2
	// A → B → B: A, B, B once more.
	d1, d2 := mk("A", 0), mk("B", 2)
	d1.Recovery, d2.Recovery = d2, d2
	// A recovery task with negative retries is skipped (seed: retries > -1).
	e1, e2 := mk("A", 0), mk("B", -1)
	e1.Recovery = e2
	for _, tc := range []struct {
		name string
		task *dt.Task
		want []string
	}{
		{"self loop", a, []string{"A:2", "A:0"}},
		{"two loop", b1, []string{"A:1", "B:3"}},
		{"loop to middle", c1, []string{"A:0", "B:0", "C:1"}},
		{"tail self loop", d1, []string{"A:0", "B:2", "B:0"}},
		{"negative retries", e1, []string{"A:0"}},
	} {
		if d := cmp.Diff(tc.want, chainOf(tc.task.Clone())); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
	// The cut copy serializes; the original loop does not.
	if _, err := json.Marshal(b1.Clone()); err != nil {
		t.Errorf("marshal clone: %v", err)
	}
}

func TestTaskJSONRoundTrip(t *testing.T) {
	t.Parallel()
	// JSON keeps these value types; CBOR (added by the transport) keeps int
	// and float, bytes and str apart as well.
	tasks := []*dt.Task{
		{Kind: dt.MapTask, FuncName: "add", Args: []any{1.0, "a", nil, true, []any{2.0}},
			Kwargs: map[string]any{"k": map[string]any{"x": 1.5}},
			Options: dt.Options{ClearBefore: true, ClearAfter: true, Retries: 3, Timeout: 1500 * time.Millisecond,
				Depend:   &dt.Depend{Source: "lambda p: p['gpu']", IsFunc: true},
				Recovery: &dt.Task{Kind: dt.StringTask, Code: "a = 1", Pull: []string{"a"}, PullSingle: true}}},
		{Kind: dt.StringTask, Code: "b = a * 2", Push: map[string]any{"a": 2.0}, Pull: []string{"b", "a"}},
		{Kind: dt.CommandTask, Argv: []string{"ls", "-l"}},
		{Kind: dt.CommandTask, Shell: "echo $HOME"},
	}
	for _, task := range tasks {
		if err := task.Validate(); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(task)
		if err != nil {
			t.Fatal(err)
		}
		var back dt.Task
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		if d := cmp.Diff(task, &back); d != "" {
			t.Errorf("round trip of %s (-want +got):\n%s", b, d)
		}
	}
	b, _ := json.Marshal(tasks[2])
	if want := `{"kind":"command","argv":["ls","-l"]}`; string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	var bad dt.Task
	if err := json.Unmarshal([]byte(`{"kind":"lambda"}`), &bad); err == nil {
		t.Error("unknown kind accepted")
	}
}

// FuzzTaskJSON decodes arbitrary JSON as a Task (outside input): decoding,
// Validate and Clone must not panic, and a valid task must survive Clone
// and a JSON round trip unchanged.
func FuzzTaskJSON(f *testing.F) {
	f.Add(`{"kind":"map","func_name":"f","args":[1,"a",[true,null]],"kwargs":{"k":{"x":1}},"retries":2}`)
	f.Add(`{"kind":"string","code":"a=1","push":{"x":1},"pull":["a"],"pull_single":true,"depend":{"source":"True"}}`)
	f.Add(`{"kind":"command","shell":"ls","recovery":{"kind":"command","argv":["x"],"recovery":{"kind":"map"}}}`)
	f.Add(`{"kind":"map","func_name":"f","timeout":-5,"args":[[[[[[[]]]]]]]}`)
	f.Fuzz(func(t *testing.T, s string) {
		var task dt.Task
		if json.Unmarshal([]byte(s), &task) != nil {
			return
		}
		if err := task.Validate(); err != nil {
			if !errors.Is(err, dt.ErrInvalidArgument) {
				t.Fatalf("Validate error %v is not InvalidArgument", err)
			}
			return
		}
		c := task.Clone()
		if d := cmp.Diff(&task, c); d != "" {
			t.Fatalf("clone differs (-want +got):\n%s", d)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal valid task: %v", err)
		}
		var back dt.Task
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("round trip invalid: %v", err)
		}
	})
}
