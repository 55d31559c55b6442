package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/internal/netcmd"
	"github.com/drover-dev/drover/script"
)

// farmClient gives a drover.Client the Engine method that script.TaskClient
// wants (package script cannot import package drover).
type farmClient struct{ drover.Client }

func (c farmClient) Engine(id drover.EngineID) script.EngineClient { return c.Client.Engine(id) }

// farmOptions are the task-farm flags of the commands that open a session:
// those of the in-process farm, or --connect to a controller.
type farmOptions struct {
	flags          *pflag.FlagSet // to know which flags were given
	connect        string
	creds          string
	prefix         string
	tls            netcmd.TLSOptions
	engines        int
	scheduler      string
	failurePenalty time.Duration
	idleTimeout    time.Duration
	window         int
}

func (o *farmOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	o.flags = f
	f.StringVar(&o.connect, "connect", "", `use the controller of this client connection file, or these NATS URLs, for tc instead of an in-process farm ("-": drover-client.json in drover's state directory, the controller this user started)`)
	f.StringVar(&o.creds, "creds", "", "with --connect NATS URLs: a credentials file (.creds, nkey seed or token; mode 0600)")
	f.StringVar(&o.prefix, "prefix", fabric.DefaultPrefix, "with --connect NATS URLs: the controller's subject prefix")
	o.tls.AddFlags(f)
	f.IntVar(&o.engines, "engines", runtime.NumCPU(), "number of engines of the in-process task farm (0: no farm and no tc)")
	f.StringVar(&o.scheduler, "scheduler", "fifo", "task scheduling order: fifo (oldest task first) or lifo (newest first)")
	f.DurationVar(&o.failurePenalty, "failure-penalty", time.Second, "how long an engine is kept out of scheduling after a failed attempt (0: none)")
	f.DurationVar(&o.idleTimeout, "idle-timeout", 30*time.Second, "how long tasks no engine can take may wait while every engine is idle before they fail (0: forever)")
	f.IntVar(&o.window, "window", drover.DefaultWindow, "task attempts handed to an engine at once (1: exactly IPython's scheduling order)")
	_ = cmd.RegisterFlagCompletionFunc("scheduler", cobra.FixedCompletions([]string{"fifo", "lifo"}, cobra.ShellCompDirectiveNoFileComp))
}

// check validates the flags; its errors are usage errors.
func (o *farmOptions) check() error {
	if o.connect != "" {
		for _, name := range []string{"engines", "scheduler", "failure-penalty", "idle-timeout", "window"} {
			if o.flags != nil && o.flags.Changed(name) {
				return fmt.Errorf("--%s is for the in-process farm; with --connect the controller decides it (drover controller --%s)", name, name)
			}
		}
		if o.creds != "" && !fabric.IsURL(o.connect) {
			return fmt.Errorf("--creds is for NATS URLs: a connection file holds its credentials")
		}
		if err := o.tls.Check(); err != nil {
			return err
		}
		return nil
	}
	for _, name := range []string{"creds", "prefix", "tls-cert", "tls-key", "tls-ca"} {
		if o.flags != nil && o.flags.Changed(name) {
			return fmt.Errorf("--%s is for --connect", name)
		}
	}
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

// openFarm starts the in-process farm (nil with --engines 0), or connects
// to the controller given by --connect. Engine print output of the
// in-process farm goes to out; reg is the in-process engines' functions.
func (o *farmOptions) openFarm(ctx context.Context, stdio IO, reg *drover.Registry, out *engineOutput) (drover.Client, error) {
	if o.connect != "" {
		target := o.connect
		if target == "-" {
			target = "" // netcmd.Dial: the state directory's client file
		}
		tf, err := o.tls.Files()
		if err != nil {
			return nil, err
		}
		r, err := netcmd.Dial(ctx, stdio, target, &fabric.ConnectOptions{
			Name: "drover-session", Prefix: o.prefix, CredentialsFile: o.creds, TLS: tf,
		})
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	if o.engines == 0 {
		return nil, nil
	}
	orNone := func(d time.Duration) time.Duration {
		if d == 0 {
			return -1
		}
		return d
	}
	farm, err := drover.Open(ctx, &drover.Config{
		Engines:        o.engines,
		Scheduler:      o.scheduler,
		Registry:       reg,
		FailurePenalty: orNone(o.failurePenalty),
		IdleTimeout:    orNone(o.idleTimeout),
		Window:         o.window,
		Depend:         script.CompileDepend,
		AllowCommands:  true,
		Print:          out.print,
	})
	if err != nil {
		return nil, err
	}
	return farm, nil
}

// closeFarm stops the in-process farm at once (tasks still queued or
// running are dropped, their attempts stopped; it returns when every
// goroutine of the farm has ended), or disconnects from the controller
// (whose tasks go on).
func closeFarm(c drover.Client) error {
	switch c := c.(type) {
	case *drover.Farm:
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := c.Close(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("close task farm: %w", err)
		}
	case *drover.Remote:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			return fmt.Errorf("disconnect from the controller: %w", err)
		}
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
