package controller

import (
	"math"
	"math/big"
	"testing"
)

func TestClassKey(t *testing.T) {
	type props = map[string]any
	same := [][2]props{
		{{"a": int64(1)}, {"a": 1}},
		{{"a": int64(1)}, {"a": uint8(1)}},
		{{"a": int64(1)}, {"a": big.NewInt(1)}},
		{{"a": int32(-3), "b": "x"}, {"b": "x", "a": int8(-3)}},
		{{"a": []any{int64(1), "s"}}, {"a": []any{1, "s"}}},
		{{"a": map[string]any{"x": 1, "y": 2}}, {"a": map[string]any{"y": int16(2), "x": uint16(1)}}},
		{{"a": map[any]any{1: "a", "k": true}}, {"a": map[any]any{"k": true, int64(1): "a"}}},
		{{"f": float32(0.5)}, {"f": 0.5}},
		{{"n": math.NaN()}, {"n": math.NaN()}},
		{nil, {}},
		{{"u": uint64(math.MaxUint64)}, {"u": new(big.Int).SetUint64(math.MaxUint64)}},
	}
	for _, p := range same {
		if a, b := classKey(false, p[0]), classKey(false, p[1]); a != b {
			t.Errorf("%v and %v: keys %q and %q differ", p[0], p[1], a, b)
		}
	}
	differ := [][2]props{
		{{"a": int64(1)}, {"a": 1.0}},
		{{"a": "x"}, {"a": []byte("x")}},
		{{"a": "1"}, {"a": 1}},
		{{"a": nil}, {}},
		{{"a": true}, {"a": 1}},
		{{"a": []any{"ab"}}, {"a": []any{"a", "b"}}},
		{{"ab": "c"}, {"a": "bc"}},
		{{"a": map[string]any{}}, {"a": map[any]any{}}},
		{{"a": []any{}}, {"a": map[string]any{}}},
		{{"a": struct{ X int }{1}}, {"a": struct{ X int }{2}}},
	}
	for _, p := range differ {
		if a, b := classKey(false, p[0]), classKey(false, p[1]); a == b {
			t.Errorf("%v and %v: same key %q", p[0], p[1], a)
		}
	}
	if classKey(true, nil) == classKey(false, nil) {
		t.Error("the commands capability is not in the key")
	}
}
