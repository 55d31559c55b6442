package script

import (
	"cmp"
	"fmt"
	"math/big"
	"reflect"
	"slices"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Go representations of Starlark values that have no natural Go type; see
// FromStarlark and ToStarlark.
type (
	// Tuple is a Starlark tuple (a Starlark list is a []any).
	Tuple []any
	// Set is a Starlark set, its elements in insertion order.
	Set []any
	// Dict is a Starlark dict whose keys are not all strings, its items in
	// insertion order (a dict with string keys only is a map[string]any).
	Dict []Item
)

// Item is one key/value pair of a Dict.
type Item struct {
	Key, Value any
}

// maxConvertDepth bounds the nesting of converted values, so that a value
// that contains itself is an error rather than a stack overflow.
const maxConvertDepth = 1000

// FromStarlark converts a Starlark value to plain Go values:
//
//	None             nil
//	bool             bool
//	int              int64, or *big.Int when it does not fit
//	float            float64
//	string           string
//	bytes            []byte
//	list             []any
//	tuple            Tuple
//	dict             map[string]any when every key is a string, else Dict
//	set              Set
//
// Elements are converted recursively. Any other value (a function, a job,
// a value nested more than 1000 deep or containing itself) is an error that
// names its type and where it was found, for example
// `FromStarlark: [1]["f"]: cannot convert a Starlark function`.
//
// FromStarlark only reads v; like any read of a Starlark value it must not
// run concurrently with a mutation of v (frozen values are safe).
func FromStarlark(v starlark.Value) (any, error) {
	return fromStarlark(v, "", 0)
}

func fromStarlark(v starlark.Value, path string, depth int) (any, error) {
	if depth > maxConvertDepth {
		return nil, fmt.Errorf("FromStarlark: %s: value nested more than %d deep (or containing itself)", pathOrTop(path), maxConvertDepth)
	}
	switch v := v.(type) {
	case nil, starlark.NoneType:
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
		out := make([]any, v.Len())
		for i := range out {
			x, err := fromStarlark(v.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case starlark.Tuple:
		out := make(Tuple, len(v))
		for i, e := range v {
			x, err := fromStarlark(e, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case *starlark.Set:
		out := make(Set, 0, v.Len())
		i := 0
		for e := range v.Elements() {
			x, err := fromStarlark(e, fmt.Sprintf("%s{%d}", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
			i++
		}
		return out, nil
	case *starlark.Dict:
		items := v.Items()
		allStrings := true
		for _, it := range items {
			if _, ok := it[0].(starlark.String); !ok {
				allStrings = false
				break
			}
		}
		if allStrings {
			out := make(map[string]any, len(items))
			for _, it := range items {
				k := string(it[0].(starlark.String))
				x, err := fromStarlark(it[1], fmt.Sprintf("%s[%q]", path, k), depth+1)
				if err != nil {
					return nil, err
				}
				out[k] = x
			}
			return out, nil
		}
		out := make(Dict, 0, len(items))
		for _, it := range items {
			kp := path + "[" + it[0].String() + "]"
			k, err := fromStarlark(it[0], kp+" (key)", depth+1)
			if err != nil {
				return nil, err
			}
			x, err := fromStarlark(it[1], kp, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, Item{k, x})
		}
		return out, nil
	}
	return nil, fmt.Errorf("FromStarlark: %s: cannot convert a Starlark %s", pathOrTop(path), v.Type())
}

func pathOrTop(path string) string {
	if path == "" {
		return "value"
	}
	return path
}

// ToStarlark converts a Go value to a Starlark value, the inverse of
// FromStarlark:
//
//	nil, nil pointer         None
//	starlark.Value           itself
//	bool                     bool
//	signed/unsigned integers int (also named types such as time.Duration)
//	*big.Int, big.Int        int
//	float32, float64         float
//	string                   string
//	[]byte                   bytes
//	Tuple                    tuple
//	Set                      set
//	Dict                     dict, in item order
//	other slices and arrays  list
//	maps                     dict, keys sorted
//	non-nil pointers         the value pointed to
//
// Anything else (structs, functions, channels, ...) is an error naming the
// Go type and where it was found, for example
// `ToStarlark: ["a"][0]: cannot convert Go type chan int`. The result is a
// new, unfrozen value that shares nothing with x except starlark.Values
// found inside x.
func ToStarlark(x any) (starlark.Value, error) {
	return toStarlark(x, "", 0)
}

func toStarlark(x any, path string, depth int) (starlark.Value, error) {
	if depth > maxConvertDepth {
		return nil, fmt.Errorf("ToStarlark: %s: value nested more than %d deep (or containing itself)", pathOrTop(path), maxConvertDepth)
	}
	switch x := x.(type) {
	case nil:
		return starlark.None, nil
	case starlark.Value:
		return x, nil
	case bool:
		return starlark.Bool(x), nil
	case int:
		return starlark.MakeInt(x), nil
	case int64:
		return starlark.MakeInt64(x), nil
	case int32:
		return starlark.MakeInt64(int64(x)), nil
	case uint64:
		return starlark.MakeUint64(x), nil
	case *big.Int:
		if x == nil {
			return starlark.None, nil
		}
		return starlark.MakeBigInt(x), nil
	case big.Int:
		return starlark.MakeBigInt(&x), nil
	case float64:
		return starlark.Float(x), nil
	case float32:
		return starlark.Float(x), nil
	case string:
		return starlark.String(x), nil
	case []byte:
		return starlark.Bytes(x), nil
	case Tuple:
		out := make(starlark.Tuple, len(x))
		for i, e := range x {
			v, err := toStarlark(e, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case Set:
		out := starlark.NewSet(len(x))
		for i, e := range x {
			p := fmt.Sprintf("%s{%d}", path, i)
			v, err := toStarlark(e, p, depth+1)
			if err != nil {
				return nil, err
			}
			if err := out.Insert(v); err != nil {
				return nil, fmt.Errorf("ToStarlark: %s: %v", p, err)
			}
		}
		return out, nil
	case Dict:
		out := starlark.NewDict(len(x))
		for i, it := range x {
			p := fmt.Sprintf("%s{%d}", path, i)
			k, err := toStarlark(it.Key, p+" (key)", depth+1)
			if err != nil {
				return nil, err
			}
			v, err := toStarlark(it.Value, p, depth+1)
			if err != nil {
				return nil, err
			}
			if err := out.SetKey(k, v); err != nil {
				return nil, fmt.Errorf("ToStarlark: %s: %v", p, err)
			}
		}
		return out, nil
	case []any:
		out := make([]starlark.Value, len(x))
		for i, e := range x {
			v, err := toStarlark(e, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return starlark.NewList(out), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := starlark.NewDict(len(x))
		for _, k := range keys {
			v, err := toStarlark(x[k], fmt.Sprintf("%s[%q]", path, k), depth+1)
			if err != nil {
				return nil, err
			}
			out.SetKey(starlark.String(k), v) // cannot fail: new dict, string key
		}
		return out, nil
	}
	return reflectToStarlark(reflect.ValueOf(x), path, depth)
}

// reflectToStarlark handles named and composite Go types by kind.
func reflectToStarlark(rv reflect.Value, path string, depth int) (starlark.Value, error) {
	switch rv.Kind() {
	case reflect.Bool:
		return starlark.Bool(rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return starlark.MakeInt64(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return starlark.MakeUint64(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return starlark.Float(rv.Float()), nil
	case reflect.String:
		return starlark.String(rv.String()), nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return starlark.None, nil
		}
		return toStarlark(rv.Elem().Interface(), path, depth+1)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return starlark.Bytes(rv.Bytes()), nil
		}
		out := make([]starlark.Value, rv.Len())
		for i := range out {
			v, err := toStarlark(rv.Index(i).Interface(), fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return starlark.NewList(out), nil
	case reflect.Map:
		type kv struct{ k, v starlark.Value }
		items := make([]kv, 0, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			p := fmt.Sprintf("%s[%v]", path, iter.Key().Interface())
			k, err := toStarlark(iter.Key().Interface(), p+" (key)", depth+1)
			if err != nil {
				return nil, err
			}
			v, err := toStarlark(iter.Value().Interface(), p, depth+1)
			if err != nil {
				return nil, err
			}
			items = append(items, kv{k, v})
		}
		slices.SortFunc(items, func(a, b kv) int {
			if lt, err := starlark.Compare(syntax.LT, a.k, b.k); err == nil {
				if lt {
					return -1
				}
				if gt, _ := starlark.Compare(syntax.GT, a.k, b.k); gt {
					return 1
				}
				return 0
			}
			return cmp.Compare(a.k.String(), b.k.String())
		})
		out := starlark.NewDict(len(items))
		for _, it := range items {
			if err := out.SetKey(it.k, it.v); err != nil {
				return nil, fmt.Errorf("ToStarlark: %s[%s]: %v", path, it.k, err)
			}
		}
		return out, nil
	}
	if !rv.IsValid() {
		return starlark.None, nil
	}
	return nil, fmt.Errorf("ToStarlark: %s: cannot convert Go type %s", pathOrTop(path), rv.Type())
}
