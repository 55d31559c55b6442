package wire_test

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/wire"
)

var cmpOpts = cmp.Options{
	cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 }),
	cmpopts.IgnoreFields(drovertype.TaskError{}, "Cause"),
}

func newCodec(t testing.TB, lim *wire.Limits) *wire.Codec {
	t.Helper()
	c, err := wire.New(lim)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// values holds one of every kind of plain value.
func values() map[string]any {
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	return map[string]any{
		"nil": nil, "bool": true, "false": false, "int": int64(-7), "pos": int64(7), "max": int64(math.MaxInt64),
		"min": int64(math.MinInt64), "big": big1, "negbig": new(big.Int).Neg(big1), "smallbig": big.NewInt(5),
		"float": 2.5, "whole": 3.0, "nan": math.Inf(1),
		"string": "héllo", "bytes": []byte{0, 1, 255}, "nobytes": []byte{},
		"list":   []any{int64(1), "two", []any{3.0}},
		"dict":   map[string]any{"a": int64(1), "b": map[string]any{"c": nil}},
		"anykey": map[any]any{int64(1): "one", "x": false, 2.5: nil, true: int64(1), nil: "n"},
		"empty":  []any{}, "emptydict": map[string]any{},
	}
}

func TestValueRoundTrip(t *testing.T) {
	t.Parallel()
	c := newCodec(t, nil)
	for name, v := range values() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := c.MarshalValue(v)
			if err != nil {
				t.Fatalf("MarshalValue(%#v): %v", v, err)
			}
			got, err := c.UnmarshalValue(data)
			if err != nil {
				t.Fatalf("UnmarshalValue: %v", err)
			}
			if diff := cmp.Diff(v, got, cmpOpts); diff != "" {
				t.Errorf("round trip (-sent +received):\n%s", diff)
			}
		})
	}
}

