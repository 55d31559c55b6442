package controlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/transport"
)

// Farm is what the control API serves: the controller's public methods
// (*controller.Controller implements it). A durable controller (issue 5)
// serves the same API by implementing it.
type Farm interface {
	Run(ctx context.Context, t *drovertype.Task) (drovertype.TaskID, error)
	Result(ctx context.Context, id drovertype.TaskID) (any, error)
	Poll(ctx context.Context, id drovertype.TaskID) (any, bool, error)
	Results(ctx context.Context, ids []drovertype.TaskID) ([]any, []error, error)
	Abort(ctx context.Context, id drovertype.TaskID) error
	Barrier(ctx context.Context, ids ...drovertype.TaskID) error
	Spin(ctx context.Context) (bool, error)
	QueueStatus(ctx context.Context) (drovertype.QueueStatus, error)
	QueueCounts(ctx context.Context) (drovertype.QueueCounts, error)
	Clear(ctx context.Context, ids ...drovertype.TaskID) (int, error)
	ClearAll(ctx context.Context) (int, error)
	Engines(ctx context.Context) ([]drovertype.EngineInfo, error)
	Call(ctx context.Context, id drovertype.EngineID, call transport.Call) (any, error)
}

// BatchFarm is a Farm that queues many tasks in one call (as
// *controller.Controller does): submit uses it when the farm has it.
type BatchFarm interface {
	RunBatch(ctx context.Context, tasks []*drovertype.Task) ([]drovertype.TaskID, error)
}

// Defaults of Config's fields.
const (
	// DefaultMaxWait caps how long result and barrier wait on the
	// controller before answering "not done" (the client asks again).
	DefaultMaxWait = 10 * time.Second
	// DefaultMaxCallWait caps how long engine_call waits for the engine.
	DefaultMaxCallWait = 5 * time.Minute
	// DefaultMaxWaiters is the most requests waiting at once (result,
	// barrier, engine_call); more are refused.
	DefaultMaxWaiters = 10000
	// DefaultMaxIDs is the most tasks or ids in one request.
	DefaultMaxIDs = 100000
	// DefaultRequestTimeout bounds the requests that do not wait for tasks
	// (the controller's loop answers them at once).
	DefaultRequestTimeout = 30 * time.Second
	// DefaultReplyPrefix is what a request's reply subject must start with.
	DefaultReplyPrefix = "_INBOX."
)

// Config configures a Server. The zero value of each field means its
// documented default.
type Config struct {
	// Prefix is the subject prefix. Defaults to fabric.DefaultPrefix.
	Prefix string
	// ControllerID is reported by info and in the service's metadata.
	ControllerID string
	// Durability says where the controller keeps accepted tasks and
	// results, for info (drover status): "" means in memory; else a text
	// such as "journal at /var/lib/drover/jetstream".
	Durability string
	// MaxWait defaults to DefaultMaxWait.
	MaxWait time.Duration
	// MaxCallWait defaults to DefaultMaxCallWait.
	MaxCallWait time.Duration
	// MaxWaiters defaults to DefaultMaxWaiters.
	MaxWaiters int
	// MaxIDs defaults to DefaultMaxIDs.
	MaxIDs int
	// MaxStepBudget is the largest Starlark step budget a client may ask
	// for in an engine call (engine_call's step_budget, which replaces the
	// engine's own budget for that call). Defaults to 0: clients may not
	// set one, so the engines' budgets hold.
	MaxStepBudget uint64
	// ReplyPrefix is what every request's reply subject must start with;
	// other requests are dropped (with a log line) so that nobody can make
	// the controller publish on an engine's subject. Defaults to
	// DefaultReplyPrefix.
	ReplyPrefix string
	// Logger receives a line per dropped request and recovered panic.
	// Defaults to discarding.
	Logger *slog.Logger
}

