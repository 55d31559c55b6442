package controlapi

import (
	"errors"
	"fmt"
	"time"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
)

// Names of the control API.
const (
	// ServiceName is the micro service's name.
	ServiceName = "drover-controller"
	// Version is the micro service's version: the control API's version.
	// Its major number is the subjects' version token (P.api.v1).
	Version = "1.2.0"
)

// Operations: the endpoints, each on subject P.api.v1.<op>.
const (
	OpSubmit      = "submit"
	OpResult      = "result"
	OpPoll        = "poll"
	OpAbort       = "abort"
	OpBarrier     = "barrier"
	OpSpin        = "spin"
	OpQueueStatus = "queue_status"
	OpClear       = "clear"
	OpEngines     = "engines"
	OpEngineCall  = "engine_call"
	OpInfo        = "info"
	// OpRunWait (since 1.2) queues one task and answers with its outcome
	// when it has finished: Run then Result in one round trip.
	OpRunWait = "run_wait"
)

// Ops lists every operation.
func Ops() []string {
	return []string{OpSubmit, OpResult, OpPoll, OpAbort, OpBarrier, OpSpin, OpQueueStatus, OpClear, OpEngines, OpEngineCall, OpInfo, OpRunWait}
}

// Error is an error on the wire: a drovertype.TaskError (Code is its Kind,
// the stable wire code) and, in Text, the full text of the error on the
// controller when it says more than the TaskError alone ("clear: Cleared 1
// results, but ...").
type Error struct {
	Code      drovertype.Kind     `json:"code"`
	Type      string              `json:"type,omitempty"`
	Message   string              `json:"message,omitempty"`
	Traceback string              `json:"traceback,omitempty"`
	TaskID    drovertype.TaskID   `json:"task_id"`
	EngineID  drovertype.EngineID `json:"engine_id"`
	Text      string              `json:"text,omitempty"`
}

// WireError converts err for the wire (nil for nil).
func WireError(err error) *Error {
	if err == nil {
		return nil
	}
	te := drovertype.FromError(err)
	e := &Error{Code: te.Kind, Type: te.Type, Message: te.Message, Traceback: te.Traceback, TaskID: te.TaskID, EngineID: te.EngineID}
	if txt := err.Error(); txt != te.Error() {
		e.Text = txt
	}
	return e
}

// TaskError returns the *drovertype.TaskError the wire error carries.
func (e *Error) TaskError() *drovertype.TaskError {
	return &drovertype.TaskError{Kind: e.Code, Type: e.Type, Message: e.Message, Traceback: e.Traceback, TaskID: e.TaskID, EngineID: e.EngineID}
}

// Err returns the error e stands for: the *drovertype.TaskError itself, or
// an error whose text is Text and which wraps it (errors.Is and errors.As
// see the TaskError either way). Err of nil is nil.
func (e *Error) Err() error {
	if e == nil {
		return nil
	}
	te := e.TaskError()
	if e.Code == "" {
		te.Kind = drovertype.Internal
	}
	if e.Text == "" || e.Text == te.Error() {
		return te
	}
	return &remoteError{text: e.Text, te: te}
}

// remoteError is an error from the controller whose text says more than
// its TaskError.
type remoteError struct {
	text string
	te   *drovertype.TaskError
}

func (e *remoteError) Error() string { return e.text }
func (e *remoteError) Unwrap() error { return e.te }

// Task is a task definition on the wire: drovertype.Task with its task
// data (Args, Kwargs, Push) in CBOR. An absent data field is nil; a present
// one, even empty, is not (Task.Validate tells them apart).
type Task struct {
	Kind        drovertype.TaskKind `json:"kind"`
	FuncName    string              `json:"func_name,omitempty"`
	FuncSource  string              `json:"func_source,omitempty"`
	Args        []byte              `json:"args,omitempty"`
	Kwargs      []byte              `json:"kwargs,omitempty"`
	Code        string              `json:"code,omitempty"`
	Push        []byte              `json:"push,omitempty"`
	Pull        []string            `json:"pull,omitempty"`
	PullSingle  bool                `json:"pull_single,omitempty"`
	Argv        []string            `json:"argv,omitempty"`
	Shell       string              `json:"shell,omitempty"`
	ClearBefore bool                `json:"clear_before,omitempty"`
	ClearAfter  bool                `json:"clear_after,omitempty"`
	Retries     int                 `json:"retries,omitempty"`
	Recovery    *Task               `json:"recovery,omitempty"`
	Depend      *drovertype.Depend  `json:"depend,omitempty"`
	// TimeoutNS is Options.Timeout in nanoseconds.
	TimeoutNS int64 `json:"timeout_ns,omitempty"`
}

