package drover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/controlapi"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/transport"
)

// DialOption configures Dial.
type DialOption func(*dialConfig)

type dialConfig struct {
	connect fabric.ConnectOptions
	api     controlapi.ClientConfig
	nc      *nats.Conn
}

// WithRequestTimeout sets the deadline of the requests that do not wait
// for tasks, when their ctx has none. Defaults to 30s
// (controlapi.DefaultRequestTimeout).
func WithRequestTimeout(d time.Duration) DialOption {
	return func(c *dialConfig) { c.api.RequestTimeout = d }
}

// WithCallTimeout sets the deadline of engine calls (push, pull, execute,
// properties...), when their ctx has none. A call runs behind the attempts
// already assigned to its engine, so it may wait long. Defaults to 5
// minutes (controlapi.DefaultMaxCallWait).
func WithCallTimeout(d time.Duration) DialOption {
	return func(c *dialConfig) { c.api.CallTimeout = d }
}

// WithPollWait sets the longest wait of one long-poll request of Result,
// Results, Barrier and Map (the client asks again until the tasks finish or
// ctx ends). Defaults to 10s (controlapi.DefaultPollWait).
func WithPollWait(d time.Duration) DialOption {
	return func(c *dialConfig) { c.api.PollWait = d }
}

// WithConnectOptions sets the options of the connection (its name, a
// credentials file, TLS and the subject prefix when the target is a URL,
// a logger...).
func WithConnectOptions(o fabric.ConnectOptions) DialOption {
	return func(c *dialConfig) { c.connect = o }
}

// WithConn makes Dial use nc (with the subject prefix prefix, "" for the
// default) instead of connecting to the target: Close does not close nc.
func WithConn(nc *nats.Conn, prefix string) DialOption {
	return func(c *dialConfig) { c.nc, c.api.Prefix = nc, prefix }
}

// Remote is a client of a task farm in another process: a controller
// serving the control API (package controlapi) over NATS. It implements
// Client with the same semantics as a Farm; errors keep their kinds across
// the wire (errors.Is(err, ErrTaskAborted) works), and their texts are the
// controller's. Every request gets a deadline when its ctx has none
// (WithRequestTimeout, WithCallTimeout); Result, Results, Barrier and Map
// wait for their tasks for as long as their ctx allows, asking the
// controller again every PollWait. Task data crosses the wire in CBOR:
// values come back as the plain data of drovertype.ValidateValue (an
// int32 comes back an int64). A Remote is safe for concurrent use.
type Remote struct {
	api  *controlapi.Client
	conn *fabric.Conn // nil with WithConn
	info controlapi.InfoResponse

	mu     sync.Mutex
	closed bool
}

var _ Client = (*Remote)(nil)

// Dial connects to the controller designated by target — a connection
// file (drover-client.json), one or more NATS URLs, or "" for the
// connection file of the controller started by this user (in drover's state
// directory) — as a client, checks that it speaks this version of the
// control API, and returns a Remote. The credentials come from the
// connection file (or, for URLs, WithConnectOptions' credentials file),
// never from a command line. ctx bounds the dialing only.
func Dial(ctx context.Context, target string, opts ...DialOption) (*Remote, error) {
	var c dialConfig
	for _, o := range opts {
		o(&c)
	}
	r := &Remote{}
	nc := c.nc
	if nc == nil {
		conn, err := fabric.Connect(ctx, target, fabric.RoleClient, &c.connect)
		if err != nil {
			return nil, fmt.Errorf("dial: %w", err)
		}
		r.conn, nc = conn, conn.Conn
		c.api.Prefix = conn.Subjects.Prefix()
	}
	api, err := controlapi.NewClient(nc, &c.api)
	if err != nil {
		r.closeConn()
		return nil, fmt.Errorf("dial: %w", err)
	}
	r.api = api
	info, err := api.Info(ctx)
	if err != nil {
		r.closeConn()
		return nil, fmt.Errorf("dial: %w", err)
	}
	if info.Service != controlapi.ServiceName || !sameMajor(info.Version, controlapi.Version) {
		r.closeConn()
		return nil, fmt.Errorf("dial: the controller serves %s %s; this client speaks %s %s",
			info.Service, info.Version, controlapi.ServiceName, controlapi.Version)
	}
	r.info = *info
	return r, nil
}

func sameMajor(a, b string) bool {
	ma, _, _ := strings.Cut(a, ".")
	mb, _, _ := strings.Cut(b, ".")
	return ma != "" && ma == mb
}

func (r *Remote) closeConn() {
	if r.conn != nil {
		r.conn.Close()
	}
}

// Info returns what the controller said about itself when dialled.
func (r *Remote) Info() controlapi.InfoResponse { return r.info }

