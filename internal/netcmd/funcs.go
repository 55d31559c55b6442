package netcmd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/drover-dev/drover"
)

// BuiltinFunctions returns the Go functions of drover's engines, for demos
// and benchmarks (MapTask("sleep", args=[0.5])): those of drover engine
// and of the in-process farm of drover shell and drover run.
//
//	noop(*args, **kwargs)  does nothing, returns None
//	echo(x)                returns x; echo(a, b, ...) returns [a, b, ...]
//	sleep(seconds)         sleeps (stopped by abort or a timeout), returns None
//	fail(message)          fails with message
func BuiltinFunctions() *drover.Registry {
	reg := drover.NewRegistry()
	reg.MustRegister("noop", func(context.Context, []any, map[string]any) (any, error) { return nil, nil })
	reg.MustRegister("echo", func(_ context.Context, args []any, _ map[string]any) (any, error) {
		if len(args) == 1 {
			return args[0], nil
		}
		if args == nil {
			args = []any{}
		}
		return args, nil
	})
	reg.MustRegister("sleep", func(ctx context.Context, args []any, _ map[string]any) (any, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("sleep: want 1 argument (seconds), got %d", len(args))
		}
		var secs float64
		switch x := args[0].(type) {
		case int64:
			secs = float64(x)
		case float64:
			secs = x
		default:
			return nil, fmt.Errorf("sleep: seconds must be a number, not %T", args[0])
		}
		if secs < 0 || math.IsNaN(secs) {
			return nil, fmt.Errorf("sleep: seconds must not be negative, got %v", secs)
		}
		t := time.NewTimer(time.Duration(min(secs, 1e9) * float64(time.Second)))
		defer t.Stop()
		select {
		case <-t.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	reg.MustRegister("fail", func(_ context.Context, args []any, _ map[string]any) (any, error) {
		parts := make([]string, len(args))
		for i, a := range args {
			parts[i] = fmt.Sprint(a)
		}
		return nil, errors.New(strings.Join(parts, " "))
	})
	return reg
}