// MaxRecovery is the longest recovery chain a wire task may have.
const MaxRecovery = 64

// EncodeTask converts t for the wire. t is validated first (Task.Validate),
// and a recovery chain that loops is cut as Task.Clone cuts it.
func EncodeTask(t *drovertype.Task) (*Task, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if t.Recovery != nil {
		t = t.Clone()
	}
	return encodeTask(t, 0)
}

func encodeTask(t *drovertype.Task, depth int) (*Task, error) {
	if depth > MaxRecovery {
		return nil, drovertype.NewValueError(fmt.Sprintf("recovery chain longer than %d tasks", MaxRecovery))
	}
	w := &Task{
		Kind: t.Kind, FuncName: t.FuncName, FuncSource: t.FuncSource, Code: t.Code, Pull: t.Pull,
		PullSingle: t.PullSingle, Argv: t.Argv, Shell: t.Shell, ClearBefore: t.ClearBefore, ClearAfter: t.ClearAfter,
		Retries: t.Retries, Depend: t.Depend, TimeoutNS: int64(t.Timeout),
	}
	var err error
	if t.Args != nil {
		if w.Args, err = encodeChecked(t.Args); err != nil {
			return nil, fmt.Errorf("args: %w", err)
		}
	}
	if t.Kwargs != nil {
		if w.Kwargs, err = encodeChecked(t.Kwargs); err != nil {
			return nil, fmt.Errorf("kwargs: %w", err)
		}
	}
	if t.Push != nil {
		if w.Push, err = encodeChecked(t.Push); err != nil {
			return nil, fmt.Errorf("push: %w", err)
		}
	}
	if t.Recovery != nil {
		if w.Recovery, err = encodeTask(t.Recovery, depth+1); err != nil {
			return nil, fmt.Errorf("recovery_task: %w", err)
		}
	}
	return w, nil
}

