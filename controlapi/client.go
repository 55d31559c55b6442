package controlapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/transport"
)

// Defaults of ClientConfig's fields.
const (
	// DefaultPollWait is the longest wait a client asks for in one result
	// or barrier request; it asks again until its ctx ends.
	DefaultPollWait = 10 * time.Second
	// DefaultMaxBatch is the most tasks (or ids) a client puts in one
	// request.
	DefaultMaxBatch = 10000
)

// ClientConfig configures a Client. The zero value of each field means its
// documented default.
type ClientConfig struct {
	// Prefix is the subject prefix. Defaults to fabric.DefaultPrefix.
	Prefix string
	// RequestTimeout bounds a request that does not wait for tasks when
	// its ctx has no deadline. Defaults to DefaultRequestTimeout.
	RequestTimeout time.Duration
	// CallTimeout bounds an engine call when its ctx has no deadline (the
	// call waits behind the attempts assigned to the engine). Defaults to
	// DefaultMaxCallWait.
	CallTimeout time.Duration
	// PollWait defaults to DefaultPollWait.
	PollWait time.Duration
	// MaxBatch defaults to DefaultMaxBatch.
	MaxBatch int
}

// Client is the client side of the control API: typed requests over a
// NATS connection (of the client role). Waiting operations (Results,
// Barrier) long-poll: each request waits on the controller for at most
// PollWait, and the client asks again until the tasks finish or ctx ends.
// Every request without a deadline in its ctx gets one (RequestTimeout,
// CallTimeout). A Client is safe for concurrent use; it does not own nc.
type Client struct {
	nc   *nats.Conn
	subj fabric.Subjects
	cfg  ClientConfig
	// packed: the controller speaks 1.1 or later (rows in submit, packed
	// results), as its last info said.
	packed atomic.Bool
	// runWait: the controller speaks 1.2 or later (run_wait).
	runWait atomic.Bool
}

