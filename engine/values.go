package engine

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/script"
)

// Value conversion between the engine's Starlark namespace and the plain
// data of tasks is script.ToTaskData and script.FromTaskData: one
// conversion for the whole farm (see package script). Both directions copy:
// a value pushed into the namespace shares nothing with the task, a value
// pulled out shares nothing with the namespace. Tuples and sets come back as
// lists: the plain data of tasks has neither.

// fromStarlark converts v to plain data.
func fromStarlark(v starlark.Value) (any, error) { return script.ToTaskData(v) }

// toStarlark converts plain data (and, through script.ToStarlark, other Go
// values) to a new Starlark value.
func toStarlark(x any) (starlark.Value, error) { return script.FromTaskData(x) }

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