// Server serves the control API for a Farm as the nats.go micro service
// ServiceName, version Version, with one endpoint per operation on
// P.api.v1.<op>. Create it with New, then Start it; Stop it when done. A
// Server is safe for concurrent use.
//
// Requests that wait (result, barrier, engine_call, run_wait) are served
// each on a goroutine of their own (a worker, which stays parked for the
// next such request once done, up to maxIdleWorkers of them, until Stop),
// at most MaxWaiters at once; the others on the endpoint's subscription,
// in arrival order (so a client's submits keep their order). Every request gets a reply unless its reply subject is
// missing or not under ReplyPrefix; a malformed or hostile request gets an
// error reply (kind InvalidArgument), a panic in a handler an Internal one.
type Server struct {
	nc   *nats.Conn
	farm Farm
	cfg  Config
	subj fabric.Subjects

	sem chan struct{} // waiting requests
	// jobs hands a waiting request to an idle worker (unbuffered: the
	// send succeeds only when one is parked on it).
	jobs chan waitJob
	idle atomic.Int32 // workers parked on jobs, or about to be

	mu      sync.Mutex
	svc     micro.Service
	ctx     context.Context // lifetime, from Start
	cancel  context.CancelFunc
	started bool
	stopped bool
	wg      sync.WaitGroup // workers serving waiting requests
}

// maxIdleWorkers is how many workers of waiting requests stay parked once
// their request is served, waiting for the next one until Stop. A request
// served on a fresh goroutine pays for growing its stack (decoding and
// encoding JSON need more than a new goroutine's): about 10 µs, a good
// part of a blocking run's round trip, which a parked worker's stack,
// grown already, saves.
const maxIdleWorkers = 16

// waitJob is a waiting request for a worker.
type waitJob struct {
	r    detached
	data []byte
	op   string
	h    handler
}

