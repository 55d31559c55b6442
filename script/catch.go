package script

import (
	"go.starlark.net/starlark"
)

// catch implements the built-in catch(fn, *args, **kwargs): it calls fn and
// returns (value, None), or (None, error) if the call failed, where error
// has .kind, .message and .traceback (see KindOf). An interruption (Ctrl-C,
// a killed job) is not caught: it stops the program as usual.
func catch(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) == 0 {
		return nil, newError(KindTypeError, nil, "catch: missing the function to call")
	}
	v, err := starlark.Call(thread, args[0], args[1:], kwargs)
	if err == nil {
		return starlark.Tuple{v, starlark.None}, nil
	}
	if st := stateOf(thread); st != nil && st.ctx.Err() != nil {
		return nil, err
	}
	return starlark.Tuple{starlark.None, newErrorValue(err)}, nil
}
