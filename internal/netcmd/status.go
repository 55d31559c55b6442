package netcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/fabric"
)

// clientOptions are the flags of the client commands (status, engines).
type clientOptions struct {
	connect string
	creds   string
	prefix  string
	json    bool
	timeout time.Duration
	tls     TLSOptions
}

func (o *clientOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.connect, "connect", "", "client connection file, or NATS URLs (default: drover-client.json in drover's state directory)")
	f.StringVar(&o.creds, "creds", "", "with NATS URLs: a credentials file (.creds, nkey seed or token; mode 0600)")
	f.StringVar(&o.prefix, "prefix", fabric.DefaultPrefix, "with NATS URLs: the controller's subject prefix")
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for the controller")
	o.tls.AddFlags(f)
}

// dial connects to the controller as a client.
func (o *clientOptions) dial(ctx context.Context, stdio IO) (*drover.Remote, error) {
	if o.creds != "" && !fabric.IsURL(o.connect) {
		return nil, usage("--creds is for NATS URLs: a connection file holds its credentials")
	}
	if o.prefix != fabric.DefaultPrefix && !fabric.IsURL(o.connect) {
		return nil, usage("--prefix is for NATS URLs: a connection file holds the prefix")
	}
	if o.timeout <= 0 {
		return nil, usage("--timeout %v: must be more than 0", o.timeout)
	}
	if err := o.tls.Check(); err != nil {
		return nil, err
	}
	tf, err := o.tls.Files()
	if err != nil {
		return nil, err
	}
	r, err := Dial(ctx, stdio, o.connect, &fabric.ConnectOptions{
		Name: "drover-status", Prefix: o.prefix, CredentialsFile: o.creds, DialTimeout: o.timeout, TLS: tf,
	})
	if err != nil {
		return nil, failure(err)
	}
	return r, nil
}

// Dial connects to a controller as a client, as drover status does (for
// the --connect flag of other commands): connect is a client connection
// file, NATS URLs (opts gives their credentials file and prefix), or ""
// for drover-client.json in drover's state directory (found with
// stdio.Getenv: $DROVER_STATE_DIR, $XDG_STATE_HOME/drover,
// ~/.local/state/drover). A missing connection file gets an error that
// says to start a controller. opts may be nil.
func Dial(ctx context.Context, stdio IO, connect string, opts *fabric.ConnectOptions, dialOpts ...drover.DialOption) (*drover.Remote, error) {
	stdio = stdio.WithDefaults()
	target := connect
	if target == "" {
		dir, err := stdio.stateDir()
		if err != nil {
			return nil, fmt.Errorf("connect to the controller: %w (or give --connect)", err)
		}
		target = filepath.Join(dir, fabric.FileName(fabric.RoleClient))
	}
	var o fabric.ConnectOptions
	if opts != nil {
		o = *opts
	}
	r, err := drover.Dial(ctx, target, append([]drover.DialOption{drover.WithConnectOptions(o)}, dialOpts...)...)
	if err != nil {
		return nil, connectError("connect to the controller", target, err)
	}
	return r, nil
}

// clientTLSDoc is the client commands' help on TLS.
const clientTLSDoc = `--tls-cert and --tls-key give a client certificate, for a controller
started with --tls-verify-clients (mutual TLS); --tls-ca names the
certificate authorities of a server with a private CA (a tls:// URL). With
a connection file, they override its TLS settings.`

// StatusReport is what drover status --json prints.
type StatusReport struct {
	ControllerID string                  `json:"controller_id"`
	Prefix       string                  `json:"prefix"`
	Service      string                  `json:"service"`
	Version      string                  `json:"version"`
	Durable      bool                    `json:"durable"`
	Durability   string                  `json:"durability"`
	Tasks        drovertype.QueueCounts  `json:"tasks"`
	Engines      []drovertype.EngineInfo `json:"engines"`
}

