package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/script"
)

// farmClient gives a drover.Client the Engine method that script.TaskClient
// wants (package script cannot import package drover).
type farmClient struct{ drover.Client }

func (c farmClient) Engine(id drover.EngineID) script.EngineClient { return c.Client.Engine(id) }

// builtinFunctions registers the Go functions of the command's in-process farm, for
// demos and benchmarks (MapTask("sleep", args=[0.5])):
//
//	noop(*args, **kwargs)  does nothing, returns None
//	echo(x)                returns x; echo(a, b, ...) returns [a, b, ...]
//	sleep(seconds)         sleeps (stopped by abort or a timeout), returns None
//	fail(message)          fails with message
func builtinFunctions() *drover.Registry {
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

// farmOptions are the task-farm flags of the commands that open a session.
type farmOptions struct {
	engines        int
	scheduler      string
	failurePenalty time.Duration
	idleTimeout    time.Duration
	window         int
}

func (o *farmOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&o.engines, "engines", runtime.NumCPU(), "number of engines of the in-process task farm (0: no farm and no tc)")
	f.StringVar(&o.scheduler, "scheduler", "fifo", "task scheduling order: fifo (oldest task first) or lifo (newest first)")
	f.DurationVar(&o.failurePenalty, "failure-penalty", time.Second, "how long an engine is kept out of scheduling after a failed attempt (0: none)")
	f.DurationVar(&o.idleTimeout, "idle-timeout", 30*time.Second, "how long tasks no engine can take may wait while every engine is idle before they fail (0: forever)")
	f.IntVar(&o.window, "window", drover.DefaultWindow, "task attempts handed to an engine at once (1: exactly IPython's scheduling order)")
	_ = cmd.RegisterFlagCompletionFunc("scheduler", cobra.FixedCompletions([]string{"fifo", "lifo"}, cobra.ShellCompDirectiveNoFileComp))
}

// check validates the flags; its errors are usage errors.
func (o *farmOptions) check() error {
	switch {
	case o.engines < 0:
		return fmt.Errorf("--engines %d: must not be negative", o.engines)
	case o.scheduler != "fifo" && o.scheduler != "lifo":
		return fmt.Errorf("--scheduler %q: want fifo or lifo", o.scheduler)
	case o.failurePenalty < 0:
		return fmt.Errorf("--failure-penalty %v: must not be negative", o.failurePenalty)
	case o.idleTimeout < 0:
		return fmt.Errorf("--idle-timeout %v: must not be negative", o.idleTimeout)
	case o.window < 1:
		return fmt.Errorf("--window %d: must be at least 1", o.window)
	}
	return nil
}

// openFarm starts the in-process farm (nil with --engines 0). Engine print
// output goes to out.
func (o *farmOptions) openFarm(ctx context.Context, out *engineOutput) (*drover.Farm, error) {
	if o.engines == 0 {
		return nil, nil
	}
	orNone := func(d time.Duration) time.Duration {
		if d == 0 {
			return -1
		}
		return d
	}
	return drover.Open(ctx, &drover.Config{
		Engines:        o.engines,
		Scheduler:      o.scheduler,
		Registry:       builtinFunctions(),
		FailurePenalty: orNone(o.failurePenalty),
		IdleTimeout:    orNone(o.idleTimeout),
		Window:         o.window,
		Depend:         script.CompileDepend,
		AllowCommands:  true,
		Print:          out.print,
	})
}

// closeFarm stops the farm at once: tasks still queued or running are
// dropped (their attempts stopped); it returns when every goroutine of the
// farm has ended.
func closeFarm(farm *drover.Farm) error {
	if farm == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := farm.Close(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("close task farm: %w", err)
	}
	return nil
}

// engineOutput receives the print output of the engines and writes it,
// one "[engine N] message" line per print, to the writer set last (nothing
// while none is). Safe for concurrent use.
type engineOutput struct {
	mu sync.Mutex
	w  io.Writer
}

func (e *engineOutput) set(w io.Writer) {
	e.mu.Lock()
	e.w = w
	e.mu.Unlock()
}

func (e *engineOutput) print(id drover.EngineID, msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.w != nil {
		fmt.Fprintf(e.w, "[engine %d] %s\n", id, msg)
	}
}