// New returns a server of farm's control API on nc (a connection of the
// controller's user). It validates cfg (nil: defaults); errors name the
// field.
func New(nc *nats.Conn, farm Farm, cfg *Config) (*Server, error) {
	if nc == nil || farm == nil {
		return nil, errors.New("new control API server: nil connection or farm")
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	subj, err := fabric.NewSubjects(c.Prefix)
	if err != nil {
		return nil, fmt.Errorf("new control API server: Config.Prefix: %w", err)
	}
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"MaxWait", &c.MaxWait, DefaultMaxWait}, {"MaxCallWait", &c.MaxCallWait, DefaultMaxCallWait}} {
		switch {
		case *f.v < 0:
			return nil, fmt.Errorf("new control API server: Config.%s is %v, want >= 0", f.name, *f.v)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{{"MaxWaiters", &c.MaxWaiters, DefaultMaxWaiters}, {"MaxIDs", &c.MaxIDs, DefaultMaxIDs}} {
		switch {
		case *f.v < 0:
			return nil, fmt.Errorf("new control API server: Config.%s is %d, want >= 0", f.name, *f.v)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	if c.ReplyPrefix == "" {
		c.ReplyPrefix = DefaultReplyPrefix
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{nc: nc, farm: farm, cfg: c, subj: subj, sem: make(chan struct{}, c.MaxWaiters), jobs: make(chan waitJob)}, nil
}

// Start adds the micro service and its endpoints. Cancelling ctx ends the
// waits of the requests in progress (Stop also does). Starting twice, or
// after Stop, is an error.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		return errors.New("start control API: stopped")
	case s.started:
		return errors.New("start control API: already started")
	}
	svc, err := micro.AddService(s.nc, micro.Config{
		Name:        ServiceName,
		Version:     Version,
		Description: "drover task farm controller (control API " + fabric.APIVersion + ")",
		Metadata:    map[string]string{"prefix": s.subj.Prefix(), "controller_id": s.cfg.ControllerID, "api": fabric.APIVersion},
		ErrorHandler: func(_ micro.Service, e *micro.NATSError) {
			s.cfg.Logger.Warn("control API: subscription error", "subject", e.Subject, "err", e.Description)
		},
	})
	if err != nil {
		return fmt.Errorf("start control API: %w", err)
	}
	g := svc.AddGroup(s.subj.API())
	for _, ep := range []struct {
		op   string
		wait bool
		h    handler
	}{
		{OpSubmit, false, s.submit},
		{OpResult, true, s.result},
		{OpPoll, false, s.poll},
		{OpAbort, false, s.abort},
		{OpBarrier, true, s.barrier},
		{OpSpin, false, s.spin},
		{OpQueueStatus, false, s.queueStatus},
		{OpClear, false, s.clear},
		{OpEngines, false, s.engines},
		{OpEngineCall, true, s.engineCall},
		{OpInfo, false, s.info},
		{OpRunWait, true, s.runWait},
	} {
		if err := g.AddEndpoint(ep.op, s.endpoint(ep.op, ep.wait, ep.h)); err != nil {
			_ = svc.Stop()
			return fmt.Errorf("start control API: endpoint %s: %w", ep.op, err)
		}
	}
	if err := s.nc.Flush(); err != nil {
		_ = svc.Stop()
		return fmt.Errorf("start control API: %w", err)
	}
	s.svc = svc
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.started = true
	return nil
}

// Stop removes the service (no more requests are taken), ends the waits in
// progress (their requests get a Closed error, unless ctx ends first) and
// returns once their goroutines have ended. Stopping twice, or before
// Start, is safe.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	svc, cancel := s.svc, s.cancel
	s.mu.Unlock()
	var err error
	if svc != nil {
		err = svc.Stop()
		if errors.Is(err, nats.ErrConnectionClosed) {
			err = nil
		}
	}
	if cancel != nil {
		cancel()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		<-done // the waits end promptly: their ctx is cancelled
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("stop control API: %w", err)
	}
	return nil
}

// Stats returns the micro service's statistics (requests, errors,
// processing time per endpoint); the zero value before Start. For the
// waiting endpoints (result, barrier, engine_call), served on goroutines of
// their own, micro counts the requests but not their errors or time.
func (s *Server) Stats() micro.Stats {
	s.mu.Lock()
	svc := s.svc
	s.mu.Unlock()
	if svc == nil {
		return micro.Stats{}
	}
	return svc.Stats()
}

// response is every response type: it can carry a request error.
type response interface{ setError(*Error) }

func (r *SubmitResponse) setError(e *Error)      { r.Error = e }
func (r *ResultResponse) setError(e *Error)      { r.Error = e }
func (r *BarrierResponse) setError(e *Error)     { r.Error = e }
func (r *PollResponse) setError(e *Error)        { r.Error = e }
func (r *ErrorResponse) setError(e *Error)       { r.Error = e }
func (r *SpinResponse) setError(e *Error)        { r.Error = e }
func (r *QueueStatusResponse) setError(e *Error) { r.Error = e }
func (r *ClearResponse) setError(e *Error)       { r.Error = e }
func (r *EnginesResponse) setError(e *Error)     { r.Error = e }
func (r *EngineCallResponse) setError(e *Error)  { r.Error = e }
func (r *InfoResponse) setError(e *Error)        { r.Error = e }
func (r *RunWaitResponse) setError(e *Error)     { r.Error = e }

// handler serves one request. It returns the response (never nil) and the
// request's error, if any (put into the response by the caller). A handler
// may return an already-encoded response as rawResponse.
type handler func(ctx context.Context, data []byte) (response, error)

// rawResponse is a response encoded by its handler (result).
type rawResponse struct {
	b   []byte
	err *Error
}

func (r *rawResponse) setError(e *Error) { r.err = e }

// replier sends a request's reply: the micro.Request itself for requests
// served on the subscription's goroutine (micro then counts errors in its
// stats), a detached replier for waiting requests served on their own
// goroutine (micro's request must not be used once its handler returned).
type replier interface {
	Respond(data []byte, opts ...micro.RespondOpt) error
	Error(code, description string, data []byte, opts ...micro.RespondOpt) error
}

// detached replies by publishing to the request's reply subject.
type detached struct {
	nc    *nats.Conn
	reply string
}

func (d detached) Respond(data []byte, _ ...micro.RespondOpt) error {
	return d.nc.Publish(d.reply, data)
}

func (d detached) Error(code, description string, data []byte, _ ...micro.RespondOpt) error {
	m := nats.NewMsg(d.reply)
	m.Header.Set(micro.ErrorHeader, description)
	m.Header.Set(micro.ErrorCodeHeader, code)
	m.Data = data
	return d.nc.PublishMsg(m)
}

// endpoint wraps a handler: reply-subject check, goroutine and limit for
// waiting requests, panic recovery, encoding.
func (s *Server) endpoint(op string, wait bool, h handler) micro.Handler {
	return micro.HandlerFunc(func(r micro.Request) {
		reply := r.Reply()
		if reply == "" || !strings.HasPrefix(reply, s.cfg.ReplyPrefix) {
			s.cfg.Logger.Warn("control API: request dropped: reply subject not under "+s.cfg.ReplyPrefix, "op", op, "reply", reply)
			return
		}
		if !wait {
			s.serve(r, r.Data(), op, h)
			return
		}
		s.mu.Lock()
		if s.stopped || s.ctx == nil {
			s.mu.Unlock()
			s.respond(r, op, &ErrorResponse{}, drovertype.NewTaskError(drovertype.Closed, "", "controller closed"))
			return
		}
		select {
		case s.sem <- struct{}{}:
		default:
			s.mu.Unlock()
			s.respond(r, op, &ErrorResponse{}, drovertype.NewTaskError(drovertype.Internal, "Busy",
				fmt.Sprintf("%s: %d requests are waiting already (Config.MaxWaiters)", op, s.cfg.MaxWaiters)))
			return
		}
		j := waitJob{r: detached{nc: s.nc, reply: reply}, data: r.Data(), op: op, h: h}
		select {
		case s.jobs <- j: // an idle worker takes it
			s.mu.Unlock()
		default:
			s.wg.Add(1)
			ctx := s.ctx
			s.mu.Unlock()
			go s.worker(ctx, j)
		}
	})
}

// worker serves waiting requests, j first, then those handed to it while
// it is parked, until ctx (the server's) ends; it does not park when
// maxIdleWorkers are parked already.
func (s *Server) worker(ctx context.Context, j waitJob) {
	defer s.wg.Done()
	for {
		s.serve(j.r, j.data, j.op, j.h)
		j = waitJob{}
		<-s.sem
		if s.idle.Add(1) > maxIdleWorkers {
			s.idle.Add(-1)
			return
		}
		select {
		case j = <-s.jobs:
			s.idle.Add(-1)
		case <-ctx.Done():
			s.idle.Add(-1)
			return
		}
	}
}

// serve runs h for a request and replies.
func (s *Server) serve(r replier, data []byte, op string, h handler) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("control API: panic", "op", op, "panic", p, "stack", string(debug.Stack()))
			s.respond(r, op, &ErrorResponse{}, drovertype.NewTaskError(drovertype.Internal, "Panic", fmt.Sprintf("%s: internal error: %v", op, p)))
		}
	}()
	s.mu.Lock()
	ctx := s.ctx
	s.mu.Unlock()
	if ctx == nil {
		s.respond(r, op, &ErrorResponse{}, drovertype.NewTaskError(drovertype.Closed, "", "controller closed"))
		return
	}
	resp, err := h(ctx, data)
	s.respond(r, op, resp, err)
}

