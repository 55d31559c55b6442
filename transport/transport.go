// Package transport is the seam between drover's controller and its
// engines: the messages they exchange and the two ends of a connection.
//
// The controller holds one ControllerEnd; each engine holds one EngineEnd.
// Messages are Go structs made of plain data (drovertype values, strings,
// numbers, maps and slices of them), so that an in-memory transport
// (package memtransport) can pass them as they are and a network transport
// can encode them. Every union (ToEngine, FromEngine) has exactly one field
// set.
//
// Guarantees every transport gives (checked by package transporttest):
//
//   - Order: messages sent to one engine arrive in the order they were sent;
//     messages from one engine arrive at the controller in the order that
//     engine sent them. There is no order between different engines.
//   - Batching: Recv blocks until at least one message is ready and returns
//     every message that is ready (up to a transport-defined limit), in order.
//   - Loss: when an engine end is closed (or, for a network transport, stops
//     answering), the controller receives one FromEngine with Lost set for
//     that address, after every message that engine sent before it. After
//     that the address is unknown: Send to it fails with ErrUnknownAddr.
//   - Ownership: after Send the sender must not modify what the messages
//     refer to (tasks, values, maps); the receiver must treat it as
//     read-only too (an in-memory transport shares it). Send does not keep
//     the msgs slice itself: the caller may reuse it once Send returns.
//     Recv's result belongs to the caller.
//   - Close: closing the controller end makes every blocked or later Recv
//     and Send on either end fail with ErrClosed; closing an engine end makes
//     its own Recv and Send fail with ErrClosed and reports it lost.
//   - Cancellation: a Recv or Send blocked on its ctx returns ctx's error.
package transport

import (
	"context"
	"errors"
	"time"

	"github.com/drover-dev/drover/drovertype"
)

// Errors of the transport. Implementations wrap them (with the operation
// and address); test with errors.Is.
var (
	// ErrClosed: this end, or the controller end it belongs to, is closed.
	ErrClosed = errors.New("transport: closed")
	// ErrUnknownAddr: no engine has this address (never connected, or lost).
	ErrUnknownAddr = errors.New("transport: unknown engine address")
	// ErrEmptySend: Send was called without messages.
	ErrEmptySend = errors.New("transport: no messages to send")
)

// AttemptID identifies one dispatch of a task (or of its recovery task) to
// an engine. The controller hands them out, unique and increasing over the
// controller's life; 0 is never used.
type AttemptID uint64

// CallID identifies a Call so its Reply can be matched. The controller
// hands them out; 0 is never used.
type CallID uint64

// ToEngine is a message from the controller to an engine. Exactly one field
// is set.
type ToEngine struct {
	Registered *Registered `json:"registered,omitempty"`
	Assign     *Assign     `json:"assign,omitempty"`
	Cancel     *Cancel     `json:"cancel,omitempty"`
	Call       *Call       `json:"call,omitempty"`
	Shutdown   *Shutdown   `json:"shutdown,omitempty"`
}

// FromEngine is a message from an engine to the controller. Exactly one of
// the pointer fields is set.
type FromEngine struct {
	// From is the transport address of the sending engine. The transport
	// sets it on receipt; whatever the sender put there is overwritten.
	From string `json:"from"`

	Register *Register `json:"register,omitempty"`
	Outcome  *Outcome  `json:"outcome,omitempty"`
	Reply    *Reply    `json:"reply,omitempty"`
	Props    *Props    `json:"props,omitempty"`
	Bye      *Bye      `json:"bye,omitempty"`
	// Lost is set by the transport only (an engine cannot send it): the
	// engine at From is gone. It is the last message from that address.
	Lost *Lost `json:"lost,omitempty"`
}

// Register is an engine's hello, its first message.
type Register struct {
	// Name is a human-readable label (host, pid); informative only.
	Name string `json:"name,omitempty"`
	// Properties is the engine's initial properties (a copy).
	Properties map[string]any `json:"properties,omitempty"`
	// Capabilities says what the engine can run.
	Capabilities Capabilities `json:"capabilities"`
	// Window is the number of attempts the engine accepts assigned at once
	// (running plus queued behind it); >= 1. 1 is the seed's behaviour.
	Window int `json:"window"`
}

