package engine

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/script"
)

// Value conversion between the engine's Starlark namespace and the plain
// data of tasks (drovertype.ValidateValue). Both directions copy: a value
// pushed into the namespace shares nothing with the task, a value pulled out
// shares nothing with the namespace.
//
// Starlark → Go (fromStarlark):
//
//	None → nil, bool → bool, int → int64 (or *big.Int), float → float64,
//	string → string, bytes → []byte, list, tuple and set → []any,
//	dict with string keys → map[string]any, other dict → map[any]any
//	(keys: None, bool, int, float, string).
//
// Tuples and sets come back as lists: the plain data of tasks has no tuple
// or set (drovertype).
//
// Go → Starlark (toStarlark): the inverse for plain data; anything else is
// converted by script.ToStarlark (script.Tuple, typed slices and maps, ...).

// convError is a conversion failure; path is built on the way out of the
// recursion, so that success costs nothing.
type convError struct {
	path string
	msg  string
}

func (e *convError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

func (e *convError) in(step string) *convError {
	e.path = step + e.path
	return e
}

// fromStarlark converts v to plain data.
func fromStarlark(v starlark.Value) (any, error) {
	x, err := fromStarlarkDepth(v, 0)
	if err != nil {
		return nil, err
	}
	return x, nil
}

func fromStarlarkDepth(v starlark.Value, depth int) (any, *convError) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.Int:
		if i, ok := v.Int64(); ok {
			return i, nil
		}
		return v.BigInt(), nil
	case starlark.Float:
		return float64(v), nil
	case starlark.String:
		return string(v), nil
	case starlark.Bytes:
		return []byte(v), nil
	case *starlark.List:
		if depth >= drovertype.MaxValueDepth {
			return nil, tooDeep()
		}
		out := make([]any, v.Len())
		for i := range out {
			x, err := fromStarlarkDepth(v.Index(i), depth+1)
			if err != nil {
				return nil, err.in("[" + strconv.Itoa(i) + "]")
			}
			out[i] = x
		}
		return out, nil
	case starlark.Tuple:
		if depth >= drovertype.MaxValueDepth {
			return nil, tooDeep()
		}
		out := make([]any, len(v))
		for i, e := range v {
			x, err := fromStarlarkDepth(e, depth+1)
			if err != nil {
				return nil, err.in("[" + strconv.Itoa(i) + "]")
			}
			out[i] = x
		}
		return out, nil
	case *starlark.Set:
		if depth >= drovertype.MaxValueDepth {
			return nil, tooDeep()
		}
		out := make([]any, 0, v.Len())
		i := 0
		for e := range v.Elements() {
			x, err := fromStarlarkDepth(e, depth+1)
			if err != nil {
				return nil, err.in("{" + strconv.Itoa(i) + "}")
			}
			out = append(out, x)
			i++
		}
		return out, nil
	case *starlark.Dict:
		if depth >= drovertype.MaxValueDepth {
			return nil, tooDeep()
		}
		items := v.Items()
		strKeys := true
		for _, it := range items {
			if _, ok := it[0].(starlark.String); !ok {
				strKeys = false
				break
			}
		}
		if strKeys {
			out := make(map[string]any, len(items))
			for _, it := range items {
				k := string(it[0].(starlark.String))
				x, err := fromStarlarkDepth(it[1], depth+1)
				if err != nil {
					return nil, err.in("[" + strconv.Quote(k) + "]")
				}
				out[k] = x
			}
			return out, nil
		}
		out := make(map[any]any, len(items))
		for _, it := range items {
			var k any
			switch kv := it[0].(type) {
			case starlark.NoneType:
				k = nil
			case starlark.Bool:
				k = bool(kv)
			case starlark.Int:
				i, ok := kv.Int64()
				if !ok {
					return nil, (&convError{msg: "dict key " + kv.String() + " does not fit in 64 bits"}).in("[" + kv.String() + "]")
				}
				k = i
			case starlark.Float:
				k = float64(kv)
			case starlark.String:
				k = string(kv)
			default:
				return nil, (&convError{msg: "unsupported dict key of type " + it[0].Type()}).in("[" + it[0].String() + "]")
			}
			x, err := fromStarlarkDepth(it[1], depth+1)
			if err != nil {
				return nil, err.in("[" + it[0].String() + "]")
			}
			out[k] = x
		}
		return out, nil
	case nil:
		return nil, &convError{msg: "missing value"}
	}
	return nil, &convError{msg: "cannot copy a value of type " + v.Type() + " out of the engine"}
}

func tooDeep() *convError {
	return &convError{msg: fmt.Sprintf("value nested more than %d deep", drovertype.MaxValueDepth)}
}

// toStarlark converts plain data (and, through script.ToStarlark, other Go
// values) to a new Starlark value.
func toStarlark(x any) (starlark.Value, error) {
	v, err := toStarlarkDepth(x, 0)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func toStarlarkDepth(x any, depth int) (starlark.Value, *convError) {
	switch x := x.(type) {
	case nil:
		return starlark.None, nil
	case bool:
		return starlark.Bool(x), nil
	case int64:
		return starlark.MakeInt64(x), nil
	case int:
		return starlark.MakeInt(x), nil
	case float64:
		return starlark.Float(x), nil
	case string:
		return starlark.String(x), nil
	case []byte:
		return starlark.Bytes(x), nil
	case *big.Int:
		if x == nil {
			return nil, &convError{msg: "nil *big.Int"}
		}
		return starlark.MakeBigInt(x), nil
	case []any:
		if depth >= drovertype.MaxValueDepth {
			return nil, tooDeep()
		}
		out := make([]starlark.Value, len(x))
		for i, e := range x {
			v, err := toStarlarkDepth(e, depth+1)
			if err != nil {
				return nil, err.in("[" + strconv.Itoa(i) + "]")
			}
			out[i] = v
		}
		return starlark.NewList(out), nil
	case map[string]any:
		if depth >= drovertype.MaxValueDepth {
			return nil, tooDeep()
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		d := starlark.NewDict(len(x))
		for _, k := range keys {
			v, err := toStarlarkDepth(x[k], depth+1)
			if err != nil {
				return nil, err.in("[" + strconv.Quote(k) + "]")
			}
			d.SetKey(starlark.String(k), v) // cannot fail: string key, new dict
		}
		return d, nil
	case starlark.Value:
		return x, nil
	}
	v, err := script.ToStarlark(x)
	if err != nil {
		return nil, &convError{msg: err.Error()}
	}
	return v, nil
}

// cloneProps copies a property map (values are plain data).
func cloneProps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = drovertype.CloneValue(v)
	}
	return out
}

// normalizeProp checks and copies one property value: it must be plain data
// (drovertype.ValidateValue), or a value that converts to it (a typed slice,
// script.Tuple...), which is stored converted.
func normalizeProp(name string, v any) (any, error) {
	if err := drovertype.ValidateValue(v); err == nil {
		return drovertype.CloneValue(v), nil
	}
	sv, cerr := toStarlark(v)
	if cerr == nil {
		if x, err := fromStarlark(sv); err == nil {
			return x, nil
		}
	}
	te := drovertype.NewTaskError(drovertype.InvalidProperty, "InvalidProperty", "can't be a value: "+describe(v))
	te.Cause = fmt.Errorf("property %q: %T is not plain data", name, v)
	return nil, te
}

func describe(v any) string {
	switch v := v.(type) {
	case starlark.Value:
		return v.String()
	case nil, bool, string, int, int64, float64:
		return fmt.Sprintf("%#v", v)
	}
	return fmt.Sprintf("value of type %T", v)
}
