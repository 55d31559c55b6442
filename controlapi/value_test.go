package controlapi_test

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/controlapi"
	"github.com/drover-dev/drover/drovertype"
)

func bigInt(s string) *big.Int {
	n, _ := new(big.Int).SetString(s, 10)
	return n
}

var bigComparer = cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })

func nested(depth int) any {
	var v any = int64(1)
	for range depth {
		v = []any{v}
	}
	return v
}

func TestValueRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in, out any
	}{
		{"nil", nil, nil},
		{"bool", true, true},
		{"int64", int64(-7), int64(-7)},
		{"int", 7, int64(7)},
		{"uint8", uint8(200), int64(200)},
		{"max int64", int64(math.MaxInt64), int64(math.MaxInt64)},
		{"min int64", int64(math.MinInt64), int64(math.MinInt64)},
		{"uint64 beyond int64", uint64(math.MaxUint64), bigInt("18446744073709551615")},
		{"small big int stays big", big.NewInt(5), big.NewInt(5)},
		{"big int", bigInt("-123456789012345678901234567890"), bigInt("-123456789012345678901234567890")},
		{"float", 1.0, 1.0},
		{"float32", float32(0.5), 0.5},
		{"inf", math.Inf(-1), math.Inf(-1)},
		{"string", "héllo", "héllo"},
		{"bytes", []byte{0, 255}, []byte{0, 255}},
		{"empty bytes", []byte{}, []byte{}},
		{"list", []any{int64(1), "a", nil}, []any{int64(1), "a", nil}},
		{"empty list", []any{}, []any{}},
		{"dict", map[string]any{"a": int64(1), "b": []any{}}, map[string]any{"a": int64(1), "b": []any{}}},
		{"empty dict", map[string]any{}, map[string]any{}},
		{"any-key dict", map[any]any{int64(1): "one", "two": 2.0, nil: false, true: nil}, map[any]any{int64(1): "one", "two": 2.0, nil: false, true: nil}},
		{"any-key dict of strings", map[any]any{"a": int64(1)}, map[string]any{"a": int64(1)}},
		{"deepest", nested(drovertype.MaxValueDepth), nested(drovertype.MaxValueDepth)},
	} {
		b, err := controlapi.EncodeValue(tc.in)
		if err != nil {
			t.Errorf("%s: EncodeValue: %v", tc.name, err)
			continue
		}
		got, err := controlapi.DecodeValue(b)
		if err != nil {
			t.Errorf("%s: DecodeValue: %v", tc.name, err)
			continue
		}
		if tc.name == "deepest" {
			// cmp's diff search is exponential in the nesting.
			if !reflect.DeepEqual(tc.out, got) {
				t.Errorf("%s: round trip changed the value", tc.name)
			}
		} else if diff := cmp.Diff(tc.out, got, bigComparer); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		if err := drovertype.ValidateValue(got); err != nil {
			t.Errorf("%s: decoded value not plain: %v", tc.name, err)
		}
	}
	// Indefinite lengths are accepted (the encoder never makes them).
	if v, err := controlapi.DecodeValue([]byte{0x9f, 0x01, 0xff}); err != nil || !cmp.Equal(v, []any{int64(1)}) {
		t.Errorf("indefinite-length array = %v, %v", v, err)
	}
	// A nil container inside a value comes back empty.
	b0, _ := controlapi.EncodeValue([]any{[]any(nil), map[string]any(nil), []byte(nil)})
	if v, err := controlapi.DecodeValue(b0); err != nil || !cmp.Equal(v, []any{[]any{}, map[string]any{}, []byte{}}) {
		t.Errorf("nil containers = %#v, %v", v, err)
	}
	// NaN is kept (and is not equal to itself).
	b, _ := controlapi.EncodeValue(math.NaN())
	if v, err := controlapi.DecodeValue(b); err != nil || !math.IsNaN(v.(float64)) {
		t.Errorf("NaN = %v, %v", v, err)
	}
	// Values that are not plain data are refused on the way out.
	for _, v := range []any{struct{}{}, []string{"a"}, map[string]string{}, func() {}, nested(drovertype.MaxValueDepth + 1)} {
		if _, err := controlapi.EncodeValue(v); !errors.Is(err, drovertype.ErrInvalidArgument) {
			t.Errorf("EncodeValue(%T) = %v", v, err)
		}
	}
}