// respond encodes resp (with err as its error) and sends it; a request
// error is also reported in micro's error headers (code: 400 bad request,
// 404 not found, 503 closed, 500 otherwise).
func (s *Server) respond(r replier, op string, resp response, err error) {
	var werr *Error
	if err != nil {
		werr = WireError(err)
		resp.setError(werr)
	}
	var b []byte
	if raw, ok := resp.(*rawResponse); ok && werr == nil {
		b = raw.b
	} else {
		var merr error
		if raw, ok := resp.(*rawResponse); ok {
			b, merr = json.Marshal(ErrorResponse{Error: raw.err})
		} else {
			b, merr = json.Marshal(resp)
		}
		if merr != nil {
			werr = WireError(drovertype.NewTaskError(drovertype.Internal, "EncodeError", op+": cannot encode the response: "+merr.Error()))
			b, _ = json.Marshal(ErrorResponse{Error: werr})
		}
	}
	if max := s.nc.MaxPayload(); max > 0 && int64(len(b)) > max {
		werr = WireError(drovertype.NewTaskError(drovertype.Internal, "TooLarge", fmt.Sprintf(
			"%s: the response is %d bytes, more than the NATS max payload of %d bytes", op, len(b), max)))
		b, _ = json.Marshal(ErrorResponse{Error: werr})
	}
	var rerr error
	if werr != nil {
		rerr = r.Error(statusOf(werr.Code), headerText(werr.Err().Error()), b)
	} else {
		rerr = r.Respond(b)
	}
	if rerr != nil {
		s.cfg.Logger.Warn("control API: cannot respond", "op", op, "err", rerr)
	}
}

// headerText makes an error text fit a NATS header value: one line, at
// most 200 bytes (the full text is in the body).
func headerText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}

func statusOf(k drovertype.Kind) string {
	switch k {
	case drovertype.InvalidArgument, drovertype.InvalidProperty:
		return "400"
	case drovertype.NotFound:
		return "404"
	case drovertype.Closed:
		return "503"
	case drovertype.AlreadyCompleted, drovertype.AlreadyAborted, drovertype.AlreadyExists:
		return "409"
	}
	return "500"
}

