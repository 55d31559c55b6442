package script

import (
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/drovertype"
)

func evalExpr(t *testing.T, expr string) starlark.Value {
	t.Helper()
	v, err := starlark.EvalOptions(Dialect(), &starlark.Thread{}, "<expr>", expr, nil)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// TestTaskData converts Starlark values to task data and back.
func TestTaskData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want any    // ToTaskData
		back string // FromTaskData(want), printed; "" = expr
	}{
		{"None", nil, ""},
		{"True", true, ""},
		{"-7", int64(-7), ""},
		{"9223372036854775808", mustBig("9223372036854775808"), ""},
		{"1.5", 1.5, ""},
		{"'s'", "s", `"s"`},
		{"b'\\x00b'", []byte{0, 'b'}, `b"\x00b"`},
		{"[1, [2]]", []any{int64(1), []any{int64(2)}}, ""},
		{"(1, 2)", []any{int64(1), int64(2)}, "[1, 2]"},
		{"set([1])", []any{int64(1)}, "[1]"},
		{`{"b": 1, "a": (2,)}`, map[string]any{"a": []any{int64(2)}, "b": int64(1)}, `{"a": [2], "b": 1}`},
		{`{1: "x", None: 2, 1.5: 3, True: 4}`, map[any]any{int64(1): "x", nil: int64(2), 1.5: int64(3), true: int64(4)}, ""},
	}
	for _, tt := range tests {
		got, err := ToTaskData(evalExpr(t, tt.expr))
		if err != nil {
			t.Errorf("ToTaskData(%s): %v", tt.expr, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })); diff != "" {
			t.Errorf("ToTaskData(%s): (-want +got)\n%s", tt.expr, diff)
		}
		if err := drovertype.ValidateValue(got); err != nil {
			t.Errorf("ToTaskData(%s) is not plain data: %v", tt.expr, err)
		}
		back, err := FromTaskData(got)
		if err != nil {
			t.Errorf("FromTaskData(%#v): %v", got, err)
			continue
		}
		want := tt.back
		if want == "" {
			want = evalExpr(t, tt.expr).String()
		}
		if _, isMap := got.(map[any]any); isMap {
			// Keys of different types have no order: compare as dicts.
			if eq, _ := starlark.Equal(back, evalExpr(t, tt.expr)); !eq {
				t.Errorf("FromTaskData(%#v) = %s, want %s", got, back, tt.expr)
			}
			continue
		}
		if back.String() != want {
			t.Errorf("FromTaskData(%#v) = %s, want %s", got, back, want)
		}
	}
}

func TestTaskDataErrors(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", drovertype.MaxValueDepth+1) + strings.Repeat("]", drovertype.MaxValueDepth+1)
	tests := []struct {
		expr, want string
	}{
		{"[1, {'f': len}]", `[1]["f"]: cannot copy a value of type builtin_function_or_method`},
		{"{(1, 2): 3}", "[(1, 2)]: unsupported dict key of type tuple"},
		{"{1 << 70: 1}", "[1180591620717411303424]: dict key 1180591620717411303424 does not fit in 64 bits"},
		{deep, strings.Repeat("[0]", drovertype.MaxValueDepth) + ": value nested more than 64 deep"},
	}
	for _, tt := range tests {
		_, err := ToTaskData(evalExpr(t, tt.expr))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("ToTaskData(%s) = %v, want %q", tt.expr, err, tt.want)
		}
	}
	var nested any = []any{}
	for range drovertype.MaxValueDepth + 1 {
		nested = []any{nested}
	}
	if _, err := FromTaskData(nested); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("FromTaskData(too deep) = %v", err)
	}
	if _, err := FromTaskData(make(chan int)); err == nil || !strings.Contains(err.Error(), "cannot convert Go type chan int") {
		t.Errorf("FromTaskData(chan) = %v", err)
	}
	if v, err := FromTaskData([]int{1, 2}); err != nil || v.String() != "[1, 2]" {
		t.Errorf("FromTaskData([]int) = %v, %v (other Go values go through ToStarlark)", v, err)
	}
	if v, err := FromTaskData(math.Inf(1)); err != nil || v.String() != "+inf" {
		t.Errorf("FromTaskData(+Inf) = %v, %v", v, err)
	}
}

// TestTaskDataCopies: neither direction shares mutable values.
func TestTaskDataCopies(t *testing.T) {
	t.Parallel()
	l := evalExpr(t, "[[1]]").(*starlark.List)
	x, _ := ToTaskData(l)
	x.([]any)[0].([]any)[0] = int64(9)
	if l.String() != "[[1]]" {
		t.Errorf("ToTaskData shares: %s", l)
	}
	data := []any{[]any{int64(1)}}
	v, _ := FromTaskData(data)
	v.(*starlark.List).Index(0).(*starlark.List).SetIndex(0, starlark.MakeInt(9))
	if data[0].([]any)[0] != int64(1) {
		t.Errorf("FromTaskData shares: %v", data)
	}
}