// NewClient returns a client of the control API on nc.
func NewClient(nc *nats.Conn, cfg *ClientConfig) (*Client, error) {
	if nc == nil {
		return nil, errors.New("new control API client: nil connection")
	}
	var c ClientConfig
	if cfg != nil {
		c = *cfg
	}
	subj, err := fabric.NewSubjects(c.Prefix)
	if err != nil {
		return nil, fmt.Errorf("new control API client: ClientConfig.Prefix: %w", err)
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultMaxCallWait
	}
	if c.PollWait <= 0 {
		c.PollWait = DefaultPollWait
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	return &Client{nc: nc, subj: subj, cfg: c}, nil
}

// Conn returns the client's connection.
func (c *Client) Conn() *nats.Conn { return c.nc }

// errorOf is implemented by every response type.
type errorOf interface{ wireError() *Error }

func (r *SubmitResponse) wireError() *Error      { return r.Error }
func (r *ResultResponse) wireError() *Error      { return r.Error }
func (r *BarrierResponse) wireError() *Error     { return r.Error }
func (r *PollResponse) wireError() *Error        { return r.Error }
func (r *ErrorResponse) wireError() *Error       { return r.Error }
func (r *SpinResponse) wireError() *Error        { return r.Error }
func (r *QueueStatusResponse) wireError() *Error { return r.Error }
func (r *ClearResponse) wireError() *Error       { return r.Error }
func (r *EnginesResponse) wireError() *Error     { return r.Error }
func (r *EngineCallResponse) wireError() *Error  { return r.Error }
func (r *InfoResponse) wireError() *Error        { return r.Error }
func (r *RunWaitResponse) wireError() *Error     { return r.Error }

// TransportError is the error of a request that got no answer from the
// controller: ctx ended (or the default deadline passed), no controller
// serves the subject, the connection is closed, the request or response
// cannot be encoded. Err says which. An error the controller answered with
// is never a TransportError.
type TransportError struct {
	Op  string
	Err error
}

func (e *TransportError) Error() string { return e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// Do sends one request for op and decodes its response into resp. The
// request's deadline is ctx's, or timeout from now when ctx has none. The
// error is a *TransportError, or the response's Error (which resp also
// holds: for Clear and Submit, resp is meaningful even then).
func (c *Client) Do(ctx context.Context, op string, req any, resp errorOf, timeout time.Duration) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	b, err := json.Marshal(req)
	if err != nil {
		return &TransportError{op, drovertype.NewTypeError(fmt.Sprintf("cannot encode the request: %v", err))}
	}
	if max := c.nc.MaxPayload(); max > 0 && int64(len(b)) > max {
		return &TransportError{op, drovertype.NewValueError(fmt.Sprintf(
			"the request is %d bytes, more than the NATS max payload of %d bytes", len(b), max))}
	}
	subject := c.subj.APIOp(op)
	m, err := c.nc.RequestWithContext(ctx, subject, b)
	if err != nil {
		switch {
		case errors.Is(err, nats.ErrNoResponders):
			err = drovertype.NewTaskError(drovertype.Closed, "NoResponders",
				fmt.Sprintf("no controller answers on %s (is it running?)", subject))
		case errors.Is(err, nats.ErrConnectionClosed):
			err = drovertype.NewTaskError(drovertype.Closed, "", "connection closed")
		case ctx.Err() != nil:
			err = ctx.Err()
		}
		return &TransportError{op, err}
	}
	if err := json.Unmarshal(m.Data, resp); err != nil {
		return &TransportError{op, drovertype.NewTaskError(drovertype.Internal, "ProtocolError", fmt.Sprintf("invalid response: %v", err))}
	}
	if e := resp.wireError(); e != nil {
		return e.Err()
	}
	return nil
}

func (c *Client) quick(ctx context.Context, op string, req any, resp errorOf) error {
	return c.Do(ctx, op, req, resp, c.cfg.RequestTimeout)
}

// Info asks the controller what it is.
func (c *Client) Info(ctx context.Context) (*InfoResponse, error) {
	var resp InfoResponse
	if err := c.quick(ctx, OpInfo, struct{}{}, &resp); err != nil {
		return nil, err
	}
	minor := minorVersion(resp.Version)
	c.packed.Store(minor >= 1)
	c.runWait.Store(minor >= 2)
	return &resp, nil
}

// minorVersion returns the minor number of control API version v of major
// 1 ("1.2.0": 2), or -1.
func minorVersion(v string) int {
	major, rest, _ := strings.Cut(v, ".")
	minor, _, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(minor)
	if major != "1" || err != nil || n < 0 {
		return -1
	}
	return n
}

// RunWaits reports whether the controller takes run_wait (it speaks 1.2
// or later, as its answer to the last Info said). RunWait works either
// way.
func (c *Client) RunWaits() bool { return c.runWait.Load() }

// Rows reports whether the controller takes SubmitRows (it speaks 1.1 or
// later, as its answer to the last Info said).
func (c *Client) Rows() bool { return c.packed.Load() }

// SubmitRows queues one task per row, each proto (which has no args) with
// the row as its args, in order, in requests of at most MaxBatch rows and
// of at most the NATS max payload, and returns their ids. The rows must
// be plain data (drovertype.ValidateValue). On error, ids are those of the
// tasks queued, and failed is the index in rows of the row at fault (-1
// when no row is to blame). The controller must speak 1.1 or later (Rows).
func (c *Client) SubmitRows(ctx context.Context, proto *Task, rows [][]any) (ids []drovertype.TaskID, failed int, err error) {
	ids = make([]drovertype.TaskID, 0, len(rows))
	limit := c.nc.MaxPayload() - 1024 - taskSize(proto)
	enc := make([][]byte, len(rows))
	var buf []byte
	start := 0
	for start < len(rows) {
		// Cut the next batch by count and size (base64 makes data 4/3
		// larger).
		end, size := start, int64(16)
		for end < len(rows) && end-start < c.cfg.MaxBatch {
			if enc[end] == nil {
				if enc[end], err = codec.MarshalValue(rows[end]); err != nil {
					return ids, end, fmt.Errorf("run: args: %w", drovertype.NewValueError("cannot encode value: "+err.Error()))
				}
			}
			n := int64(len(enc[end])) * 4 / 3
			if end > start && size+n > limit {
				break
			}
			size += n
			end++
		}
		buf = appendArrayHeader(buf[:0], end-start)
		for _, b := range enc[start:end] {
			buf = append(buf, b...)
		}
		var resp SubmitResponse
		err := c.quick(ctx, OpSubmit, SubmitRequest{Proto: proto, Rows: buf}, &resp)
		if len(resp.IDs) > end-start {
			resp.IDs = resp.IDs[:end-start]
		}
		ids = append(ids, resp.IDs...)
		if err != nil {
			failed = -1
			if resp.Failed != nil && *resp.Failed >= 0 && *resp.Failed < end-start {
				failed = start + *resp.Failed
			}
			return ids, failed, err
		}
		if len(resp.IDs) != end-start {
			return ids, -1, &TransportError{OpSubmit, drovertype.NewTaskError(drovertype.Internal, "ProtocolError",
				fmt.Sprintf("%d ids for %d tasks", len(resp.IDs), end-start))}
		}
		start = end
	}
	return ids, -1, nil
}

// appendArrayHeader appends the head of a CBOR array of n elements.
func appendArrayHeader(b []byte, n int) []byte {
	const major = 4 << 5
	switch {
	case n < 24:
		return append(b, major|byte(n))
	case n <= 0xff:
		return append(b, major|24, byte(n))
	case n <= 0xffff:
		return append(b, major|25, byte(n>>8), byte(n))
	default:
		return append(b, major|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// Submit queues encoded tasks, in order, in requests of at most MaxBatch
// tasks and of at most the NATS max payload, and returns their ids. On
// error, ids are those of the tasks queued, and failed is the index in
// tasks of the task that failed (-1 when no task is to blame: a transport
// error).
func (c *Client) Submit(ctx context.Context, tasks []*Task) (ids []drovertype.TaskID, failed int, err error) {
	ids = make([]drovertype.TaskID, 0, len(tasks))
	limit := c.nc.MaxPayload() - 1024
	start := 0
	for start < len(tasks) {
		// Cut the next batch by count and size.
		end, size := start, int64(16)
		for end < len(tasks) && end-start < c.cfg.MaxBatch {
			n := taskSize(tasks[end])
			if end > start && size+n > limit {
				break
			}
			size += n
			end++
		}
		batch := tasks[start:end]
		var resp SubmitResponse
		err := c.quick(ctx, OpSubmit, SubmitRequest{Tasks: batch}, &resp)
		if len(resp.IDs) > len(batch) {
			resp.IDs = resp.IDs[:len(batch)]
		}
		ids = append(ids, resp.IDs...)
		if err != nil {
			failed = -1
			if resp.Failed != nil && *resp.Failed >= 0 && *resp.Failed < len(batch) {
				failed = start + *resp.Failed
			}
			if failed < 0 && end-start == 1 {
				var te *TransportError
				if !errors.As(err, &te) {
					failed = start
				}
			}
			return ids, failed, err
		}
		if len(resp.IDs) != len(batch) {
			return ids, -1, &TransportError{OpSubmit, drovertype.NewTaskError(drovertype.Internal, "ProtocolError",
				fmt.Sprintf("%d ids for %d tasks", len(resp.IDs), len(batch)))}
		}
		start = end
	}
	return ids, -1, nil
}

// taskSize is an upper bound of a task's size in a request (base64 makes
// data 4/3 larger).
func taskSize(t *Task) int64 {
	var n int64 = 256 + int64(len(t.FuncName)+len(t.FuncSource)+len(t.Code)+len(t.Shell))*2
	n += int64(len(t.Args)+len(t.Kwargs)+len(t.Push)) * 4 / 3
	for _, s := range t.Pull {
		n += int64(len(s))*2 + 4
	}
	for _, s := range t.Argv {
		n += int64(len(s))*2 + 4
	}
	if t.Depend != nil {
		n += int64(len(t.Depend.Source)) * 2
	}
	if t.Recovery != nil {
		n += taskSize(t.Recovery)
	}
	return n
}

// waitRound returns the wait to ask for in one long-poll round, and the
// request's timeout: the round's wait plus a margin for the reply.
func (c *Client) waitRound(ctx context.Context) (waitMS int64, ok bool) {
	wait := c.cfg.PollWait
	if dl, has := ctx.Deadline(); has {
		left := time.Until(dl)
		// Leave time for the reply to arrive before the deadline.
		left -= min(left/10, 50*time.Millisecond)
		if left <= 0 {
			return 0, false
		}
		wait = min(wait, left)
	}
	return max(int64(wait/time.Millisecond), 1), true
}

// round sends one request of a waiting operation (Results, Barrier) with
// a deadline of its own, within ctx's: its wait plus RequestTimeout. A
// reply lost in a NATS outage thus costs one round, not ctx's whole life.
func (c *Client) round(ctx context.Context, op string, req WaitRequest, resp errorOf) error {
	return c.roundOf(ctx, op, req.WaitMS, req, resp)
}

func (c *Client) roundOf(ctx context.Context, op string, waitMS int64, req any, resp errorOf) error {
	rctx, cancel := context.WithTimeout(ctx, time.Duration(waitMS)*time.Millisecond+c.cfg.RequestTimeout)
	defer cancel()
	return c.Do(rctx, op, req, resp, 0)
}

// again reports whether a waiting operation asks again after a round
// that got no answer while ctx lives: its reply was lost, or no
// controller answered (NoResponders: during a NATS outage or a failover
// to another node of a cluster, the controller's subscription comes back
// a moment after the client's connection). Rounds are asked again for at
// most RequestTimeout since the first of the unanswered rounds in a row
// (*since, zero before one); after NoResponders, again first waits a
// moment (at most the time left in ctx).
func (c *Client) again(ctx context.Context, err error, since *time.Time) bool {
	var te *TransportError
	if !errors.As(err, &te) || ctx.Err() != nil {
		return false
	}
	var de *drovertype.TaskError
	noResponders := errors.As(te.Err, &de) && de.Type == "NoResponders"
	if !noResponders && !errors.Is(te.Err, context.DeadlineExceeded) {
		return false
	}
	now := time.Now()
	if since.IsZero() {
		*since = now
	}
	if now.Sub(*since) >= c.cfg.RequestTimeout {
		return false
	}
	if noResponders {
		t := time.NewTimer(100 * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// Results waits until every task in ids has finished and returns their
// outcomes, in order.
func (c *Client) Results(ctx context.Context, ids []drovertype.TaskID) ([]Outcome, error) {
	out := make([]Outcome, 0, len(ids))
	var unanswered time.Time
	for len(out) < len(ids) {
		rest := ids[len(out):]
		chunk := rest[:min(len(rest), c.cfg.MaxBatch)]
		waitMS, ok := c.waitRound(ctx)
		if !ok {
			<-ctx.Done()
			return out, &TransportError{OpResult, ctx.Err()}
		}
		var resp ResultResponse
		if err := c.round(ctx, OpResult, WaitRequest{IDs: chunk, WaitMS: waitMS, Packed: c.packed.Load()}, &resp); err != nil {
			if c.again(ctx, err, &unanswered) {
				continue
			}
			return out, err
		}
		unanswered = time.Time{}
		if !resp.Done {
			if err := ctx.Err(); err != nil {
				return out, &TransportError{OpResult, err}
			}
			continue
		}
		if resp.Values != nil {
			outs, err := resp.unpack()
			if err != nil {
				return out, &TransportError{OpResult, drovertype.NewTaskError(drovertype.Internal, "ProtocolError", err.Error())}
			}
			resp.Results = outs
		}
		if len(resp.Results) == 0 && len(chunk) > 0 || len(resp.Results) > len(chunk) {
			return out, &TransportError{OpResult, drovertype.NewTaskError(drovertype.Internal, "ProtocolError",
				fmt.Sprintf("%d outcomes for %d ids", len(resp.Results), len(chunk)))}
		}
		out = append(out, resp.Results...)
	}
	return out, nil
}

// RunWait queues t and waits until it has finished: one run_wait request
// (with a controller of 1.2 or later: Info says), which waits on the
// controller for at most PollWait, then result requests as Results makes
// while the task runs on; with an older controller, a submit then result
// requests. id is drovertype.NoTask when the task was not queued, or when
// no answer came (ctx ended, the connection failed): then it may have
// been queued without the client learning its id. Otherwise the outcome
// is the task's, or err says why waiting for it failed.
func (c *Client) RunWait(ctx context.Context, t *Task) (id drovertype.TaskID, out *Outcome, err error) {
	id = drovertype.NoTask
	if c.runWait.Load() {
		waitMS, ok := c.waitRound(ctx)
		if !ok {
			<-ctx.Done()
			return id, nil, &TransportError{OpRunWait, ctx.Err()}
		}
		var resp RunWaitResponse
		err := c.roundOf(ctx, OpRunWait, waitMS, RunWaitRequest{Task: t, WaitMS: waitMS}, &resp)
		if resp.ID == nil {
			if err == nil {
				err = &TransportError{OpRunWait, drovertype.NewTaskError(drovertype.Internal, "ProtocolError", "no task id")}
			}
			return id, nil, err
		}
		id = *resp.ID
		switch {
		case err != nil:
			return id, nil, err
		case resp.Done && (resp.Outcome == nil || !resp.Outcome.Done):
			return id, nil, &TransportError{OpRunWait, drovertype.NewTaskError(drovertype.Internal, "ProtocolError", "done without an outcome")}
		case resp.Done:
			return id, resp.Outcome, nil
		}
	} else {
		ids, _, err := c.Submit(ctx, []*Task{t})
		if err != nil {
			return id, nil, err
		}
		id = ids[0]
	}
	outs, err := c.Results(ctx, []drovertype.TaskID{id})
	if err != nil {
		return id, nil, err
	}
	return id, &outs[0], nil
}

// Poll returns task id's outcome if it has finished.
func (c *Client) Poll(ctx context.Context, id drovertype.TaskID) (*Outcome, error) {
	var resp PollResponse
	if err := c.quick(ctx, OpPoll, IDRequest{ID: id}, &resp); err != nil {
		return nil, err
	}
	if !resp.Done {
		return &Outcome{}, nil
	}
	if resp.Outcome == nil || !resp.Outcome.Done {
		return nil, &TransportError{OpPoll, drovertype.NewTaskError(drovertype.Internal, "ProtocolError", "done without an outcome")}
	}
	return resp.Outcome, nil
}

// Abort aborts task id.
func (c *Client) Abort(ctx context.Context, id drovertype.TaskID) error {
	return c.quick(ctx, OpAbort, IDRequest{ID: id}, &ErrorResponse{})
}

// Barrier waits until every task in ids has finished.
func (c *Client) Barrier(ctx context.Context, ids []drovertype.TaskID) error {
	start := 0
	var unanswered time.Time
	for {
		chunk := ids[start:min(len(ids), start+c.cfg.MaxBatch)]
		waitMS, ok := c.waitRound(ctx)
		if !ok {
			<-ctx.Done()
			return &TransportError{OpBarrier, ctx.Err()}
		}
		var resp BarrierResponse
		if err := c.round(ctx, OpBarrier, WaitRequest{IDs: chunk, WaitMS: waitMS}, &resp); err != nil {
			if c.again(ctx, err, &unanswered) {
				continue
			}
			return err
		}
		unanswered = time.Time{}
		if !resp.Done {
			if err := ctx.Err(); err != nil {
				return &TransportError{OpBarrier, err}
			}
			continue
		}
		if start += len(chunk); start >= len(ids) {
			return nil
		}
	}
}

// Spin runs the scheduler.
func (c *Client) Spin(ctx context.Context) (bool, error) {
	var resp SpinResponse
	err := c.quick(ctx, OpSpin, struct{}{}, &resp)
	return resp.Dispatched, err
}

// QueueStatus returns the verbose queue status.
func (c *Client) QueueStatus(ctx context.Context) (drovertype.QueueStatus, error) {
	var resp QueueStatusResponse
	if err := c.quick(ctx, OpQueueStatus, QueueStatusRequest{Verbose: true}, &resp); err != nil {
		return drovertype.QueueStatus{}, err
	}
	if resp.Status == nil {
		return drovertype.QueueStatus{}, &TransportError{OpQueueStatus, drovertype.NewTaskError(drovertype.Internal, "ProtocolError", "no status")}
	}
	return *resp.Status, nil
}

// QueueCounts returns the queue counts.
func (c *Client) QueueCounts(ctx context.Context) (drovertype.QueueCounts, error) {
	var resp QueueStatusResponse
	if err := c.quick(ctx, OpQueueStatus, QueueStatusRequest{}, &resp); err != nil {
		return drovertype.QueueCounts{}, err
	}
	if resp.Counts == nil {
		return drovertype.QueueCounts{}, &TransportError{OpQueueStatus, drovertype.NewTaskError(drovertype.Internal, "ProtocolError", "no counts")}
	}
	return *resp.Counts, nil
}

// Clear forgets the results of ids (all finished tasks with all). The count
// is meaningful with an error too.
func (c *Client) Clear(ctx context.Context, ids []drovertype.TaskID, all bool) (int, error) {
	var resp ClearResponse
	err := c.quick(ctx, OpClear, ClearRequest{IDs: ids, All: all}, &resp)
	return resp.Cleared, err
}

// Engines lists the engines.
func (c *Client) Engines(ctx context.Context) ([]drovertype.EngineInfo, error) {
	var resp EnginesResponse
	if err := c.quick(ctx, OpEngines, struct{}{}, &resp); err != nil {
		return nil, err
	}
	out := make([]drovertype.EngineInfo, len(resp.Engines))
	for i := range resp.Engines {
		in, err := resp.Engines[i].Decode()
		if err != nil {
			return nil, &TransportError{OpEngines, err}
		}
		out[i] = in
	}
	return out, nil
}

// Call performs an engine call and returns the engine's reply value.
func (c *Client) Call(ctx context.Context, id drovertype.EngineID, call transport.Call) (any, error) {
	req, err := EncodeCall(id, call)
	if err != nil {
		return nil, &TransportError{OpEngineCall, err}
	}
	timeout := c.cfg.CallTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	// The controller stops waiting a little before the client does, so the
	// client gets its answer (a deadline error) rather than no reply.
	req.WaitMS = max(int64((timeout-min(timeout/10, 50*time.Millisecond))/time.Millisecond), 1)
	var resp EngineCallResponse
	if err := c.Do(ctx, OpEngineCall, req, &resp, c.cfg.CallTimeout); err != nil {
		return nil, err
	}
	if resp.Value == nil {
		return nil, nil
	}
	v, err := DecodeValue(resp.Value)
	if err != nil {
		return nil, &TransportError{OpEngineCall, err}
	}
	return v, nil
}