// decode decodes a JSON request; the error is InvalidArgument.
func decode(op string, data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}") // no body: every field at its zero value
	}
	if err := json.Unmarshal(data, v); err != nil {
		return drovertype.NewValueError(fmt.Sprintf("%s: invalid request: %v", op, err))
	}
	return nil
}

func (s *Server) checkIDs(op string, n int) error {
	if n > s.cfg.MaxIDs {
		return drovertype.NewValueError(fmt.Sprintf("%s: %d ids or tasks in one request, more than %d", op, n, s.cfg.MaxIDs))
	}
	return nil
}

// quick returns the ctx of a request the controller answers at once.
func quick(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, DefaultRequestTimeout)
}

// minWait is the shortest wait of a waiting request: a request that asks
// for less (0: "do not wait") still lets the controller answer for tasks
// that have finished.
const minWait = 50 * time.Millisecond

// waitCtx returns the ctx of a waiting request: wait, at least minWait,
// at most max.
func waitCtx(ctx context.Context, waitMS int64, limit time.Duration) (context.Context, context.CancelFunc) {
	d := limit
	if waitMS < int64(limit/time.Millisecond) {
		d = max(time.Duration(waitMS)*time.Millisecond, min(minWait, limit))
	}
	return context.WithTimeout(ctx, d)
}

// waitEnded reports whether err is the end of a waiting request's own
// wait (answer "not done") rather than a failure: the wait's deadline
// passed and err is that deadline, not a task's error of kind
// DeadlineExceeded.
func waitEnded(life, ctx context.Context, err error) bool {
	var te *drovertype.TaskError
	return life.Err() == nil && ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &te)
}

// closedIfStopped turns the cancellation of the server's lifetime into a
// Closed error.
func closedIfStopped(life context.Context, err error) error {
	if life.Err() != nil {
		return drovertype.NewTaskError(drovertype.Closed, "", "controller closed")
	}
	return err
}

func (s *Server) submit(ctx context.Context, data []byte) (response, error) {
	resp := &SubmitResponse{IDs: []drovertype.TaskID{}}
	var req SubmitRequest
	if err := decode(OpSubmit, data, &req); err != nil {
		return resp, err
	}
	if err := s.checkIDs(OpSubmit, len(req.Tasks)); err != nil {
		return resp, err
	}
	var tasks []*drovertype.Task
	if req.Proto != nil || req.Rows != nil {
		var failed int
		var err error
		if tasks, failed, err = s.mapTasks(&req); err != nil {
			if failed >= 0 {
				resp.Failed = &failed
			}
			return resp, err
		}
	} else {
		tasks = make([]*drovertype.Task, len(req.Tasks))
		for i, w := range req.Tasks {
			if w == nil {
				resp.Failed = &i
				return resp, fmt.Errorf("run: %w", drovertype.NewNotATask())
			}
			t, err := w.Decode()
			if err != nil {
				resp.Failed = &i
				return resp, fmt.Errorf("run: %w", err)
			}
			tasks[i] = t
		}
	}
	qctx, cancel := quick(ctx)
	defer cancel()
	if bf, ok := s.farm.(BatchFarm); ok {
		// One call: the controller validates them all first (none is queued
		// if one is invalid), and with a journal writes them together.
		ids, err := bf.RunBatch(qctx, tasks)
		if err != nil {
			var be *controller.BatchError
			if errors.As(err, &be) {
				resp.Failed = &be.Index
				return resp, closedIfStopped(ctx, be.Err)
			}
			return resp, closedIfStopped(ctx, err)
		}
		resp.IDs = ids
		return resp, nil
	}
	resp.IDs = make([]drovertype.TaskID, 0, len(tasks))
	for i, t := range tasks {
		id, err := s.farm.Run(qctx, t)
		if err != nil {
			resp.Failed = &i
			return resp, closedIfStopped(ctx, err)
		}
		resp.IDs = append(resp.IDs, id)
	}
	return resp, nil
}

