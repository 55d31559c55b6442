package script

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"
)

func mustBig(s string) *big.Int {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return b
}

// TestConvertRoundTrip converts Starlark values to Go and back.
func TestConvertRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string // a Starlark expression
		want any    // FromStarlark of it
	}{
		{"None", nil},
		{"True", true},
		{"False", false},
		{"0", int64(0)},
		{"-7", int64(-7)},
		{"9223372036854775807", int64(math.MaxInt64)},
		{"9223372036854775808", mustBig("9223372036854775808")},
		{"-123456789012345678901234567890", mustBig("-123456789012345678901234567890")},
		{"1.5", 1.5},
		{"float('inf')", math.Inf(1)},
		{"''", ""},
		{"'héllo'", "héllo"},
		{"b'\\x00\\xff'", []byte{0, 0xff}},
		{"[]", []any{}},
		{"[1, 'a', [None]]", []any{int64(1), "a", []any{nil}}},
		{"()", Tuple{}},
		{"(1, (2,))", Tuple{int64(1), Tuple{int64(2)}}},
		{"{}", map[string]any{}},
		{"{'b': 1, 'a': [2]}", map[string]any{"a": []any{int64(2)}, "b": int64(1)}},
		{"{1: 'x', 'k': 2}", Dict{{int64(1), "x"}, {"k", int64(2)}}},
		{"{(1, 2): None}", Dict{{Tuple{int64(1), int64(2)}, nil}}},
		{"set([3, 1, 2])", Set{int64(3), int64(1), int64(2)}},
		{"set()", Set{}},
	}
	for _, tc := range tests {
		v, err := starlark.EvalOptions(Dialect(), &starlark.Thread{}, "test", tc.expr, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		got, err := FromStarlark(v)
		if err != nil {
			t.Errorf("FromStarlark(%s): %v", tc.expr, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })); diff != "" {
			t.Errorf("FromStarlark(%s) (-want +got):\n%s", tc.expr, diff)
		}
		back, err := ToStarlark(got)
		if err != nil {
			t.Errorf("ToStarlark(FromStarlark(%s)): %v", tc.expr, err)
			continue
		}
		if eq, err := starlark.Equal(v, back); err != nil || !eq || v.Type() != back.Type() {
			t.Errorf("round trip of %s gave %s (%s)", tc.expr, back, back.Type())
		}
	}
}

func TestToStarlarkGoTypes(t *testing.T) {
	t.Parallel()
	type myString string
	n := 5
	tests := []struct {
		in   any
		want string // String() of the result
	}{
		{nil, "None"},
		{starlark.MakeInt(3), "3"},
		{int8(-3), "-3"},
		{int16(300), "300"},
		{int32(-70000), "-70000"},
		{uint(7), "7"},
		{uint8(255), "255"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{float32(0.5), "0.5"},
		{*big.NewInt(42), "42"},
		{(*big.Int)(nil), "None"},
		{time.Second, "1000000000"},
		{myString("s"), `"s"`},
		{&n, "5"},
		{(*int)(nil), "None"},
		{[]string{"a", "b"}, `["a", "b"]`},
		{[2]int{1, 2}, "[1, 2]"},
		{[]int(nil), "[]"},
		{map[string]int{"z": 1, "a": 2}, `{"a": 2, "z": 1}`},
		{map[int]string{3: "c", 1: "a"}, `{1: "a", 3: "c"}`},
		{map[string]any{"x": []any{1, "y"}}, `{"x": [1, "y"]}`},
		{Set{1, 2}, "set([1, 2])"},
		{Dict{{"k", 1}, {2, "v"}}, `{"k": 1, 2: "v"}`},
		{Tuple{1}, "(1,)"},
		{[]byte("hi"), `b"hi"`},
		{[]any{nil, true}, "[None, True]"},
	}
	for _, tc := range tests {
		got, err := ToStarlark(tc.in)
		if err != nil {
			t.Errorf("ToStarlark(%#v): %v", tc.in, err)
			continue
		}
		if got.String() != tc.want {
			t.Errorf("ToStarlark(%#v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestConvertErrors(t *testing.T) {
	t.Parallel()
	fn, err := starlark.EvalOptions(Dialect(), &starlark.Thread{}, "test", "[1, {'f': lambda: 1}]", nil)
	if err != nil {
		t.Fatal(err)
	}
	cyclic := starlark.NewList(nil)
	cyclic.Append(cyclic)
	fromTests := []struct {
		v    starlark.Value
		want string
	}{
		{fn, `FromStarlark: [1]["f"]: cannot convert a Starlark function`},
		{starlark.NewBuiltin("b", nil), "FromStarlark: value: cannot convert a Starlark builtin_function_or_method"},
		{&jobsValue{}, "FromStarlark: value: cannot convert a Starlark jobs"},
		{cyclic, "nested more than 1000 deep (or containing itself)"},
	}
	for _, tc := range fromTests {
		_, err := FromStarlark(tc.v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FromStarlark(%s) = %v, want %q", tc.v.Type(), err, tc.want)
		}
	}
	self := []any{nil}
	self[0] = self
	toTests := []struct {
		in   any
		want string
	}{
		{make(chan int), "ToStarlark: value: cannot convert Go type chan int"},
		{map[string]any{"a": []any{1, struct{}{}}}, `ToStarlark: ["a"][1]: cannot convert Go type struct {}`},
		{Set{[]any{1}}, "ToStarlark: {0}: unhashable type: list"},
		{Dict{{[]any{}, 1}}, "ToStarlark: {0}: unhashable type: list"},
		{Tuple{func() {}}, "ToStarlark: [0]: cannot convert Go type func()"},
		{self, "nested more than 1000 deep"},
	}
	for _, tc := range toTests {
		_, err := ToStarlark(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ToStarlark(%T) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

// FuzzConvertRoundTrip evaluates small Starlark expressions and checks that
// every value FromStarlark accepts comes back equal through ToStarlark.
func FuzzConvertRoundTrip(f *testing.F) {
	for _, seed := range []string{
		"None", "[1, 2.5, 'x', b'y', (True,)]", "{'a': {1: set([2])}}", "1180591620717411303424", "-18446744073709551616",
		"float('nan')", "[[[]]]", "{(1, 'a'): [None]}", "set(['a', 1, 2.0])", "lambda: 1",
		"{'k': [x for x in [1, 2]]}", "''.join(['a', 'b'])", "{1.0: 1}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		if len(expr) > 200 || strings.Contains(expr, "*") || strings.Contains(expr, "range") {
			return // keep evaluation cheap: no huge repetitions or ranges
		}
		th := &starlark.Thread{}
		th.SetMaxExecutionSteps(10000)
		v, err := starlark.EvalOptions(Dialect(), th, "fuzz", expr, nil)
		if err != nil {
			return
		}
		g, err := FromStarlark(v)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "FromStarlark: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		back, err := ToStarlark(g)
		if err != nil {
			t.Fatalf("ToStarlark(FromStarlark(%s)): %v", v, err)
		}
		if eq, err := starlark.Equal(v, back); err != nil || !eq {
			t.Fatalf("round trip of %s gave %s (err %v)", v, back, err)
		}
		if g2, err := FromStarlark(back); err != nil || fmt.Sprint(g2) != fmt.Sprint(g) {
			t.Fatalf("second conversion differs: %v vs %v (%v)", g2, g, err)
		}
	})
}