// NATS returns the connection.
func (r *Remote) NATS() *nats.Conn { return r.api.Conn() }

// Close closes the connection (unless it was given with WithConn). Calls
// made after Close fail with ErrClosed; calls in progress fail as their
// requests lose the connection. Closing twice is safe.
func (r *Remote) Close(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.closeConn()
	return nil
}

// errClientClosed is the error of calls made after Close.
var errClientClosed = drovertype.NewTaskError(drovertype.Closed, "", "client closed")

// check fails calls made after Close.
func (r *Remote) check(op string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("%s: %w", op, errClientClosed)
	}
	return nil
}

// fail returns err as the farm would: the controller's own errors as they
// are (their texts already name the operation), the others (ctx,
// transport) prefixed with what.
func fail(what string, err error) error {
	var te *controlapi.TransportError
	if errors.As(err, &te) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return err
}

// Run implements Client.
func (r *Remote) Run(ctx context.Context, t *Task) (TaskID, error) {
	if err := r.check("run"); err != nil {
		return drovertype.NoTask, err
	}
	if err := ctx.Err(); err != nil {
		return drovertype.NoTask, fmt.Errorf("run: %w", err)
	}
	if t == nil {
		return drovertype.NoTask, fmt.Errorf("run: %w", drovertype.NewNotATask())
	}
	w, err := controlapi.EncodeTask(t)
	if err != nil {
		return drovertype.NoTask, fmt.Errorf("run: %w", err)
	}
	ids, _, err := r.api.Submit(ctx, []*controlapi.Task{w})
	if err != nil {
		return drovertype.NoTask, fail("run", err)
	}
	return ids[0], nil
}

// RunWait implements Client: one run_wait request when the controller
// speaks control API 1.2 or later, which waits for the task on the
// controller for at most PollWait (then Result's requests follow); a
// submit and Result's requests otherwise.
func (r *Remote) RunWait(ctx context.Context, t *Task) (TaskID, any, error) {
	if err := r.check("run"); err != nil {
		return drovertype.NoTask, nil, err
	}
	if err := ctx.Err(); err != nil {
		return drovertype.NoTask, nil, fmt.Errorf("run: %w", err)
	}
	if t == nil {
		return drovertype.NoTask, nil, fmt.Errorf("run: %w", drovertype.NewNotATask())
	}
	w, err := controlapi.EncodeTask(t)
	if err != nil {
		return drovertype.NoTask, nil, fmt.Errorf("run: %w", err)
	}
	id, o, err := r.api.RunWait(ctx, w)
	switch {
	case err != nil && id == drovertype.NoTask:
		return id, nil, fail("run", err)
	case err != nil:
		return id, nil, fail(fmt.Sprintf("result: task %d", id), err)
	}
	v, err := o.Decode()
	return id, v, err
}