// mapTasks decodes a submit request's Proto and Rows into tasks (each a
// copy of the prototype with its row as args), validated. failed is the
// index of the row at fault, or -1.
func (s *Server) mapTasks(req *SubmitRequest) (tasks []*drovertype.Task, failed int, err error) {
	switch {
	case len(req.Tasks) > 0:
		return nil, -1, drovertype.NewValueError("submit: invalid request: give tasks, or proto and rows, not both")
	case req.Proto == nil || req.Rows == nil:
		return nil, -1, drovertype.NewValueError("submit: invalid request: proto and rows go together")
	case req.Proto.Args != nil:
		return nil, -1, drovertype.NewValueError("submit: invalid request: the proto of rows has no args")
	}
	proto, err := req.Proto.decode(0)
	if err != nil {
		return nil, -1, fmt.Errorf("run: %w", err)
	}
	v, err := DecodeValue(req.Rows)
	if err != nil {
		return nil, -1, drovertype.NewValueError("submit: invalid request: rows: " + err.Error())
	}
	rows, ok := v.([]any)
	if !ok {
		return nil, -1, drovertype.NewValueError("submit: invalid request: rows: want a list, got " + typeName(v))
	}
	if err := s.checkIDs(OpSubmit, len(rows)); err != nil {
		return nil, -1, err
	}
	tasks = make([]*drovertype.Task, len(rows))
	copies := make([]drovertype.Task, len(rows))
	for i, row := range rows {
		args, ok := row.([]any)
		if !ok {
			return nil, i, fmt.Errorf("run: args: %w", drovertype.NewTypeError("want a list, got "+typeName(row)))
		}
		copies[i] = *proto
		copies[i].Args = args
		if err := copies[i].Validate(); err != nil {
			return nil, i, fmt.Errorf("run: %w", err)
		}
		tasks[i] = &copies[i]
	}
	return tasks, -1, nil
}