// TestDecodeHostile: malformed, hostile or foreign CBOR gets an error that
// says what is wrong, never a panic or a non-plain value.
func TestDecodeHostile(t *testing.T) {
	t.Parallel()
	deep := bytes.Repeat([]byte{0x81}, 200) // [[[[...
	deep = append(deep, 0x01)
	hugeArray := []byte{0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} // array of 2^63-1 elements
	hugeString := []byte{0x7b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'a'}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "EOF"},
		{"truncated", []byte{0x82, 0x01}, "unexpected EOF"},
		{"trailing bytes", []byte{0x01, 0x02}, "extraneous data"},
		{"too deep", deep, "exceeded max nested level"},
		{"deeper than drover values", []byte(string(bytes.Repeat([]byte{0x81}, drovertype.MaxValueDepth+1)) + "\x01"), "nested more than 64 deep"},
		{"huge array", hugeArray, "exceeded max number of elements"},
		{"huge string", hugeString, "unexpected EOF"},
		{"invalid utf-8", []byte{0x62, 0xff, 0xfe}, "invalid UTF-8"},
		{"duplicate keys", []byte{0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02}, "duplicate map key"},
		{"byte string key", []byte{0xa1, 0x41, 'a', 0x01}, "invalid map key type"},
		{"list key", []byte{0xa1, 0x80, 0x01}, "invalid map key type"},
		{"time tag", []byte{0xc1, 0x01}, "unsupported value of type time.Time"},
		{"unknown tag", []byte{0xd8, 0x64, 0x01}, "unsupported value of type cbor.Tag"},
		{"simple value", []byte{0xf0}, "unsupported value of type cbor.SimpleValue"},
		{"reserved", []byte{0x1c}, "invalid additional information"},
		{"bignum of a string", []byte{0xc2, 0x61, 'a'}, "cbor"},
	} {
		v, err := controlapi.DecodeValue(tc.in)
		if err == nil || !errors.Is(err, drovertype.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: DecodeValue = %#v, %v; want an error containing %q", tc.name, v, err, tc.want)
		}
	}
	if _, err := controlapi.DecodeList([]byte{0xa0}, "args"); err == nil || err.Error() != "args: want a list, got dict" {
		t.Errorf("DecodeList(map) = %v", err)
	}
	if _, err := controlapi.DecodeDict([]byte{0xa1, 0x01, 0x02}, "kwargs"); err == nil || err.Error() != "kwargs: want a dict with string keys, got dict" {
		t.Errorf("DecodeDict(int keys) = %v", err)
	}
}

func FuzzDecodeValue(f *testing.F) {
	for _, v := range []any{nil, int64(1), []any{"a", 1.5, []byte("b")}, map[string]any{"k": map[any]any{int64(1): true}}, bigInt("99999999999999999999999")} {
		b, _ := controlapi.EncodeValue(v)
		f.Add(b)
	}
	f.Add([]byte{0x9f, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := controlapi.DecodeValue(b)
		if err != nil {
			if !errors.Is(err, drovertype.ErrInvalidArgument) {
				t.Fatalf("error of kind %s: %v", drovertype.KindOf(err), err)
			}
			return
		}
		if err := drovertype.ValidateValue(v); err != nil {
			t.Fatalf("decoded a value that is not plain: %v", err)
		}
		// What decodes re-encodes, and decodes to the same.
		b2, err := controlapi.EncodeValue(v)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		v2, err := controlapi.DecodeValue(b2)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !equalValues(v, v2) {
			t.Fatalf("round trip changed %#v into %#v", v, v2)
		}
	})
}

// equalValues compares decoded values (NaN equals NaN, big ints by value)
// in linear time.
func equalValues(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || x != x && y != y)
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValues(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalValues(v, w) {
				return false
			}
		}
		return true
	case map[any]any:
		y, ok := b.(map[any]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if f, ok := k.(float64); ok && f != f {
				return true // NaN keys cannot be looked up
			}
			w, ok := y[k]
			if !ok || !equalValues(v, w) {
				return false
			}
		}
		return true
	}
	return a == b
}