// Capabilities describe what an engine can run.
type Capabilities struct {
	// Commands: the engine runs command tasks.
	Commands bool `json:"commands,omitempty"`
	// Functions are the names of the Go functions registered on the
	// engine, sorted.
	Functions []string `json:"functions,omitempty"`
}

// Registered answers Register: the id the controller gave the engine.
type Registered struct {
	EngineID drovertype.EngineID `json:"engine_id"`
}

// Assign asks the engine to run one attempt of a task. Attempts and calls
// run one at a time, in the order they arrived.
type Assign struct {
	Attempt AttemptID `json:"attempt"`
	// TaskID is the id the result is reported under (a recovery task runs
	// under the id of the task it stands for).
	TaskID drovertype.TaskID `json:"task_id"`
	// Task is what to run (its Recovery, Retries and Depend are the
	// controller's business and are ignored by the engine). Its Timeout
	// limits this attempt's running time, counted by the engine from the
	// moment the attempt starts (not while it waits in the engine's queue).
	Task *drovertype.Task `json:"task"`
	// StepBudget, when > 0, replaces the engine's step budget for the
	// Starlark runs of this attempt.
	StepBudget uint64 `json:"step_budget,omitempty"`
}

// Cancel asks the engine to stop an attempt. A queued attempt is dropped
// and a running one is stopped; either way the engine answers with an
// Outcome whose error has kind Kind. A Cancel for an attempt the engine
// does not know (already finished) is ignored.
type Cancel struct {
	Attempt AttemptID `json:"attempt"`
	// Kind is the error kind of the outcome: drovertype.TaskAborted (the
	// default when empty) or drovertype.TaskTimeout.
	Kind drovertype.Kind `json:"kind,omitempty"`
	// Message is the error message of the outcome; empty gives the kind's
	// standard error (drovertype.NewAborted for TaskAborted).
	Message string `json:"message,omitempty"`
}

// CallOp names an operation on an engine's namespace or properties.
type CallOp uint8

// Call operations. The comment says which Call fields are used and what
// Reply.Value holds.
const (
	_ CallOp = iota
	// OpPush merges Values into the namespace. Value: nil.
	OpPush
	// OpPull reads Names from the namespace (the seed's forms: with Single,
	// the one value; otherwise a []any of the values, except that one name
	// gives the bare value; no names give an empty []any). Missing name:
	// NameError.
	OpPull
	// OpExecute runs Code in the namespace. Value: nil.
	OpExecute
	// OpReset empties the namespace, re-seeds `id` and clears the
	// properties. Value: nil.
	OpReset
	// OpKeys lists the names in the namespace, sorted. Value: []any of
	// string.
	OpKeys
	// OpSetProperties merges Values into the properties. Value: nil.
	OpSetProperties
	// OpGetProperties reads the properties: all with no Names, else those
	// named. Value: map[string]any.
	OpGetProperties
	// OpDelProperties deletes the Names. Value: nil.
	OpDelProperties
	// OpHasProperties: Value is a []any of bool, one per name in Names.
	OpHasProperties
	// OpClearProperties deletes every property. Value: nil.
	OpClearProperties
)

var opNames = [...]string{
	OpPush: "push", OpPull: "pull", OpExecute: "execute", OpReset: "reset", OpKeys: "keys",
	OpSetProperties: "set_properties", OpGetProperties: "get_properties",
	OpDelProperties: "del_properties", OpHasProperties: "has_properties",
	OpClearProperties: "clear_properties",
}

// String returns the operation's name as the seed spells it ("push",
// "get_properties", ...).
func (op CallOp) String() string {
	if int(op) < len(opNames) && opNames[op] != "" {
		return opNames[op]
	}
	return "CallOp(" + itoa(uint64(op)) + ")"
}