// Status returns the drover status command.
func Status(stdio IO) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the task farm controller's queue and engines",
		Long: `drover status asks the controller (over NATS, with the client connection
file) for its queue (tasks pending on engines, scheduled, succeeded, failed)
and its engines (id, name, properties, the task each is running), and says
where the controller keeps accepted tasks and results: "durable: <where>"
(a journal: they survive a restart of the controller), or "in memory:
results are lost when the controller stops".

` + clientTLSDoc,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stdio := stdio.WithDefaults()
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			r, err := o.dial(ctx, stdio)
			if err != nil {
				return err
			}
			defer r.Close(context.Background())
			counts, err := r.QueueCounts(ctx)
			if err != nil {
				return failure(fmt.Errorf("status: %w", err))
			}
			engines, err := r.Engines(ctx)
			if err != nil {
				return failure(fmt.Errorf("status: %w", err))
			}
			info := r.Info()
			rep := StatusReport{
				ControllerID: info.ControllerID, Prefix: info.Prefix, Service: info.Service, Version: info.Version,
				Durable: info.Durable || info.Durability != "", Durability: durabilityText(info.Durability),
				Tasks: counts, Engines: sortEngines(engines),
			}
			if o.json {
				return writeJSON(stdio.Out, rep)
			}
			return writeStatus(stdio.Out, &rep)
		},
	}
	o.addFlags(cmd)
	return cmd
}

// Engines returns the drover engines command.
func Engines(stdio IO) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "engines",
		Short: "List the task farm controller's engines",
		Long: `drover engines lists the engines registered with the controller: id, name,
whether each is running a task (and which), whether it runs commands, and
its properties.

` + clientTLSDoc,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stdio := stdio.WithDefaults()
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			r, err := o.dial(ctx, stdio)
			if err != nil {
				return err
			}
			defer r.Close(context.Background())
			engines, err := r.Engines(ctx)
			if err != nil {
				return failure(fmt.Errorf("engines: %w", err))
			}
			engines = sortEngines(engines)
			if o.json {
				return writeJSON(stdio.Out, engines)
			}
			return writeEngines(stdio.Out, engines)
		},
	}
	o.addFlags(cmd)
	return cmd
}

func sortEngines(es []drovertype.EngineInfo) []drovertype.EngineInfo {
	if es == nil {
		es = []drovertype.EngineInfo{}
	}
	slices.SortFunc(es, func(a, b drovertype.EngineInfo) int { return int(a.ID) - int(b.ID) })
	return es
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return failure(fmt.Errorf("write JSON: %w", err))
	}
	return nil
}

func writeStatus(w io.Writer, r *StatusReport) error {
	busy := 0
	for _, e := range r.Engines {
		if e.Busy {
			busy++
		}
	}
	fmt.Fprintf(w, "controller %s (prefix %s, %s %s)\n", r.ControllerID, r.Prefix, r.Service, r.Version)
	fmt.Fprintf(w, "results:   %s\n", r.Durability)
	c := r.Tasks
	fmt.Fprintf(w, "tasks:     %d pending, %d scheduled, %d succeeded, %d failed\n", c.Pending, c.Scheduled, c.Succeeded, c.Failed)
	fmt.Fprintf(w, "engines:   %d (%d busy)\n", len(r.Engines), busy)
	if len(r.Engines) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	return writeEngines(w, r.Engines)
}

func writeEngines(w io.Writer, es []drovertype.EngineInfo) error {
	if len(es) == 0 {
		_, err := fmt.Fprintln(w, "no engines")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tBUSY\tCOMMANDS\tPROPERTIES")
	for _, e := range es {
		busy := "idle"
		if e.Busy {
			busy = fmt.Sprintf("task %d", e.Task)
		}
		cmds := "no"
		if e.AllowCommands {
			cmds = "yes"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.ID, e.Name, busy, cmds, formatProps(e.Properties))
	}
	return tw.Flush()
}

// formatProps writes properties as key=value (values in JSON), sorted.
func formatProps(p map[string]any) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(p)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		v, err := json.Marshal(p[k])
		if err != nil {
			v = fmt.Appendf(nil, "%v", p[k])
		}
		b.WriteString(k + "=" + string(v))
	}
	return b.String()
}