// runBatch submits proto with each row as its Args in as few requests as
// fit (mapAsync uses it).
func (r *Remote) runBatch(ctx context.Context, proto *Task, rows [][]any) ([]TaskID, error) {
	if err := r.check("run"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	proto.Args = []any{}
	base, err := controlapi.EncodeTask(proto)
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	if r.api.Rows() {
		// The controller takes the prototype once and the rows in CBOR.
		base.Args = nil
		ids, failed, err := r.api.SubmitRows(ctx, base, rows)
		if err != nil {
			if failed >= 0 {
				return ids, fmt.Errorf("element %d: %w", failed, err)
			}
			return ids, fail("run", err)
		}
		return ids, nil
	}
	tasks := make([]*controlapi.Task, len(rows))
	ws := make([]controlapi.Task, len(rows))
	for i, row := range rows {
		ws[i] = *base
		if ws[i].Args, err = controlapi.EncodeValue(row); err != nil {
			return nil, fmt.Errorf("element %d: run: %w", i, err)
		}
		tasks[i] = &ws[i]
	}
	ids, failed, err := r.api.Submit(ctx, tasks)
	if err != nil {
		if failed >= 0 {
			return ids, fmt.Errorf("element %d: %w", failed, err)
		}
		return ids, fail("run", err)
	}
	return ids, nil
}

// Result implements Client.
func (r *Remote) Result(ctx context.Context, id TaskID) (any, error) {
	what := fmt.Sprintf("result: task %d", id)
	if err := r.check(what); err != nil {
		return nil, err
	}
	outs, err := r.api.Results(ctx, []TaskID{id})
	if err != nil {
		return nil, fail(what, err)
	}
	return outs[0].Decode()
}

// Poll implements Client.
func (r *Remote) Poll(ctx context.Context, id TaskID) (any, bool, error) {
	what := fmt.Sprintf("poll: task %d", id)
	if err := r.check(what); err != nil {
		return nil, false, err
	}
	o, err := r.api.Poll(ctx, id)
	if err != nil {
		return nil, false, fail(what, err)
	}
	if !o.Done {
		return nil, false, nil
	}
	v, err := o.Decode()
	return v, true, err
}

// Results implements Client.
func (r *Remote) Results(ctx context.Context, ids []TaskID) ([]any, []error, error) {
	if err := r.check("results"); err != nil {
		return nil, nil, err
	}
	outs, err := r.api.Results(ctx, ids)
	if err != nil {
		return nil, nil, fail("results", err)
	}
	values, errs := make([]any, len(ids)), make([]error, len(ids))
	for i := range outs {
		values[i], errs[i] = outs[i].Decode()
	}
	return values, errs, nil
}

// Abort implements Client.
func (r *Remote) Abort(ctx context.Context, id TaskID) error {
	what := fmt.Sprintf("abort: task %d", id)
	if err := r.check(what); err != nil {
		return err
	}
	if err := r.api.Abort(ctx, id); err != nil {
		return fail(what, err)
	}
	return nil
}

// Barrier implements Client.
func (r *Remote) Barrier(ctx context.Context, ids ...TaskID) error {
	if err := r.check("barrier"); err != nil {
		return err
	}
	if err := r.api.Barrier(ctx, ids); err != nil {
		return fail("barrier", err)
	}
	return nil
}

// Spin implements Client.
func (r *Remote) Spin(ctx context.Context) (bool, error) {
	if err := r.check("spin"); err != nil {
		return false, err
	}
	d, err := r.api.Spin(ctx)
	if err != nil {
		return false, fail("spin", err)
	}
	return d, nil
}

// QueueStatus implements Client.
func (r *Remote) QueueStatus(ctx context.Context) (QueueStatus, error) {
	if err := r.check("queue status"); err != nil {
		return QueueStatus{}, err
	}
	st, err := r.api.QueueStatus(ctx)
	if err != nil {
		return QueueStatus{}, fail("queue status", err)
	}
	return st, nil
}

// QueueCounts implements Client.
func (r *Remote) QueueCounts(ctx context.Context) (QueueCounts, error) {
	if err := r.check("queue status"); err != nil {
		return QueueCounts{}, err
	}
	n, err := r.api.QueueCounts(ctx)
	if err != nil {
		return QueueCounts{}, fail("queue status", err)
	}
	return n, nil
}

// Clear implements Client.
func (r *Remote) Clear(ctx context.Context, ids ...TaskID) (int, error) {
	if err := r.check("clear"); err != nil {
		return 0, err
	}
	n, err := r.api.Clear(ctx, ids, false)
	if err != nil {
		return n, fail("clear", err)
	}
	return n, nil
}

// ClearAll implements Client.
func (r *Remote) ClearAll(ctx context.Context) (int, error) {
	if err := r.check("clear"); err != nil {
		return 0, err
	}
	n, err := r.api.Clear(ctx, nil, true)
	if err != nil {
		return n, fail("clear", err)
	}
	return n, nil
}

// Map implements Client.
func (r *Remote) Map(ctx context.Context, proto *Task, seqs ...[]any) ([]any, error) {
	return mapSync(ctx, r, proto, seqs)
}

// MapAsync implements Client.
func (r *Remote) MapAsync(ctx context.Context, proto *Task, seqs ...[]any) ([]TaskID, error) {
	return mapAsync(ctx, r, proto, seqs)
}

// Parallel implements Client.
func (r *Remote) Parallel(proto *Task) func(ctx context.Context, seqs ...[]any) ([]any, error) {
	return func(ctx context.Context, seqs ...[]any) ([]any, error) { return r.Map(ctx, proto, seqs...) }
}

// Engines implements Client.
func (r *Remote) Engines(ctx context.Context) ([]EngineInfo, error) {
	if err := r.check("engines"); err != nil {
		return nil, err
	}
	infos, err := r.api.Engines(ctx)
	if err != nil {
		return nil, fail("engines", err)
	}
	return infos, nil
}

// Engine implements Client.
func (r *Remote) Engine(id EngineID) EngineClient { return engineClient{c: r, id: id} }

// Call performs an engine call (EngineClient's methods use it).
func (r *Remote) Call(ctx context.Context, id EngineID, call transport.Call) (any, error) {
	what := fmt.Sprintf("%v on engine %d", call.Op, id)
	if err := r.check(what); err != nil {
		return nil, err
	}
	v, err := r.api.Call(ctx, id, call)
	if err != nil {
		return nil, fail(what, err)
	}
	return v, nil
}
