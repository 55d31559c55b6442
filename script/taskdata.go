package script

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/drovertype"
)

// Task data: the one conversion between Starlark values and the plain data
// that tasks carry (drovertype.ValidateValue): task arguments, pushed and
// pulled values, results, engine properties. The Starlark layer (MapTask,
// StringTask, tc) and the engines use it, so that a value means the same on
// both sides of the farm. Both directions copy: the result shares nothing
// mutable with the input.
//
// Starlark → task data (ToTaskData):
//
//	None → nil, bool → bool, int → int64 (or *big.Int when it does not
//	fit), float → float64, string → string, bytes → []byte, list, tuple
//	and set → []any, dict with string keys → map[string]any, other dict →
//	map[any]any (keys: None, bool, int that fits in 64 bits, float,
//	string).
//
// Tuples and sets become lists: task data has no tuple or set (so a tuple
// sent to an engine comes back as a list). Anything else (a function, a
// job, a task) is refused, and so is nesting deeper than
// drovertype.MaxValueDepth.
//
// Task data → Starlark (FromTaskData): the inverse for plain data (maps
// become dicts with their keys sorted); any other Go value is converted by
// ToStarlark (so a Tuple, a typed slice or a typed map is accepted too).

// convError is a conversion failure; its path is built on the way out of
// the recursion, so that a successful conversion costs nothing for it.
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

// ToTaskData converts a Starlark value to task data (see above). The error
// names where the offending value is, for example
// `[1]["f"]: cannot copy a value of type function (task data is plain data)`.
// Like any read of a Starlark value, it must not run concurrently with a
// mutation of v.
func ToTaskData(v starlark.Value) (any, error) {
	x, err := toTaskData(v, 0)
	if err != nil {
		return nil, err
	}
	return x, nil
}

func toTaskData(v starlark.Value, depth int) (any, *convError) {
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
			x, err := toTaskData(v.Index(i), depth+1)
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
			x, err := toTaskData(e, depth+1)
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
			x, err := toTaskData(e, depth+1)
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
				x, err := toTaskData(it[1], depth+1)
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
			x, err := toTaskData(it[1], depth+1)
			if err != nil {
				return nil, err.in("[" + it[0].String() + "]")
			}
			out[k] = x
		}
		return out, nil
	case nil:
		return nil, &convError{msg: "missing value"}
	}
	return nil, &convError{msg: "cannot copy a value of type " + v.Type() + " (task data is plain data: None, bool, int, float, string, bytes, list, tuple, set, dict)"}
}

func tooDeep() *convError {
	return &convError{msg: fmt.Sprintf("value nested more than %d deep", drovertype.MaxValueDepth)}
}

// FromTaskData converts task data (and, through ToStarlark, other Go
// values) to a new, unfrozen Starlark value (see above). A
// starlark.Value is returned as it is.
func FromTaskData(x any) (starlark.Value, error) {
	v, err := fromTaskData(x, 0)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func fromTaskData(x any, depth int) (starlark.Value, *convError) {
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
			v, err := fromTaskData(e, depth+1)
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
			v, err := fromTaskData(x[k], depth+1)
			if err != nil {
				return nil, err.in("[" + strconv.Quote(k) + "]")
			}
			d.SetKey(starlark.String(k), v) // cannot fail: string key, new dict
		}
		return d, nil
	case starlark.Value:
		return x, nil
	}
	v, err := ToStarlark(x)
	if err != nil {
		return nil, &convError{msg: err.Error()}
	}
	return v, nil
}
