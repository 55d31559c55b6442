package script

import (
	"errors"

	"go.starlark.net/starlark"
)

// catch implements the built-in catch(fn, *args, **kwargs): it calls fn and
// returns (value, None), or (None, error) if the call failed, where error
// has .kind, .message and .traceback (see Classify). An interruption
// (Ctrl-C, a killed job) and exit() are not caught: they stop the program as
// usual.
func catch(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) == 0 {
		return nil, newError(KindTypeError, nil, "catch: missing the function to call")
	}
	if _, ok := args[0].(starlark.Callable); !ok {
		err := newError(KindTypeError, nil, "invalid call of non-function (%s)", args[0].Type())
		return starlark.Tuple{starlark.None, newErrorValue(err)}, nil
	}
	v, err := starlark.Call(thread, args[0], args[1:], kwargs)
	if err == nil {
		return starlark.Tuple{v, starlark.None}, nil
	}
	if st := stateOf(thread); st != nil && st.ctx.Err() != nil {
		return nil, err
	}
	if se := (*SystemExit)(nil); errors.As(err, &se) {
		return nil, err
	}
	return starlark.Tuple{starlark.None, newErrorValue(err)}, nil
}