func (s *Server) result(ctx context.Context, data []byte) (response, error) {
	var req WaitRequest
	if err := decode(OpResult, data, &req); err != nil {
		return &rawResponse{}, err
	}
	if err := s.checkIDs(OpResult, len(req.IDs)); err != nil {
		return &rawResponse{}, err
	}
	wctx, cancel := waitCtx(ctx, req.WaitMS, s.cfg.MaxWait)
	defer cancel()
	var values []any
	var errs []error
	var err error
	if len(req.IDs) == 1 {
		// Result's own errors ("result: task ID not registered: 7").
		var v any
		var verr error
		v, verr = s.farm.Result(wctx, req.IDs[0])
		if verr != nil && (waitEnded(ctx, wctx, verr) || ctx.Err() != nil) {
			err = verr
		} else {
			values, errs = []any{v}, []error{verr}
		}
	} else {
		values, errs, err = s.farm.Results(wctx, req.IDs)
	}
	if err != nil {
		if waitEnded(ctx, wctx, err) {
			return &rawResponse{b: []byte(`{"done":false}`)}, nil
		}
		return &rawResponse{}, closedIfStopped(ctx, err)
	}
	limit := s.nc.MaxPayload() - 1024
	if req.Packed {
		if b, ok := packResults(values, errs, limit); ok {
			return &rawResponse{b: b}, nil
		}
	}
	// As many outcomes as fit in one message; the client asks for the rest.
	var buf bytes.Buffer
	buf.WriteString(`{"done":true,"results":[`)
	for i := range values {
		ob, err := json.Marshal(EncodeOutcome(values[i], errs[i]))
		if err != nil {
			ob, _ = json.Marshal(Outcome{Done: true, Error: WireError(err)})
		}
		if int64(buf.Len()+len(ob)+2) > limit {
			if i > 0 {
				break
			}
			ob, _ = json.Marshal(Outcome{Done: true, Error: WireError(drovertype.NewTaskError(drovertype.Internal, "TooLarge", fmt.Sprintf(
				"the result of task %d is %d bytes encoded, more than the NATS max payload of %d bytes", req.IDs[0], len(ob), limit+1024)))})
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(ob)
	}
	buf.WriteString("]}")
	return &rawResponse{b: buf.Bytes()}, nil
}

// packResults encodes a packed result response (see ResultResponse), or
// reports that it does not fit in limit bytes.
func packResults(values []any, errs []error, limit int64) ([]byte, bool) {
	plain := make([]any, len(values))
	var others []IndexedOutcome
	for i, v := range values {
		switch v.(type) {
		case *drovertype.TaskResult, *drovertype.CommandResult:
		default:
			if errs[i] == nil {
				plain[i] = v
				continue
			}
		}
		others = append(others, IndexedOutcome{Index: i, Outcome: EncodeOutcome(v, errs[i])})
	}
	vb, err := codec.MarshalValue(plain)
	if err != nil {
		// A value that cannot cross the wire: unpacked, each outcome
		// says which.
		return nil, false
	}
	b, err := json.Marshal(ResultResponse{Done: true, Count: len(values), Values: vb, Others: others})
	if err != nil || int64(len(b)) > limit {
		return nil, false
	}
	return b, true
}

// runWait queues one task and waits for its outcome (run_wait, 1.2).
func (s *Server) runWait(ctx context.Context, data []byte) (response, error) {
	resp := &RunWaitResponse{}
	var req RunWaitRequest
	if err := decode(OpRunWait, data, &req); err != nil {
		return resp, err
	}
	if req.Task == nil {
		return resp, fmt.Errorf("run: %w", drovertype.NewNotATask())
	}
	t, err := req.Task.Decode()
	if err != nil {
		return resp, fmt.Errorf("run: %w", err)
	}
	qctx, cancel := quick(ctx)
	id, err := s.farm.Run(qctx, t)
	cancel()
	if err != nil {
		return resp, closedIfStopped(ctx, err)
	}
	resp.ID = &id
	wctx, cancel := waitCtx(ctx, req.WaitMS, s.cfg.MaxWait)
	defer cancel()
	v, err := s.farm.Result(wctx, id)
	if err != nil && (waitEnded(ctx, wctx, err) || ctx.Err() != nil) {
		if waitEnded(ctx, wctx, err) {
			return resp, nil // not done: the client asks result
		}
		return resp, closedIfStopped(ctx, err)
	}
	o := EncodeOutcome(v, err)
	resp.Done, resp.Outcome = true, &o
	b, merr := json.Marshal(resp)
	if limit := s.nc.MaxPayload() - 1024; merr != nil || int64(len(b)) > limit {
		typ, what := "TooLarge", fmt.Sprintf("is %d bytes encoded, more than the NATS max payload of %d bytes", len(b), limit+1024)
		if merr != nil {
			typ, what = "EncodeError", "cannot be encoded: "+merr.Error()
		}
		o = Outcome{Done: true, Error: WireError(drovertype.NewTaskError(drovertype.Internal, typ,
			fmt.Sprintf("the result of task %d %s", id, what)))}
		return resp, nil
	}
	return &rawResponse{b: b}, nil
}

func (s *Server) poll(ctx context.Context, data []byte) (response, error) {
	resp := &PollResponse{}
	var req IDRequest
	if err := decode(OpPoll, data, &req); err != nil {
		return resp, err
	}
	qctx, cancel := quick(ctx)
	defer cancel()
	v, done, err := s.farm.Poll(qctx, req.ID)
	if !done {
		if err != nil {
			return resp, closedIfStopped(ctx, err)
		}
		return resp, nil
	}
	o := EncodeOutcome(v, err)
	resp.Done, resp.Outcome = true, &o
	return resp, nil
}

func (s *Server) abort(ctx context.Context, data []byte) (response, error) {
	var req IDRequest
	if err := decode(OpAbort, data, &req); err != nil {
		return &ErrorResponse{}, err
	}
	qctx, cancel := quick(ctx)
	defer cancel()
	return &ErrorResponse{}, closedIfStopped(ctx, s.farm.Abort(qctx, req.ID))
}

func (s *Server) barrier(ctx context.Context, data []byte) (response, error) {
	resp := &BarrierResponse{}
	var req WaitRequest
	if err := decode(OpBarrier, data, &req); err != nil {
		return resp, err
	}
	if err := s.checkIDs(OpBarrier, len(req.IDs)); err != nil {
		return resp, err
	}
	wctx, cancel := waitCtx(ctx, req.WaitMS, s.cfg.MaxWait)
	defer cancel()
	if err := s.farm.Barrier(wctx, req.IDs...); err != nil {
		if waitEnded(ctx, wctx, err) {
			return resp, nil
		}
		return resp, closedIfStopped(ctx, err)
	}
	resp.Done = true
	return resp, nil
}

func (s *Server) spin(ctx context.Context, data []byte) (response, error) {
	resp := &SpinResponse{}
	if err := decode(OpSpin, data, &struct{}{}); err != nil {
		return resp, err
	}
	qctx, cancel := quick(ctx)
	defer cancel()
	d, err := s.farm.Spin(qctx)
	resp.Dispatched = d
	return resp, closedIfStopped(ctx, err)
}

func (s *Server) queueStatus(ctx context.Context, data []byte) (response, error) {
	resp := &QueueStatusResponse{}
	var req QueueStatusRequest
	if err := decode(OpQueueStatus, data, &req); err != nil {
		return resp, err
	}
	qctx, cancel := quick(ctx)
	defer cancel()
	if req.Verbose {
		st, err := s.farm.QueueStatus(qctx)
		if err != nil {
			return resp, closedIfStopped(ctx, err)
		}
		resp.Status = &st
		return resp, nil
	}
	n, err := s.farm.QueueCounts(qctx)
	if err != nil {
		return resp, closedIfStopped(ctx, err)
	}
	resp.Counts = &n
	return resp, nil
}

func (s *Server) clear(ctx context.Context, data []byte) (response, error) {
	resp := &ClearResponse{}
	var req ClearRequest
	if err := decode(OpClear, data, &req); err != nil {
		return resp, err
	}
	if err := s.checkIDs(OpClear, len(req.IDs)); err != nil {
		return resp, err
	}
	if req.All && len(req.IDs) > 0 {
		return resp, drovertype.NewValueError("clear: give ids or all, not both")
	}
	qctx, cancel := quick(ctx)
	defer cancel()
	var err error
	if req.All {
		resp.Cleared, err = s.farm.ClearAll(qctx)
	} else {
		resp.Cleared, err = s.farm.Clear(qctx, req.IDs...)
	}
	return resp, closedIfStopped(ctx, err)
}

func (s *Server) engines(ctx context.Context, data []byte) (response, error) {
	resp := &EnginesResponse{Engines: []EngineInfo{}}
	if err := decode(OpEngines, data, &struct{}{}); err != nil {
		return resp, err
	}
	qctx, cancel := quick(ctx)
	defer cancel()
	infos, err := s.farm.Engines(qctx)
	if err != nil {
		return resp, closedIfStopped(ctx, err)
	}
	for _, in := range infos {
		w, err := encodeEngineInfo(in)
		if err != nil {
			return resp, err
		}
		resp.Engines = append(resp.Engines, w)
	}
	return resp, nil
}

func (s *Server) engineCall(ctx context.Context, data []byte) (response, error) {
	resp := &EngineCallResponse{}
	var req EngineCallRequest
	if err := decode(OpEngineCall, data, &req); err != nil {
		return resp, err
	}
	call, err := req.Decode()
	if err != nil {
		return resp, fmt.Errorf("%s on engine %d: %w", req.Op, req.Engine, err)
	}
	if call.StepBudget > s.cfg.MaxStepBudget {
		return resp, fmt.Errorf("%s on engine %d: %w", req.Op, req.Engine, drovertype.NewValueError(fmt.Sprintf(
			"step_budget %d: this controller lets clients ask for at most %d (controlapi.Config.MaxStepBudget)", call.StepBudget, s.cfg.MaxStepBudget)))
	}
	wait := req.WaitMS
	if wait <= 0 {
		wait = int64(s.cfg.MaxCallWait / time.Millisecond)
	}
	wctx, cancel := waitCtx(ctx, wait, s.cfg.MaxCallWait)
	defer cancel()
	v, err := s.farm.Call(wctx, req.Engine, call)
	if err != nil {
		return resp, closedIfStopped(ctx, err)
	}
	b, err := EncodeValue(v)
	if err != nil {
		return resp, fmt.Errorf("%s on engine %d: the reply cannot cross the wire: %w", req.Op, req.Engine, err)
	}
	resp.Value = b
	return resp, nil
}

func (s *Server) info(ctx context.Context, data []byte) (response, error) {
	resp := &InfoResponse{
		Service: ServiceName, Version: Version, API: fabric.APIVersion, ControllerID: s.cfg.ControllerID,
		Prefix: s.subj.Prefix(), MaxPayload: s.nc.MaxPayload(),
		MaxWaitMS: int64(s.cfg.MaxWait / time.Millisecond), MaxCallWaitMS: int64(s.cfg.MaxCallWait / time.Millisecond),
		Durable: s.cfg.Durability != "", Durability: s.cfg.Durability,
	}
	if err := decode(OpInfo, data, &struct{}{}); err != nil {
		return resp, err
	}
	return resp, nil
}