// TestValueNormalization: values ValidateValue accepts but that are not
// drover's canonical decoded forms arrive in canonical form.
func TestValueNormalization(t *testing.T) {
	t.Parallel()
	c := newCodec(t, nil)
	huge := new(big.Int).SetUint64(math.MaxUint64)
	for _, tc := range []struct {
		name    string
		in, out any
	}{
		{"int", int(5), int64(5)},
		{"int8", int8(-5), int64(-5)},
		{"uint8", uint8(200), int64(200)},
		{"uint64 small", uint64(5), int64(5)},
		{"uint64 huge", uint64(math.MaxUint64), huge},
		{"float32", float32(1.5), 1.5},
		{"string-keyed any map", map[any]any{"a": int64(1)}, map[string]any{"a": int64(1)}},
		{"empty any map", map[any]any{}, map[string]any{}},
		{"nested", []any{map[any]any{"k": []any{uint16(3)}}}, []any{map[string]any{"k": []any{int64(3)}}}},
		{"int keys", map[any]any{int(1): "x"}, map[any]any{int64(1): "x"}},
		{"nil list", []any(nil), []any{}},
		{"nil map", map[string]any(nil), map[string]any{}},
	} {
		data, err := c.MarshalValue(tc.in)
		if err != nil {
			t.Errorf("%s: MarshalValue: %v", tc.name, err)
			continue
		}
		got, err := c.UnmarshalValue(data)
		if err != nil {
			t.Errorf("%s: UnmarshalValue: %v", tc.name, err)
			continue
		}
		if diff := cmp.Diff(tc.out, got, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestMarshalValueRefuses(t *testing.T) {
	t.Parallel()
	c := newCodec(t, nil)
	deep := any(int64(1))
	for range drovertype.MaxValueDepth + 1 {
		deep = []any{deep}
	}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"struct", struct{ A int }{1}, "unsupported value of type struct"},
		{"nested struct", map[string]any{"a": []any{time.Now()}}, `value["a"][0]: unsupported value of type time.Time`},
		{"typed slice", []string{"a"}, "unsupported value of type []string"},
		{"nil big", (*big.Int)(nil), "nil *big.Int"},
		{"bad key", map[any]any{[2]int{}: 1}, "unsupported dict key"},
		{"too deep", deep, "nested more than 64 deep"},
	} {
		_, err := c.MarshalValue(tc.v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: MarshalValue: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	// A value exactly MaxValueDepth deep is fine, and comes back.
	ok := any(int64(1))
	for range drovertype.MaxValueDepth {
		ok = []any{ok}
	}
	data, err := c.MarshalValue(ok)
	if err != nil {
		t.Fatalf("MarshalValue of a value %d deep: %v", drovertype.MaxValueDepth, err)
	}
	if _, err := c.UnmarshalValue(data); err != nil {
		t.Fatalf("UnmarshalValue of a value %d deep: %v", drovertype.MaxValueDepth, err)
	}
}

func mustCBOR(t *testing.T, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUnmarshalValueRefuses: CBOR that is well formed but not drover's
// plain data, or breaks a limit, is refused with ErrMalformed.
func TestUnmarshalValueRefuses(t *testing.T) {
	t.Parallel()
	c := newCodec(t, &wire.Limits{MaxSize: 1 << 10, MaxElements: 16})
	deep := any(int64(1))
	for range drovertype.MaxValueDepth + 1 {
		deep = []any{deep}
	}
	deepCBOR, err := cbor.Marshal(deep)
	if err != nil {
		t.Fatal(err)
	}
	deeper := bytes.Repeat([]byte{0x81}, 100)
	deeper = append(deeper, 0x01)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "EOF"},
		{"truncated", []byte{0x82, 0x01}, "unexpected EOF"},
		{"trailing data", []byte{0x01, 0x02}, "extraneous data"},
		{"time tag", mustCBOR(t, cbor.Tag{Number: 1, Content: 1000}), "unsupported value of type time.Time"},
		{"unknown tag", mustCBOR(t, cbor.Tag{Number: 99999, Content: "x"}), "unsupported value of type cbor.Tag"},
		{"undefined simple", []byte{0xf7}, ""}, // undefined decodes to nil: accepted
		{"too many elements", mustCBOR(t, make([]int, 17)), "exceeded max number of elements 16"},
		{"too deep", deepCBOR, "nested more than 64 deep"},
		{"far too deep", deeper, "exceeded max nested level"},
		{"too large", mustCBOR(t, strings.Repeat("x", 2000)), "over the limit"},
		{"invalid utf8", []byte{0x61, 0xff}, "invalid UTF-8"},
		{"dup key", []byte{0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02}, "duplicate map key"},
		{"bytes key", []byte{0xa1, 0x41, 'a', 0x01}, "invalid map key type"},
		{"list key", []byte{0xa1, 0x80, 0x01}, "invalid map key type"},
		{"bignum key", []byte{0xa1, 0xc2, 0x41, 0x05, 0x01}, "unsupported dict key"},
	} {
		_, err := c.UnmarshalValue(tc.data)
		if tc.want == "" {
			continue // only must not panic
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%s: UnmarshalValue(% x): %v, want ErrMalformed containing %q", tc.name, tc.data, err, tc.want)
		}
	}
}

func TestLimitsValidation(t *testing.T) {
	t.Parallel()
	for _, lim := range []wire.Limits{{MaxSize: -1}, {MaxElements: 3}, {MaxElements: -1}} {
		if _, err := wire.New(&lim); err == nil {
			t.Errorf("New(%+v): no error", lim)
		}
	}
	c := newCodec(t, nil)
	if c.MaxSize() != wire.DefaultMaxSize {
		t.Errorf("MaxSize() = %d, want %d", c.MaxSize(), wire.DefaultMaxSize)
	}
}

func TestSizeError(t *testing.T) {
	t.Parallel()
	c := newCodec(t, &wire.Limits{MaxSize: 100})
	_, err := c.MarshalValue(strings.Repeat("x", 200))
	var se *wire.SizeError
	if !errors.As(err, &se) || !errors.Is(err, wire.ErrTooLarge) || se.Size != 202 || se.Limit != 100 {
		t.Fatalf("MarshalValue of 200 bytes with a limit of 100: %v", err)
	}
	if want := "202 bytes, over the limit of 100 bytes"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	var buf bytes.Buffer
	buf.WriteString("keep")
	f := wire.EngineFrame{Kind: wire.Data, Session: 1, Seq: 1, Msgs: []transport.FromEngine{{Props: &transport.Props{Properties: map[string]any{"x": strings.Repeat("y", 200)}}}}}
	if err := c.AppendEngineFrame(&buf, &f); !errors.Is(err, wire.ErrTooLarge) {
		t.Fatalf("AppendEngineFrame over the limit: %v", err)
	}
	if buf.String() != "keep" {
		t.Errorf("buffer after a refused frame: %q, want it unchanged", buf.String())
	}
}

func sampleTasks() []*drovertype.Task {
	rec := &drovertype.Task{Kind: drovertype.StringTask, Code: "x = 1", Options: drovertype.Options{Retries: 1}}
	return []*drovertype.Task{
		{Kind: drovertype.MapTask, FuncName: "f", FuncSource: "def f(*a, **k):\n    return a\n",
			Args: []any{int64(1), values()}, Kwargs: values(),
			Options: drovertype.Options{ClearBefore: true, ClearAfter: true, Retries: 2, Timeout: 3 * time.Second, StepBudget: 12345,
				Depend: &drovertype.Depend{Source: "properties['x'] > 1", IsFunc: true}, Recovery: rec}},
		{Kind: drovertype.StringTask, Code: "b = a + 1", Push: values(), Pull: []string{"b"}, PullSingle: true},
		{Kind: drovertype.CommandTask, Argv: []string{"echo", "hi"}},
		{Kind: drovertype.CommandTask, Shell: "echo hi"},
	}
}

func TestTaskRoundTrip(t *testing.T) {
	t.Parallel()
	c := newCodec(t, nil)
	for i, task := range sampleTasks() {
		data, err := c.MarshalTask(task)
		if err != nil {
			t.Fatalf("task %d: MarshalTask: %v", i, err)
		}
		got, err := c.UnmarshalTask(data)
		if err != nil {
			t.Fatalf("task %d: UnmarshalTask: %v", i, err)
		}
		if diff := cmp.Diff(task, got, cmpOpts); diff != "" {
			t.Errorf("task %d (-sent +received):\n%s", i, diff)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("task %d: decoded task does not validate: %v", i, err)
		}
	}
	cyc := &drovertype.Task{Kind: drovertype.StringTask, Code: "x"}
	cyc.Recovery = cyc
	if _, err := c.MarshalTask(cyc); err == nil || !strings.Contains(err.Error(), "recovery chain") {
		t.Errorf("MarshalTask of a recovery cycle: %v, want a recovery chain error", err)
	}
	bad := &drovertype.Task{Kind: drovertype.MapTask, FuncName: "f", Args: []any{struct{}{}}}
	if _, err := c.MarshalTask(bad); err == nil || !strings.Contains(err.Error(), "args[0]") {
		t.Errorf("MarshalTask with a struct argument: %v, want an error naming args[0]", err)
	}
	if _, err := c.UnmarshalTask(mustCBOR(t, map[int]any{1: 9})); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("UnmarshalTask of kind 9: %v, want ErrMalformed", err)
	}
}

func TestResultRoundTrip(t *testing.T) {
	t.Parallel()
	c := newCodec(t, nil)
	start := time.Date(2026, 11, 23, 13, 0, 0, 123456789, time.UTC)
	tr := &drovertype.TaskResult{TaskID: 4, EngineID: 2, Kind: drovertype.StringTask, Results: values(), Keys: []string{"a"}}
	tr.SetTimes(start, start.Add(time.Second))
	fail := drovertype.NewRemoteError(4, 2, "ZeroDivisionError", "division by zero", "Traceback...")
	for i, tc := range []struct {
		v  any
		te *drovertype.TaskError
	}{
		{nil, nil}, {int64(3), nil}, {values(), nil}, {tr, nil}, {tr, fail}, {nil, fail},
		{&drovertype.CommandResult{ExitCode: 2, Stdout: []byte("o")}, nil},
	} {
		data, err := c.MarshalResult(tc.v, tc.te)
		if err != nil {
			t.Fatalf("%d: MarshalResult: %v", i, err)
		}
		v, te, err := c.UnmarshalResult(data)
		if err != nil {
			t.Fatalf("%d: UnmarshalResult: %v", i, err)
		}
		if diff := cmp.Diff(tc.v, v, cmpOpts); diff != "" {
			t.Errorf("%d: value (-sent +received):\n%s", i, diff)
		}
		if diff := cmp.Diff(tc.te, te, cmpOpts); diff != "" {
			t.Errorf("%d: error (-sent +received):\n%s", i, diff)
		}
	}
	if _, err := c.MarshalResult(struct{}{}, nil); err == nil {
		t.Errorf("MarshalResult of a struct: no error")
	}
}

// messages returns one of every transport message, with every kind of
// value.
func messages() ([]transport.FromEngine, []transport.ToEngine) {
	start := time.Date(2026, 11, 23, 13, 0, 0, 123456789, time.UTC)
	tasks := sampleTasks()
	fail := drovertype.NewRemoteError(4, 2, "ZeroDivisionError", "division by zero", "Traceback...")
	tr := &drovertype.TaskResult{TaskID: 4, EngineID: 2, Kind: drovertype.StringTask, Results: values(), Keys: []string{"a", "b"}}
	tr.SetTimes(start, start.Add(1500*time.Millisecond))
	ftr := &drovertype.TaskResult{TaskID: 5, EngineID: 2, Kind: drovertype.StringTask, Failure: fail}
	cr := &drovertype.TaskResult{TaskID: 6, EngineID: 2, Kind: drovertype.CommandTask,
		Command: &drovertype.CommandResult{ExitCode: 3, Stdout: []byte("out"), Stderr: []byte("err")}}
	from := []transport.FromEngine{
		{Register: &transport.Register{Name: "host:42", Properties: values(),
			Capabilities: transport.Capabilities{Commands: true, Functions: []string{"a", "b"}}, Window: 4}},
		{Register: &transport.Register{Window: 1}},
		{Outcome: &transport.Outcome{Attempt: 1, TaskID: 3, Value: values(), Started: start, Ended: start.Add(time.Second),
			Props: &transport.Props{Properties: values()}}},
		{Outcome: &transport.Outcome{Attempt: 2, TaskID: 4, Value: tr, Started: start, Ended: start}},
		{Outcome: &transport.Outcome{Attempt: 3, TaskID: 5, Value: ftr, Err: fail, Started: start, Ended: start}},
		{Outcome: &transport.Outcome{Attempt: 4, TaskID: 6, Value: cr}},
		{Outcome: &transport.Outcome{Attempt: 5, TaskID: 7, Err: drovertype.NewAborted(7)}},
		{Outcome: &transport.Outcome{Attempt: 6, TaskID: 8, Value: int64(5)}},
		{Outcome: &transport.Outcome{Attempt: 7, TaskID: 9, Value: &drovertype.CommandResult{ExitCode: 1}}},
		{Outcome: &transport.Outcome{Attempt: 8, TaskID: 0, Value: false}},
		{Reply: &transport.Reply{ID: 1, Value: []any{true, false}}},
		{Reply: &transport.Reply{ID: 3, Err: drovertype.NewTaskError(drovertype.TaskFailed, "NameError", "name 'x' is not defined")}},
		{Reply: &transport.Reply{ID: 4, Value: values(), Props: &transport.Props{Properties: map[string]any{}}}},
		{Props: &transport.Props{Properties: values()}},
		{Props: &transport.Props{}},
		{Bye: &transport.Bye{Reason: "shutdown", Unstarted: []transport.AttemptID{8, 9}}},
		{Bye: &transport.Bye{}},
	}
	to := []transport.ToEngine{
		{Registered: &transport.Registered{EngineID: 2}},
		{Registered: &transport.Registered{EngineID: 0}},
		{Assign: &transport.Assign{Attempt: 1, TaskID: 3, Task: tasks[0], StepBudget: 1000}},
		{Assign: &transport.Assign{Attempt: 2, TaskID: 4, Task: tasks[1]}},
		{Assign: &transport.Assign{Attempt: 3, TaskID: 5, Task: tasks[2]}},
		{Assign: &transport.Assign{Attempt: 4, TaskID: 0, Task: tasks[3]}},
		{Cancel: &transport.Cancel{Attempt: 1, Kind: drovertype.TaskTimeout, Message: "too slow"}},
		{Cancel: &transport.Cancel{Attempt: 2}},
		{Call: &transport.Call{ID: 1, Op: transport.OpPush, Values: values()}},
		{Call: &transport.Call{ID: 2, Op: transport.OpPull, Names: []string{"a"}, Single: true}},
		{Call: &transport.Call{ID: 3, Op: transport.OpExecute, Code: "x = 1", StepBudget: 5}},
		{Call: &transport.Call{ID: 4, Op: transport.OpHasProperties, Names: []string{"a", "b"}}},
		{Shutdown: &transport.Shutdown{Reason: "bye"}},
		{Shutdown: &transport.Shutdown{}},
	}
	return from, to
}

func TestFrameRoundTrip(t *testing.T) {
	t.Parallel()
	c := newCodec(t, nil)
	from, to := messages()
	var buf bytes.Buffer
	ef := wire.EngineFrame{Kind: wire.Data, Session: 1 << 60, Seq: 7, Ack: 3, Msgs: from}
	if err := c.AppendEngineFrame(&buf, &ef); err != nil {
		t.Fatal(err)
	}
	gotE, err := c.DecodeEngineFrame(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ef, gotE, cmpOpts); diff != "" {
		t.Errorf("engine frame (-sent +received):\n%s", diff)
	}
	buf.Reset()
	cf := wire.ControllerFrame{Kind: wire.Data, Session: 99, Seq: 1, Ack: 12, Msgs: to}
	if err := c.AppendControllerFrame(&buf, &cf); err != nil {
		t.Fatal(err)
	}
	gotC, err := c.DecodeControllerFrame(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cf, gotC, cmpOpts); diff != "" {
		t.Errorf("controller frame (-sent +received):\n%s", diff)
	}
	for _, k := range []wire.FrameKind{wire.Heartbeat, wire.Close, wire.Nack} {
		buf.Reset()
		f := wire.EngineFrame{Kind: k, Session: 5, Seq: 9, Ack: 2}
		if err := c.AppendEngineFrame(&buf, &f); err != nil {
			t.Fatal(err)
		}
		if got, err := c.DecodeEngineFrame(buf.Bytes()); err != nil || !cmp.Equal(f, got) {
			t.Errorf("%v frame: got %+v, %v; want %+v", k, got, err, f)
		}
	}
	for _, k := range []wire.FrameKind{wire.Sync, wire.Reset, wire.Closed, wire.Nack} {
		buf.Reset()
		f := wire.ControllerFrame{Kind: k, Session: 5, Seq: 9, Ack: 4, Reason: "why"}
		if err := c.AppendControllerFrame(&buf, &f); err != nil {
			t.Fatal(err)
		}
		if got, err := c.DecodeControllerFrame(buf.Bytes()); err != nil || !cmp.Equal(f, got) {
			t.Errorf("%v frame: got %+v, %v; want %+v", k, got, err, f)
		}
	}
}

func TestFrameRefuses(t *testing.T) {
	t.Parallel()
	c := newCodec(t, nil)
	var buf bytes.Buffer
	for _, tc := range []struct {
		name string
		m    transport.FromEngine
		want string
	}{
		{"empty", transport.FromEngine{}, "message 0: 0 fields set"},
		{"two", transport.FromEngine{Props: &transport.Props{}, Bye: &transport.Bye{}}, "message 0: 2 fields set"},
		{"lost", transport.FromEngine{Lost: &transport.Lost{}}, "Lost is reserved"},
		{"bad value", transport.FromEngine{Outcome: &transport.Outcome{Attempt: 3, Value: []int{1}}}, "outcome of attempt 3"},
		{"bad reply", transport.FromEngine{Reply: &transport.Reply{ID: 2, Value: struct{}{}}}, "reply 2"},
		{"bad props", transport.FromEngine{Props: &transport.Props{Properties: map[string]any{"p": struct{}{}}}}, `properties["p"]`},
	} {
		buf.Reset()
		err := c.AppendEngineFrame(&buf, &wire.EngineFrame{Kind: wire.Data, Msgs: []transport.FromEngine{tc.m}})
		var me *wire.MessageError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &me) {
			t.Errorf("%s: AppendEngineFrame: %v, want a MessageError containing %q", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		m    transport.ToEngine
		want string
	}{
		{"empty", transport.ToEngine{}, "0 fields set"},
		{"no task", transport.ToEngine{Assign: &transport.Assign{Attempt: 4}}, "assign of attempt 4: no task"},
		{"bad call", transport.ToEngine{Call: &transport.Call{ID: 5, Values: map[string]any{"v": []string{}}}}, "call 5"},
	} {
		buf.Reset()
		err := c.AppendControllerFrame(&buf, &wire.ControllerFrame{Kind: wire.Data, Msgs: []transport.ToEngine{tc.m}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: AppendControllerFrame: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	// Decoding: wrong version, kinds and unions.
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"version", mustCBOR(t, map[int]any{0: 2, 1: 1}), "version 2"},
		{"kind", mustCBOR(t, map[int]any{0: 1, 1: 4}), "kind sync"},
		{"heartbeat with messages", mustCBOR(t, map[int]any{0: 1, 1: 2, 6: []any{map[int]any{5: map[int]any{}}}}), "heartbeat frame with messages"},
		{"empty message", mustCBOR(t, map[int]any{0: 1, 1: 1, 6: []any{map[int]any{}}}), "message 0: 0 fields set"},
		{"not a map", mustCBOR(t, "frame"), "cannot unmarshal"},
		{"bad time", mustCBOR(t, map[int]any{0: 1, 1: 1, 6: []any{map[int]any{2: map[int]any{1: 1, 2: 1, 7: []int64{0, -1}}}}}), "nanoseconds"},
		{"bad value", mustCBOR(t, map[int]any{0: 1, 1: 1, 6: []any{map[int]any{2: map[int]any{1: 1, 2: 1, 3: cbor.Tag{Number: 1, Content: 0}}}}}), "time.Time"},
	} {
		_, err := c.DecodeEngineFrame(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%s: DecodeEngineFrame: %v, want ErrMalformed containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := c.DecodeControllerFrame(mustCBOR(t, map[int]any{0: 1, 1: 2})); err == nil || !strings.Contains(err.Error(), "kind heartbeat") {
		t.Errorf("DecodeControllerFrame of a heartbeat: %v", err)
	}
	if _, err := c.DecodeControllerFrame(mustCBOR(t, map[int]any{0: 1, 1: 1, 6: []any{map[int]any{2: map[int]any{1: 1, 2: 1}}}})); err == nil || !strings.Contains(err.Error(), "no task") {
		t.Errorf("DecodeControllerFrame of an Assign without task: %v", err)
	}
}

func TestFrameKindString(t *testing.T) {
	t.Parallel()
	if got := wire.Nack.String(); got != "nack" {
		t.Errorf("Nack.String() = %q", got)
	}
	if got := wire.Reset.String(); got != "reset" {
		t.Errorf("Reset.String() = %q", got)
	}
	if got := wire.FrameKind(0).String(); got != "FrameKind(0)" {
		t.Errorf("FrameKind(0).String() = %q", got)
	}
}

// nanEqual makes NaN equal to NaN (a value may hold NaN; NaN != NaN).
var nanEqual = cmp.Comparer(func(a, b float64) bool { return a == b || (a != a && b != b) })