// Decode converts a wire task back and validates it (Task.Validate). The
// errors are of kind InvalidArgument and name the field.
func (w *Task) Decode() (*drovertype.Task, error) {
	t, err := w.decode(0)
	if err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

func (w *Task) decode(depth int) (*drovertype.Task, error) {
	if depth > MaxRecovery {
		return nil, drovertype.NewValueError(fmt.Sprintf("recovery chain longer than %d tasks", MaxRecovery))
	}
	if w.TimeoutNS < 0 {
		return nil, drovertype.NewValueError(fmt.Sprintf("timeout must be >= 0, got %v", time.Duration(w.TimeoutNS)))
	}
	t := &drovertype.Task{
		Kind: w.Kind, FuncName: w.FuncName, FuncSource: w.FuncSource, Code: w.Code, Pull: w.Pull,
		PullSingle: w.PullSingle, Argv: w.Argv, Shell: w.Shell,
	}
	t.ClearBefore, t.ClearAfter, t.Retries, t.Depend, t.Timeout = w.ClearBefore, w.ClearAfter, w.Retries, w.Depend, time.Duration(w.TimeoutNS)
	var err error
	if w.Args != nil {
		if t.Args, err = DecodeList(w.Args, "args"); err != nil {
			return nil, err
		}
	}
	if w.Kwargs != nil {
		if t.Kwargs, err = DecodeDict(w.Kwargs, "kwargs"); err != nil {
			return nil, err
		}
	}
	if w.Push != nil {
		if t.Push, err = DecodeDict(w.Push, "push"); err != nil {
			return nil, err
		}
	}
	if w.Recovery != nil {
		if t.Recovery, err = w.Recovery.decode(depth + 1); err != nil {
			return nil, fmt.Errorf("recovery_task: %w", err)
		}
	}
	return t, nil
}

// Outcome is the result of one task on the wire. Done says whether the
// task has finished; when it has, exactly one of Value, TaskResult,
// Command and Error is set:
//
//   - Value: the raw value of a map task, in CBOR;
//   - TaskResult: a string task's *drovertype.TaskResult (also when it
//     failed);
//   - Command: a command task's *drovertype.CommandResult;
//   - Error: the task's error (failed, aborted, timed out, engine lost,
//     unknown id...).
type Outcome struct {
	Done       bool                      `json:"done"`
	Value      []byte                    `json:"value,omitempty"`
	TaskResult *TaskResult               `json:"task_result,omitempty"`
	Command    *drovertype.CommandResult `json:"command,omitempty"`
	Error      *Error                    `json:"error,omitempty"`

	// decoded: the outcome is the plain value value, decoded already (a
	// packed result response).
	decoded bool
	value   any
}

// TaskResult is drovertype.TaskResult on the wire, its values in CBOR.
type TaskResult struct {
	TaskID      drovertype.TaskID         `json:"task_id"`
	EngineID    drovertype.EngineID       `json:"engine_id"`
	Kind        drovertype.TaskKind       `json:"kind"`
	Submitted   string                    `json:"submitted,omitempty"`
	Completed   string                    `json:"completed,omitempty"`
	SubmittedAt time.Time                 `json:"submitted_at,omitzero"`
	CompletedAt time.Time                 `json:"completed_at,omitzero"`
	DurationNS  int64                     `json:"duration_ns,omitempty"`
	Value       []byte                    `json:"value,omitempty"`
	Results     []byte                    `json:"results,omitempty"`
	Keys        []string                  `json:"keys"`
	Command     *drovertype.CommandResult `json:"command,omitempty"`
	Failure     *Error                    `json:"failure,omitempty"`
}

// EncodeOutcome converts what Result returns (value, err) for the wire.
func EncodeOutcome(v any, err error) Outcome {
	if err != nil {
		return Outcome{Done: true, Error: WireError(err)}
	}
	switch x := v.(type) {
	case *drovertype.TaskResult:
		tr, err := encodeTaskResult(x)
		if err != nil {
			return Outcome{Done: true, Error: WireError(err)}
		}
		return Outcome{Done: true, TaskResult: tr}
	case *drovertype.CommandResult:
		return Outcome{Done: true, Command: x}
	}
	b, err := EncodeValue(v)
	if err != nil {
		return Outcome{Done: true, Error: WireError(fmt.Errorf("result cannot cross the wire: %w", err))}
	}
	return Outcome{Done: true, Value: b}
}

func encodeTaskResult(r *drovertype.TaskResult) (*TaskResult, error) {
	w := &TaskResult{
		TaskID: r.TaskID, EngineID: r.EngineID, Kind: r.Kind, Submitted: r.Submitted, Completed: r.Completed,
		SubmittedAt: r.SubmittedAt, CompletedAt: r.CompletedAt, DurationNS: int64(r.Duration), Keys: r.Keys,
		Command: r.Command, Failure: WireError(errOrNil(r.Failure)),
	}
	var err error
	if r.Value != nil {
		if w.Value, err = EncodeValue(r.Value); err != nil {
			return nil, fmt.Errorf("task result value cannot cross the wire: %w", err)
		}
	}
	if r.Results != nil {
		if w.Results, err = EncodeValue(r.Results); err != nil {
			return nil, fmt.Errorf("task results cannot cross the wire: %w", err)
		}
	}
	return w, nil
}

func errOrNil(e *drovertype.TaskError) error {
	if e == nil {
		return nil
	}
	return e
}

// Decode returns what Result returns: (value, err). An outcome that is
// not done, or that is malformed, gives an error.
func (o *Outcome) Decode() (any, error) {
	if !o.Done {
		return nil, errors.New("outcome: not done")
	}
	if o.decoded {
		return o.value, nil
	}
	n := 0
	for _, set := range []bool{o.Value != nil, o.TaskResult != nil, o.Command != nil, o.Error != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, drovertype.NewTaskError(drovertype.Internal, "ProtocolError", fmt.Sprintf("outcome with %d parts, want 1", n))
	}
	switch {
	case o.Error != nil:
		return nil, o.Error.Err()
	case o.Command != nil:
		return o.Command, nil
	case o.TaskResult != nil:
		return o.TaskResult.decode()
	}
	return DecodeValue(o.Value)
}

func (w *TaskResult) decode() (*drovertype.TaskResult, error) {
	r := &drovertype.TaskResult{
		TaskID: w.TaskID, EngineID: w.EngineID, Kind: w.Kind, Submitted: w.Submitted, Completed: w.Completed,
		SubmittedAt: w.SubmittedAt, CompletedAt: w.CompletedAt, Duration: time.Duration(w.DurationNS), Keys: w.Keys,
		Command: w.Command,
	}
	if w.Failure != nil {
		r.Failure = w.Failure.TaskError()
	}
	var err error
	if w.Value != nil {
		if r.Value, err = DecodeValue(w.Value); err != nil {
			return nil, fmt.Errorf("task result value: %w", err)
		}
	}
	if w.Results != nil {
		if r.Results, err = DecodeDict(w.Results, "task results"); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// EngineInfo is drovertype.EngineInfo on the wire, its properties in CBOR.
type EngineInfo struct {
	ID            drovertype.EngineID `json:"id"`
	Name          string              `json:"name,omitempty"`
	Properties    []byte              `json:"properties,omitempty"`
	Busy          bool                `json:"busy"`
	Task          drovertype.TaskID   `json:"task"`
	AllowCommands bool                `json:"allow_commands,omitempty"`
	Functions     []string            `json:"functions,omitempty"`
}

func encodeEngineInfo(in drovertype.EngineInfo) (EngineInfo, error) {
	w := EngineInfo{ID: in.ID, Name: in.Name, Busy: in.Busy, Task: in.Task, AllowCommands: in.AllowCommands, Functions: in.Functions}
	if in.Properties != nil {
		b, err := EncodeValue(in.Properties)
		if err != nil {
			return w, fmt.Errorf("engine %d properties: %w", in.ID, err)
		}
		w.Properties = b
	}
	return w, nil
}

// Decode converts the wire form back.
func (w *EngineInfo) Decode() (drovertype.EngineInfo, error) {
	in := drovertype.EngineInfo{ID: w.ID, Name: w.Name, Busy: w.Busy, Task: w.Task, AllowCommands: w.AllowCommands, Functions: w.Functions}
	if w.Properties != nil {
		p, err := DecodeDict(w.Properties, fmt.Sprintf("engine %d properties", w.ID))
		if err != nil {
			return in, err
		}
		in.Properties = p
	}
	return in, nil
}

// Requests and responses. Every response carries Error when the request
// failed as a whole. Requests may carry fields this version does not know
// (they are ignored): a 1.x client talks to any 1.y controller.

// SubmitRequest queues tasks (one or a batch), in order: Tasks, or (since
// 1.1) one task per element of Rows, each Proto with that element as its
// args — a map's tasks without a copy of the prototype per task. Rows is
// a CBOR array of arrays; Proto has no args. A request gives Tasks or
// Proto and Rows, not both.
type SubmitRequest struct {
	Tasks []*Task `json:"tasks"`
	Proto *Task   `json:"proto,omitempty"`
	Rows  []byte  `json:"rows,omitempty"`
}

// SubmitResponse gives the ids of the tasks queued, in order. With Error,
// Failed is the index in the request of the task that failed, and IDs are
// those of the tasks queued before it. A task that cannot be decoded or is
// invalid fails the whole batch before any task is queued; a task the
// controller refuses (its depend constraint does not compile, the
// controller is closed) stops the batch there.
type SubmitResponse struct {
	IDs    []drovertype.TaskID `json:"ids"`
	Failed *int                `json:"failed,omitempty"`
	Error  *Error              `json:"error,omitempty"`
}

// WaitRequest waits for tasks to finish (result, barrier). WaitMS bounds
// the wait on the controller (which caps it at its own maximum, and waits
// at least 50ms). A client that wants to wait longer asks again.
//
// With Packed (since 1.1), a result response packs the plain values of
// the outcomes in Values (see ResultResponse).
type WaitRequest struct {
	IDs    []drovertype.TaskID `json:"ids"`
	WaitMS int64               `json:"wait_ms,omitempty"`
	Packed bool                `json:"packed,omitempty"`
}

// ResultResponse answers result. When Done, every task has finished and
// Results holds their outcomes in the order of the request's ids; when a
// response would exceed the NATS max payload, Results holds only the first
// of them and the client asks again for the rest.
//
// A packed response (the request's Packed) holds Count outcomes: Values is
// a CBOR array of Count elements, element i the value of outcome i when it
// is a plain value (a map task's result); Others holds, with their index,
// the outcomes that are not (errors, task and command results), whose
// elements in Values are null. The controller packs when every outcome
// fits in one message, and answers unpacked otherwise.
type ResultResponse struct {
	Done    bool             `json:"done"`
	Results []Outcome        `json:"results,omitempty"`
	Count   int              `json:"count,omitempty"`
	Values  []byte           `json:"values,omitempty"`
	Others  []IndexedOutcome `json:"others,omitempty"`
	Error   *Error           `json:"error,omitempty"`
}

// IndexedOutcome is an outcome of a packed result response that is not a
// plain value, with its index in the response.
type IndexedOutcome struct {
	Index int `json:"index"`
	Outcome
}

// unpack returns the outcomes of a packed response.
func (r *ResultResponse) unpack() ([]Outcome, error) {
	if r.Count < 0 || r.Count > DefaultMaxIDs {
		return nil, fmt.Errorf("packed results: count %d", r.Count)
	}
	v, err := DecodeValue(r.Values)
	if err != nil {
		return nil, fmt.Errorf("packed results: values: %w", err)
	}
	vs, ok := v.([]any)
	if !ok || len(vs) != r.Count {
		return nil, fmt.Errorf("packed results: values are not an array of %d elements", r.Count)
	}
	outs := make([]Outcome, r.Count)
	for i, x := range vs {
		outs[i] = Outcome{Done: true, decoded: true, value: x}
	}
	for _, o := range r.Others {
		if o.Index < 0 || o.Index >= r.Count || !o.Outcome.Done {
			return nil, fmt.Errorf("packed results: outcome at index %d of %d", o.Index, r.Count)
		}
		outs[o.Index] = o.Outcome
	}
	return outs, nil
}

// RunWaitRequest (run_wait, since 1.2) queues Task, as a submit of one
// task does, and waits for it to finish: at most WaitMS on the controller
// (capped and floored as WaitRequest's). A client that wants to wait
// longer asks result for the task's id.
type RunWaitRequest struct {
	Task   *Task `json:"task"`
	WaitMS int64 `json:"wait_ms,omitempty"`
}

// RunWaitResponse answers run_wait. ID is present once the task is queued:
// with Error and no ID, the task was not queued (Error is what submit
// would say); with Error and ID, it was queued but the wait failed (the
// controller closed). Done and Outcome (what result would give) are set
// when the task has finished within the wait; with Done false and no
// Error, the wait ended first and the client asks result for ID.
type RunWaitResponse struct {
	ID      *drovertype.TaskID `json:"id,omitempty"`
	Done    bool               `json:"done"`
	Outcome *Outcome           `json:"outcome,omitempty"`
	Error   *Error             `json:"error,omitempty"`
}

// BarrierResponse answers barrier: Done when every task has finished.
type BarrierResponse struct {
	Done  bool   `json:"done"`
	Error *Error `json:"error,omitempty"`
}

// IDRequest names one task (poll, abort).
type IDRequest struct {
	ID drovertype.TaskID `json:"id"`
}

// PollResponse answers poll: Done and the outcome when the task has
// finished; Error (with Done false) when the id is unknown or cleared.
type PollResponse struct {
	Done    bool     `json:"done"`
	Outcome *Outcome `json:"outcome,omitempty"`
	Error   *Error   `json:"error,omitempty"`
}

// ErrorResponse answers requests that return nothing else (abort).
type ErrorResponse struct {
	Error *Error `json:"error,omitempty"`
}

// SpinResponse answers spin.
type SpinResponse struct {
	Dispatched bool   `json:"dispatched"`
	Error      *Error `json:"error,omitempty"`
}

// QueueStatusRequest asks for the queue status: the ids (Verbose) or the
// counts.
type QueueStatusRequest struct {
	Verbose bool `json:"verbose,omitempty"`
}

// QueueStatusResponse answers queue_status.
type QueueStatusResponse struct {
	Status *drovertype.QueueStatus `json:"status,omitempty"`
	Counts *drovertype.QueueCounts `json:"counts,omitempty"`
	Error  *Error                  `json:"error,omitempty"`
}

// ClearRequest forgets results: of IDs, or of every finished task with All.
type ClearRequest struct {
	IDs []drovertype.TaskID `json:"ids,omitempty"`
	All bool                `json:"all,omitempty"`
}

// ClearResponse gives the number of results dropped, and Error when some
// ids were not finished tasks (the others were dropped anyway).
type ClearResponse struct {
	Cleared int    `json:"cleared"`
	Error   *Error `json:"error,omitempty"`
}

// EnginesResponse lists the engines.
type EnginesResponse struct {
	Engines []EngineInfo `json:"engines"`
	Error   *Error       `json:"error,omitempty"`
}

// EngineCallRequest performs a namespace or property operation on an
// engine (transport.Call; Op by name: push, pull, execute, reset, keys,
// set_properties, get_properties, del_properties, has_properties,
// clear_properties). WaitMS bounds the wait on the controller; an
// operation still running then is not stopped (it runs in the engine's
// command order) but its reply is lost.
type EngineCallRequest struct {
	Engine     drovertype.EngineID `json:"engine"`
	Op         string              `json:"op"`
	Values     []byte              `json:"values,omitempty"`
	Names      []string            `json:"names,omitempty"`
	Single     bool                `json:"single,omitempty"`
	Code       string              `json:"code,omitempty"`
	StepBudget uint64              `json:"step_budget,omitempty"`
	WaitMS     int64               `json:"wait_ms,omitempty"`
}

// EngineCallResponse gives the engine's reply value in CBOR.
type EngineCallResponse struct {
	Value []byte `json:"value,omitempty"`
	Error *Error `json:"error,omitempty"`
}

// InfoResponse describes the controller and the API.
type InfoResponse struct {
	Service      string `json:"service"`
	Version      string `json:"version"`
	API          string `json:"api"`
	ControllerID string `json:"controller_id,omitempty"`
	Prefix       string `json:"prefix"`
	// MaxPayload is the largest message the controller's connection may
	// send or receive.
	MaxPayload int64 `json:"max_payload"`
	// MaxWaitMS caps the waits of result and barrier.
	MaxWaitMS int64 `json:"max_wait_ms"`
	// MaxCallWaitMS caps the wait of engine_call.
	MaxCallWaitMS int64 `json:"max_call_wait_ms"`
	// Durable says whether accepted tasks and results survive a restart
	// of the controller; Durability says where they are kept (empty: in
	// memory). Controllers before 1.2 leave both out.
	Durable    bool   `json:"durable,omitempty"`
	Durability string `json:"durability,omitempty"`
	Error      *Error `json:"error,omitempty"`
}

// EncodeCall converts an engine call for the wire.
func EncodeCall(id drovertype.EngineID, c transport.Call) (*EngineCallRequest, error) {
	name := c.Op.String()
	if _, ok := parseOp(name); !ok {
		return nil, drovertype.NewValueError(fmt.Sprintf("unknown engine call operation %v", c.Op))
	}
	r := &EngineCallRequest{Engine: id, Op: name, Names: c.Names, Single: c.Single, Code: c.Code, StepBudget: c.StepBudget}
	if c.Values != nil {
		b, err := EncodeValue(c.Values)
		if err != nil {
			return nil, fmt.Errorf("values: %w", err)
		}
		r.Values = b
	}
	return r, nil
}

// Decode converts the wire form back into a transport.Call.
func (r *EngineCallRequest) Decode() (transport.Call, error) {
	op, ok := parseOp(r.Op)
	if !ok {
		return transport.Call{}, drovertype.NewValueError(fmt.Sprintf("unknown engine call operation %q", r.Op))
	}
	c := transport.Call{Op: op, Names: r.Names, Single: r.Single, Code: r.Code, StepBudget: r.StepBudget}
	if r.Values != nil {
		v, err := DecodeDict(r.Values, "values")
		if err != nil {
			return transport.Call{}, err
		}
		c.Values = v
	}
	return c, nil
}

func parseOp(name string) (transport.CallOp, bool) {
	for op := transport.OpPush; op <= transport.OpClearProperties; op++ {
		if op.String() == name {
			return op, true
		}
	}
	return 0, false
}
