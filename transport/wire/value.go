package wire

import (
	"fmt"
	"math/big"

	"github.com/drover-dev/drover/drovertype"
)

// checkPlain reports whether v is plain data (drovertype.ValidateValue)
// without allocating on success; on failure it returns ValidateValue's
// error, which names where the bad value is.
func checkPlain(v any, depth int) error {
	if !isPlain(v, depth) {
		if err := drovertype.ValidateValue(v); err != nil {
			return err
		}
		return fmt.Errorf("value of type %T is not plain data", v) // not reached
	}
	return nil
}

func isPlain(v any, depth int) bool {
	switch x := v.(type) {
	case nil, bool, string, []byte,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr,
		float32, float64:
		return true
	case *big.Int:
		return x != nil
	case []any:
		if depth >= drovertype.MaxValueDepth {
			return false
		}
		for _, e := range x {
			if !isPlain(e, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		if depth >= drovertype.MaxValueDepth {
			return false
		}
		for _, e := range x {
			if !isPlain(e, depth+1) {
				return false
			}
		}
		return true
	case map[any]any:
		if depth >= drovertype.MaxValueDepth {
			return false
		}
		for k, e := range x {
			switch k.(type) {
			case nil, bool, string, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
				float32, float64:
			default:
				return false
			}
			if !isPlain(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// checkDict checks the values of a dict (args' kwargs, push, properties).
func checkDict(name string, d map[string]any) error {
	for k, v := range d {
		if !isPlain(v, 0) {
			return fmt.Errorf("%s[%q]: %w", name, k, checkPlain(v, 0))
		}
	}
	return nil
}

// checkList checks the elements of a list (args).
func checkList(name string, l []any) error {
	for i, v := range l {
		if !isPlain(v, 0) {
			return fmt.Errorf("%s[%d]: %w", name, i, checkPlain(v, 0))
		}
	}
	return nil
}

// normalize turns a value decoded by the CBOR library into drover's plain
// data, in place where it can: a map whose keys are all strings becomes
// map[string]any; anything that is not plain data (a CBOR tag other than a
// bignum, a time, a simple value, a byte-string or container key) is an
// error, as is nesting deeper than drovertype.MaxValueDepth.
func normalize(v any, depth int) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, []byte, int64, float64:
		return v, nil
	case *big.Int:
		if x == nil {
			return nil, fmt.Errorf("nil big integer")
		}
		return v, nil
	case []any:
		if depth >= drovertype.MaxValueDepth {
			return nil, fmt.Errorf("values nested more than %d deep", drovertype.MaxValueDepth)
		}
		for i, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	case map[any]any:
		if depth >= drovertype.MaxValueDepth {
			return nil, fmt.Errorf("values nested more than %d deep", drovertype.MaxValueDepth)
		}
		allStrings := true
		for k := range x {
			switch k.(type) {
			case string:
			case nil, bool, int64, float64:
				allStrings = false
			default:
				return nil, fmt.Errorf("unsupported dict key of type %T", k)
			}
		}
		if allStrings {
			m := make(map[string]any, len(x))
			for k, e := range x {
				n, err := normalize(e, depth+1)
				if err != nil {
					return nil, err
				}
				m[k.(string)] = n
			}
			return m, nil
		}
		// A new map rather than x[k] = n: a NaN key is not found again,
		// so assigning through it would add an entry per visit.
		m := make(map[any]any, len(x))
		for k, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = n
		}
		return m, nil
	case map[string]any:
		if depth >= drovertype.MaxValueDepth {
			return nil, fmt.Errorf("values nested more than %d deep", drovertype.MaxValueDepth)
		}
		if err := normalizeDict(x, depth+1); err != nil {
			return nil, err
		}
		return x, nil
	}
	return nil, fmt.Errorf("unsupported value of type %T (not drover's plain data)", v)
}

// normalizeDict normalizes the values of a decoded dict, in place; depth
// is the depth of its values.
func normalizeDict(d map[string]any, depth int) error {
	for k, e := range d {
		n, err := normalize(e, depth)
		if err != nil {
			return fmt.Errorf("[%q]: %w", k, err)
		}
		d[k] = n
	}
	return nil
}

// normalizeList normalizes the elements of a decoded list, in place.
func normalizeList(l []any, depth int) error {
	for i, e := range l {
		n, err := normalize(e, depth)
		if err != nil {
			return fmt.Errorf("[%d]: %w", i, err)
		}
		l[i] = n
	}
	return nil
}