// Call asks the engine for a namespace or property operation. It runs in
// the engine's command order, between attempts.
type Call struct {
	ID CallID `json:"id"`
	Op CallOp `json:"op"`
	// Values: OpPush (names → values), OpSetProperties.
	Values map[string]any `json:"values,omitempty"`
	// Names: OpPull, OpGetProperties, OpDelProperties, OpHasProperties.
	Names []string `json:"names,omitempty"`
	// Single: OpPull of one name given as a string (the value, not a list).
	Single bool `json:"single,omitempty"`
	// Code: OpExecute.
	Code string `json:"code,omitempty"`
	// StepBudget, when > 0, replaces the engine's step budget for OpExecute.
	StepBudget uint64 `json:"step_budget,omitempty"`
}

// Shutdown asks the engine to leave: it stops its running attempt (whose
// Outcome fails with EngineLost), drops its queue, sends Bye listing the
// attempts it did not start, and stops serving (the owner of its end then
// closes it, and the controller sees Lost).
type Shutdown struct {
	Reason string `json:"reason,omitempty"`
}

// Outcome is the end of an attempt.
type Outcome struct {
	Attempt AttemptID         `json:"attempt"`
	TaskID  drovertype.TaskID `json:"task_id"`
	// Value is the attempt's result when it succeeded: a map task's raw
	// value, a string task's *drovertype.TaskResult (also when the task
	// failed: Err is then set as well, and the TaskResult's failure is that
	// error), a command task's *drovertype.CommandResult (a non-zero exit
	// code is a success: the command ran).
	Value any `json:"value,omitempty"`
	// Err is the attempt's failure; nil on success.
	Err *drovertype.TaskError `json:"err,omitempty"`
	// Started and Ended bound the attempt on the engine (zero if it never
	// started: cancelled while queued).
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	// Props is the engine's properties after the attempt when they changed
	// during it (the controller's cached copy, used by depend); nil when
	// unchanged.
	Props *Props `json:"props,omitempty"`
}

// Reply answers a Call. Value is plain data (see drovertype.ValidateValue).
type Reply struct {
	ID    CallID                `json:"id"`
	Value any                   `json:"value,omitempty"`
	Err   *drovertype.TaskError `json:"err,omitempty"`
	// Props is the engine's properties after the call when they changed;
	// nil when unchanged.
	Props *Props `json:"props,omitempty"`
}

// Props carries a full copy of an engine's properties. As a FromEngine
// message it reports a change made outside any task or call.
type Props struct {
	Properties map[string]any `json:"properties"`
}

// Bye is an engine's goodbye; after it the engine sends nothing. Attempts
// it did not start are listed in Unstarted (the controller may assign them
// elsewhere without counting a failure); a running attempt is reported by
// an Outcome before Bye.
type Bye struct {
	Reason    string      `json:"reason,omitempty"`
	Unstarted []AttemptID `json:"unstarted,omitempty"`
}

// Lost reports that an engine is gone (set by the transport only).
type Lost struct {
	Reason string `json:"reason,omitempty"`
}

// ControllerEnd is the controller's side of a transport. Implementations
// are safe for concurrent use.
type ControllerEnd interface {
	// Recv blocks until at least one message from any engine is ready and
	// returns the ready ones (a batch), in per-engine order. The caller owns
	// the returned slice.
	Recv(ctx context.Context) ([]FromEngine, error)
	// Send sends msgs, in order, to the engine at addr. It does not wait
	// for the engine to read them. Unknown or lost addr: ErrUnknownAddr.
	Send(ctx context.Context, addr string, msgs ...ToEngine) error
	// Close closes the controller end and, with it, every engine end's
	// connection to it. Idempotent.
	Close() error
}

// EngineEnd is an engine's side of a transport. Implementations are safe
// for concurrent use.
type EngineEnd interface {
	// Addr is the engine's transport address (what FromEngine.From says).
	Addr() string
	// Recv blocks until at least one message for this engine is ready and
	// returns the ready ones, in order. The caller owns the returned slice.
	Recv(ctx context.Context) ([]ToEngine, error)
	// Send sends msgs, in order, to the controller. It does not wait for
	// the controller to read them.
	Send(ctx context.Context, msgs ...FromEngine) error
	// Close leaves: the controller receives Lost for Addr after every
	// message sent before. Idempotent.
	Close() error
}

func itoa(u uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			return string(b[i:])
		}
	}
}
