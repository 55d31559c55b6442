package drovertype

import (
	"fmt"
	"math/big"
	"strconv"
)

// MaxValueDepth is how deeply task values (args, kwargs, push, results,
// properties) may nest: a scalar has depth 0, a list of scalars depth 1.
// Decoders of task data should use the same limit.
const MaxValueDepth = 64

// ValidateValue reports whether v is plain data that a task can carry, the
// same in-process and over the wire: nil, bool, string, []byte, the Go
// integer and float types, *big.Int (non-nil; Starlark's big integers),
// []any, map[string]any, and map[any]any whose keys are nil, bool, string,
// integers or floats; containers nested at most MaxValueDepth deep. Other
// types (structs, pointers, functions, channels, typed slices and maps) are
// refused: they would not survive the wire's encoding unchanged. The error
// is a TypeError (kind InvalidArgument) naming where the value is.
func ValidateValue(v any) error { return validateValue("value", v, 0) }

// ValidateProperties checks engine properties: every value must pass
// ValidateValue. The error is the seed's InvalidProperty "can't be a value:
// ...", naming the property.
func ValidateProperties(props map[string]any) error {
	for k, v := range props {
		if err := validateValue("properties["+strconv.Quote(k)+"]", v, 0); err != nil {
			te := NewTaskError(InvalidProperty, "InvalidProperty", fmt.Sprintf(
				"can't be a value: %s", describe(v)))
			te.Cause = err
			return te
		}
	}
	return nil
}

func validateDict(path string, d map[string]any) error {
	for k, v := range d {
		if err := validateValue(path+"["+strconv.Quote(k)+"]", v, 0); err != nil {
			return err
		}
	}
	return nil
}

func validateValue(path string, v any, depth int) error {
	switch x := v.(type) {
	case nil, bool, string, []byte,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr,
		float32, float64:
		return nil
	case *big.Int:
		if x == nil {
			return NewTypeError(path + ": nil *big.Int")
		}
		return nil
	case []any:
		if depth >= MaxValueDepth {
			return tooDeep(path)
		}
		for i, e := range x {
			if err := validateValue(path+"["+strconv.Itoa(i)+"]", e, depth+1); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if depth >= MaxValueDepth {
			return tooDeep(path)
		}
		for k, e := range x {
			if err := validateValue(path+"["+strconv.Quote(k)+"]", e, depth+1); err != nil {
				return err
			}
		}
		return nil
	case map[any]any:
		if depth >= MaxValueDepth {
			return tooDeep(path)
		}
		for k, e := range x {
			switch k.(type) {
			case nil, bool, string, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
				float32, float64:
			default:
				return NewTypeError(fmt.Sprintf("%s: unsupported dict key of type %T", path, k))
			}
			if err := validateValue(fmt.Sprintf("%s[%#v]", path, k), e, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return NewTypeError(fmt.Sprintf(
		"%s: unsupported value of type %T (task data is nil, bool, numbers, string, []byte, []any or map[string]any)",
		path, v))
}

func tooDeep(path string) error {
	return NewTypeError(fmt.Sprintf("%s: nested more than %d deep", path, MaxValueDepth))
}

func describe(v any) string {
	switch v.(type) {
	case nil, bool, string, int, int64, float64:
		return fmt.Sprintf("%#v", v)
	}
	return fmt.Sprintf("value of type %T", v)
}

// CloneValue returns a deep copy of a plain-data value (see ValidateValue):
// []any, maps, []byte and *big.Int are copied, scalars returned as they are.
// Values of other types, and containers nested deeper than MaxValueDepth,
// are returned without copying (ValidateValue refuses them).
func CloneValue(v any) any { return cloneValue(v, 0) }

func cloneValue(v any, depth int) any {
	if depth > MaxValueDepth {
		return v
	}
	switch x := v.(type) {
	case []any:
		if x == nil {
			return x
		}
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = cloneValue(e, depth+1)
		}
		return c
	case map[string]any:
		if x == nil {
			return x
		}
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = cloneValue(e, depth+1)
		}
		return c
	case map[any]any:
		if x == nil {
			return x
		}
		c := make(map[any]any, len(x))
		for k, e := range x {
			c[k] = cloneValue(e, depth+1)
		}
		return c
	case []byte:
		if x == nil {
			return x
		}
		return append(make([]byte, 0, len(x)), x...)
	case *big.Int:
		if x == nil {
			return x
		}
		return new(big.Int).Set(x)
	}
	return v
}

func cloneDict(d map[string]any) map[string]any {
	if d == nil {
		return nil
	}
	c := make(map[string]any, len(d))
	for k, v := range d {
		c[k] = cloneValue(v, 0)
	}
	return c
}
