package wire

import (
	"bytes"
	"fmt"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
)

// Version is the version of the frame format, sent in every frame. A
// decoder refuses frames of another version.
const Version = 1

// FrameKind says what a frame is.
type FrameKind uint8

// Frame kinds. Engine frames (engine → controller) are Data, Heartbeat,
// Close and Nack; controller frames (controller → engine) are Data, Sync,
// Reset, Closed and Nack.
const (
	// Data carries messages (Msgs), numbered by Seq within the session.
	Data FrameKind = 1
	// Heartbeat (engine): the engine is alive; Seq is the number of the
	// last data frame it sent in the session and Ack the number of the
	// last controller data frame it received.
	Heartbeat FrameKind = 2
	// Close (engine): the engine end closed; Seq as for Heartbeat.
	Close FrameKind = 3
	// Sync (controller): Seq is the number of the last data frame the
	// controller sent in the session and Ack the number of the last engine
	// data frame it received in sequence (answers a Heartbeat whose Ack is
	// behind, so that the engine notices frames lost on the way, or whose
	// Seq was not acknowledged yet).
	Sync FrameKind = 4
	// Reset (controller): the controller does not know the session (lost,
	// or never registered); the engine must register again in a new
	// session. Reason says why.
	Reset FrameKind = 5
	// Closed (controller): the controller end closed. Session 0 means
	// every session.
	Closed FrameKind = 6
	// Nack (either direction): the sender of the Nack is missing data
	// frames of the session: Seq is the number of the first one it lacks
	// (it received every frame before, in sequence), and the other side
	// is asked to send its data frames again from Seq on. Added to
	// version 1 later: a peer that predates it drops it as malformed.
	Nack FrameKind = 7
)

var frameKindNames = [...]string{Data: "data", Heartbeat: "heartbeat", Close: "close", Sync: "sync", Reset: "reset", Closed: "closed", Nack: "nack"}

// String returns the kind's name ("data", "heartbeat", ...).
func (k FrameKind) String() string {
	if int(k) < len(frameKindNames) && frameKindNames[k] != "" {
		return frameKindNames[k]
	}
	return fmt.Sprintf("FrameKind(%d)", uint8(k))
}

// EngineFrame is what an engine publishes to the controller.
type EngineFrame struct {
	Kind    FrameKind
	Session uint64 // chosen by the engine end, non-zero, new at every registration
	Seq     uint64
	Ack     uint64
	// Msgs (Data only); From and Lost are not carried (the receiving
	// transport sets From; Lost is the transport's own).
	Msgs []transport.FromEngine
}

// ControllerFrame is what the controller publishes to an engine.
type ControllerFrame struct {
	Kind    FrameKind
	Session uint64
	Seq     uint64
	// Ack (Data, Sync, Nack) is the number of the last engine data frame
	// the controller received in sequence (0: none, or not said).
	Ack    uint64
	Reason string
	Msgs   []transport.ToEngine // Data only
}

type wEngineFrame struct {
	V       uint8         `cbor:"0,keyasint"`
	Kind    uint8         `cbor:"1,keyasint"`
	Session uint64        `cbor:"2,keyasint,omitempty"`
	Seq     uint64        `cbor:"3,keyasint,omitempty"`
	Ack     uint64        `cbor:"4,keyasint,omitempty"`
	Msgs    []wFromEngine `cbor:"6,keyasint,omitempty"`
}

type wControllerFrame struct {
	V       uint8       `cbor:"0,keyasint"`
	Kind    uint8       `cbor:"1,keyasint"`
	Session uint64      `cbor:"2,keyasint,omitempty"`
	Seq     uint64      `cbor:"3,keyasint,omitempty"`
	Ack     uint64      `cbor:"4,keyasint,omitempty"`
	Reason  string      `cbor:"5,keyasint,omitempty"`
	Msgs    []wToEngine `cbor:"6,keyasint,omitempty"`
}

type wFromEngine struct {
	Register *wRegister `cbor:"1,keyasint,omitempty"`
	Outcome  *wOutcome  `cbor:"2,keyasint,omitempty"`
	Reply    *wReply    `cbor:"3,keyasint,omitempty"`
	Props    *wProps    `cbor:"4,keyasint,omitempty"`
	Bye      *wBye      `cbor:"5,keyasint,omitempty"`
}

type wToEngine struct {
	Registered *wRegistered `cbor:"1,keyasint,omitempty"`
	Assign     *wAssign     `cbor:"2,keyasint,omitempty"`
	Cancel     *wCancel     `cbor:"3,keyasint,omitempty"`
	Call       *wCall       `cbor:"4,keyasint,omitempty"`
	Shutdown   *wShutdown   `cbor:"5,keyasint,omitempty"`
}

type wRegister struct {
	Name       string         `cbor:"1,keyasint,omitempty"`
	Properties map[string]any `cbor:"2,keyasint"`
	Commands   bool           `cbor:"3,keyasint,omitempty"`
	Functions  []string       `cbor:"4,keyasint,omitempty"`
	Window     int64          `cbor:"5,keyasint,omitempty"`
}

type wRegistered struct {
	EngineID int64 `cbor:"1,keyasint"`
}

type wAssign struct {
	Attempt    uint64 `cbor:"1,keyasint"`
	TaskID     int64  `cbor:"2,keyasint"`
	Task       *wTask `cbor:"3,keyasint,omitempty"`
	StepBudget uint64 `cbor:"4,keyasint,omitempty"`
}

type wCancel struct {
	Attempt uint64 `cbor:"1,keyasint"`
	Kind    string `cbor:"2,keyasint,omitempty"`
	Message string `cbor:"3,keyasint,omitempty"`
}

type wCall struct {
	ID         uint64         `cbor:"1,keyasint"`
	Op         uint8          `cbor:"2,keyasint"`
	Values     map[string]any `cbor:"3,keyasint,omitempty"`
	Names      []string       `cbor:"4,keyasint,omitempty"`
	Single     bool           `cbor:"5,keyasint,omitempty"`
	Code       string         `cbor:"6,keyasint,omitempty"`
	StepBudget uint64         `cbor:"7,keyasint,omitempty"`
}

type wShutdown struct {
	Reason string `cbor:"1,keyasint,omitempty"`
}

type wOutcome struct {
	Attempt uint64          `cbor:"1,keyasint"`
	TaskID  int64           `cbor:"2,keyasint"`
	Value   any             `cbor:"3,keyasint,omitempty"`
	Result  *wTaskResult    `cbor:"4,keyasint,omitempty"`
	Command *wCommandResult `cbor:"5,keyasint,omitempty"`
	Err     *wTaskError     `cbor:"6,keyasint,omitempty"`
	Started wTime           `cbor:"7,keyasint,omitempty"`
	Ended   wTime           `cbor:"8,keyasint,omitempty"`
	Props   *wProps         `cbor:"9,keyasint,omitempty"`
}

type wReply struct {
	ID    uint64      `cbor:"1,keyasint"`
	Value any         `cbor:"2,keyasint,omitempty"`
	Err   *wTaskError `cbor:"3,keyasint,omitempty"`
	Props *wProps     `cbor:"4,keyasint,omitempty"`
}

type wProps struct {
	Properties map[string]any `cbor:"1,keyasint"`
}

type wBye struct {
	Reason    string   `cbor:"1,keyasint,omitempty"`
	Unstarted []uint64 `cbor:"2,keyasint,omitempty"`
}

func toProps(p *transport.Props) (*wProps, error) {
	if p == nil {
		return nil, nil
	}
	if err := checkDict("properties", p.Properties); err != nil {
		return nil, err
	}
	return &wProps{Properties: p.Properties}, nil
}

func (w *wProps) props() (*transport.Props, error) {
	if w == nil {
		return nil, nil
	}
	if err := normalizeDict(w.Properties, 0); err != nil {
		return nil, fmt.Errorf("properties%w", err)
	}
	return &transport.Props{Properties: w.Properties}, nil
}

// CountFrom returns how many of m's message fields are set (From aside).
func CountFrom(m *transport.FromEngine) int {
	n := 0
	for _, set := range [...]bool{m.Register != nil, m.Outcome != nil, m.Reply != nil, m.Props != nil, m.Bye != nil, m.Lost != nil} {
		if set {
			n++
		}
	}
	return n
}

// CountTo returns how many of m's fields are set.
func CountTo(m *transport.ToEngine) int {
	n := 0
	for _, set := range [...]bool{m.Registered != nil, m.Assign != nil, m.Cancel != nil, m.Call != nil, m.Shutdown != nil} {
		if set {
			n++
		}
	}
	return n
}

// fromEngine converts one message for the wire.
func fromEngine(m *transport.FromEngine) (wFromEngine, error) {
	var w wFromEngine
	if m.Lost != nil {
		return w, fmt.Errorf("Lost is reserved to the transport")
	}
	if n := CountFrom(m); n != 1 {
		return w, fmt.Errorf("%d fields set, want exactly 1", n)
	}
	var err error
	switch {
	case m.Register != nil:
		r := m.Register
		if err := checkDict("register properties", r.Properties); err != nil {
			return w, err
		}
		w.Register = &wRegister{Name: r.Name, Properties: r.Properties, Commands: r.Capabilities.Commands,
			Functions: r.Capabilities.Functions, Window: int64(r.Window)}
	case m.Outcome != nil:
		o := m.Outcome
		wo := &wOutcome{Attempt: uint64(o.Attempt), TaskID: int64(o.TaskID), Started: toTime(o.Started), Ended: toTime(o.Ended)}
		var res wResult
		if err = res.set(o.Value, o.Err); err != nil {
			return w, fmt.Errorf("outcome of attempt %d: %w", o.Attempt, err)
		}
		wo.Value, wo.Result, wo.Command, wo.Err = res.Value, res.Result, res.Command, res.Err
		if wo.Props, err = toProps(o.Props); err != nil {
			return w, fmt.Errorf("outcome of attempt %d: %w", o.Attempt, err)
		}
		w.Outcome = wo
	case m.Reply != nil:
		r := m.Reply
		if err := checkPlain(r.Value, 0); err != nil {
			return w, fmt.Errorf("reply %d: %w", r.ID, err)
		}
		wr := &wReply{ID: uint64(r.ID), Value: r.Value, Err: toTaskError(r.Err)}
		if wr.Props, err = toProps(r.Props); err != nil {
			return w, fmt.Errorf("reply %d: %w", r.ID, err)
		}
		w.Reply = wr
	case m.Props != nil:
		if w.Props, err = toProps(m.Props); err != nil {
			return w, err
		}
	case m.Bye != nil:
		wb := &wBye{Reason: m.Bye.Reason}
		if len(m.Bye.Unstarted) > 0 {
			wb.Unstarted = make([]uint64, len(m.Bye.Unstarted))
			for i, a := range m.Bye.Unstarted {
				wb.Unstarted[i] = uint64(a)
			}
		}
		w.Bye = wb
	}
	return w, nil
}

func (w *wFromEngine) message() (transport.FromEngine, error) {
	var m transport.FromEngine
	n := 0
	for _, set := range [...]bool{w.Register != nil, w.Outcome != nil, w.Reply != nil, w.Props != nil, w.Bye != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return m, fmt.Errorf("%d fields set, want exactly 1", n)
	}
	var err error
	switch {
	case w.Register != nil:
		r := w.Register
		if err := normalizeDict(r.Properties, 0); err != nil {
			return m, fmt.Errorf("register properties%w", err)
		}
		m.Register = &transport.Register{Name: r.Name, Properties: r.Properties,
			Capabilities: transport.Capabilities{Commands: r.Commands, Functions: r.Functions}, Window: int(r.Window)}
		if int64(m.Register.Window) != r.Window {
			return m, fmt.Errorf("register window %d out of range", r.Window)
		}
	case w.Outcome != nil:
		o := w.Outcome
		out := &transport.Outcome{Attempt: transport.AttemptID(o.Attempt), TaskID: drovertype.TaskID(o.TaskID)}
		res := wResult{Value: o.Value, Result: o.Result, Command: o.Command, Err: o.Err}
		if out.Value, out.Err, err = res.get(); err != nil {
			return m, fmt.Errorf("outcome of attempt %d: %w", o.Attempt, err)
		}
		if out.Started, err = fromTime(o.Started); err != nil {
			return m, fmt.Errorf("outcome of attempt %d: %w", o.Attempt, err)
		}
		if out.Ended, err = fromTime(o.Ended); err != nil {
			return m, fmt.Errorf("outcome of attempt %d: %w", o.Attempt, err)
		}
		if out.Props, err = o.Props.props(); err != nil {
			return m, fmt.Errorf("outcome of attempt %d: %w", o.Attempt, err)
		}
		m.Outcome = out
	case w.Reply != nil:
		r := w.Reply
		rep := &transport.Reply{ID: transport.CallID(r.ID), Err: r.Err.taskError()}
		if rep.Value, err = normalize(r.Value, 0); err != nil {
			return m, fmt.Errorf("reply %d: %w", r.ID, err)
		}
		if rep.Props, err = r.Props.props(); err != nil {
			return m, fmt.Errorf("reply %d: %w", r.ID, err)
		}
		m.Reply = rep
	case w.Props != nil:
		if m.Props, err = w.Props.props(); err != nil {
			return m, err
		}
	case w.Bye != nil:
		b := &transport.Bye{Reason: w.Bye.Reason}
		if len(w.Bye.Unstarted) > 0 {
			b.Unstarted = make([]transport.AttemptID, len(w.Bye.Unstarted))
			for i, a := range w.Bye.Unstarted {
				b.Unstarted[i] = transport.AttemptID(a)
			}
		}
		m.Bye = b
	}
	return m, nil
}

// toEngine converts one message for the wire.
func toEngine(m *transport.ToEngine) (wToEngine, error) {
	var w wToEngine
	if n := CountTo(m); n != 1 {
		return w, fmt.Errorf("%d fields set, want exactly 1", n)
	}
	switch {
	case m.Registered != nil:
		w.Registered = &wRegistered{EngineID: int64(m.Registered.EngineID)}
	case m.Assign != nil:
		a := m.Assign
		if a.Task == nil {
			return w, fmt.Errorf("assign of attempt %d: no task", a.Attempt)
		}
		t, err := toTask(a.Task, 0)
		if err != nil {
			return w, fmt.Errorf("assign of attempt %d: %w", a.Attempt, err)
		}
		w.Assign = &wAssign{Attempt: uint64(a.Attempt), TaskID: int64(a.TaskID), Task: t, StepBudget: a.StepBudget}
	case m.Cancel != nil:
		c := m.Cancel
		w.Cancel = &wCancel{Attempt: uint64(c.Attempt), Kind: string(c.Kind), Message: c.Message}
	case m.Call != nil:
		c := m.Call
		if err := checkDict("call values", c.Values); err != nil {
			return w, fmt.Errorf("call %d: %w", c.ID, err)
		}
		w.Call = &wCall{ID: uint64(c.ID), Op: uint8(c.Op), Values: c.Values, Names: c.Names, Single: c.Single,
			Code: c.Code, StepBudget: c.StepBudget}
	case m.Shutdown != nil:
		w.Shutdown = &wShutdown{Reason: m.Shutdown.Reason}
	}
	return w, nil
}

func (w *wToEngine) message() (transport.ToEngine, error) {
	var m transport.ToEngine
	n := 0
	for _, set := range [...]bool{w.Registered != nil, w.Assign != nil, w.Cancel != nil, w.Call != nil, w.Shutdown != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return m, fmt.Errorf("%d fields set, want exactly 1", n)
	}
	switch {
	case w.Registered != nil:
		m.Registered = &transport.Registered{EngineID: drovertype.EngineID(w.Registered.EngineID)}
	case w.Assign != nil:
		a := w.Assign
		if a.Task == nil {
			return m, fmt.Errorf("assign of attempt %d: no task", a.Attempt)
		}
		t, err := a.Task.task(0)
		if err != nil {
			return m, fmt.Errorf("assign of attempt %d: task: %w", a.Attempt, err)
		}
		m.Assign = &transport.Assign{Attempt: transport.AttemptID(a.Attempt), TaskID: drovertype.TaskID(a.TaskID), Task: t, StepBudget: a.StepBudget}
	case w.Cancel != nil:
		c := w.Cancel
		m.Cancel = &transport.Cancel{Attempt: transport.AttemptID(c.Attempt), Kind: drovertype.Kind(c.Kind), Message: c.Message}
	case w.Call != nil:
		c := w.Call
		if err := normalizeDict(c.Values, 0); err != nil {
			return m, fmt.Errorf("call %d: values%w", c.ID, err)
		}
		m.Call = &transport.Call{ID: transport.CallID(c.ID), Op: transport.CallOp(c.Op), Values: c.Values, Names: c.Names,
			Single: c.Single, Code: c.Code, StepBudget: c.StepBudget}
	case w.Shutdown != nil:
		m.Shutdown = &transport.Shutdown{Reason: w.Shutdown.Reason}
	}
	return m, nil
}

// MessageError reports a message of a batch that cannot be encoded (not
// exactly one field set, values that are not plain data...).
type MessageError struct {
	Index int // the message's index in the batch
	Err   error
}

func (e *MessageError) Error() string { return fmt.Sprintf("message %d: %v", e.Index, e.Err) }
func (e *MessageError) Unwrap() error { return e.Err }

// AppendEngineFrame encodes f at the end of buf. A message that cannot be
// encoded gives a *MessageError; a frame over the size limit a *SizeError
// (buf is then as it was).
func (c *Codec) AppendEngineFrame(buf *bytes.Buffer, f *EngineFrame) error {
	w := wEngineFrame{V: Version, Kind: uint8(f.Kind), Session: f.Session, Seq: f.Seq, Ack: f.Ack}
	if len(f.Msgs) > 0 {
		w.Msgs = make([]wFromEngine, len(f.Msgs))
		for i := range f.Msgs {
			m, err := fromEngine(&f.Msgs[i])
			if err != nil {
				return fmt.Errorf("wire: encode engine frame: %w", &MessageError{Index: i, Err: err})
			}
			w.Msgs[i] = m
		}
	}
	return c.marshal("engine frame", &w, buf)
}

// DecodeEngineFrame decodes an engine frame. Any error wraps ErrMalformed.
func (c *Codec) DecodeEngineFrame(data []byte) (EngineFrame, error) {
	var w wEngineFrame
	if err := c.unmarshal("engine frame", data, &w); err != nil {
		return EngineFrame{}, err
	}
	if w.V != Version {
		return EngineFrame{}, fmt.Errorf("wire: decode engine frame: %w: version %d, want %d", ErrMalformed, w.V, Version)
	}
	f := EngineFrame{Kind: FrameKind(w.Kind), Session: w.Session, Seq: w.Seq, Ack: w.Ack}
	switch f.Kind {
	case Data, Heartbeat, Close, Nack:
	default:
		return EngineFrame{}, fmt.Errorf("wire: decode engine frame: %w: kind %v", ErrMalformed, f.Kind)
	}
	if len(w.Msgs) > 0 {
		if f.Kind != Data {
			return EngineFrame{}, fmt.Errorf("wire: decode engine frame: %w: %v frame with messages", ErrMalformed, f.Kind)
		}
		f.Msgs = make([]transport.FromEngine, len(w.Msgs))
		for i := range w.Msgs {
			m, err := w.Msgs[i].message()
			if err != nil {
				return EngineFrame{}, fmt.Errorf("wire: decode engine frame: %w: %w", ErrMalformed, &MessageError{Index: i, Err: err})
			}
			f.Msgs[i] = m
		}
	}
	return f, nil
}

// AppendControllerFrame encodes f at the end of buf (see
// AppendEngineFrame).
func (c *Codec) AppendControllerFrame(buf *bytes.Buffer, f *ControllerFrame) error {
	w := wControllerFrame{V: Version, Kind: uint8(f.Kind), Session: f.Session, Seq: f.Seq, Ack: f.Ack, Reason: f.Reason}
	if len(f.Msgs) > 0 {
		w.Msgs = make([]wToEngine, len(f.Msgs))
		for i := range f.Msgs {
			m, err := toEngine(&f.Msgs[i])
			if err != nil {
				return fmt.Errorf("wire: encode controller frame: %w", &MessageError{Index: i, Err: err})
			}
			w.Msgs[i] = m
		}
	}
	return c.marshal("controller frame", &w, buf)
}

// DecodeControllerFrame decodes a controller frame. Any error wraps
// ErrMalformed.
func (c *Codec) DecodeControllerFrame(data []byte) (ControllerFrame, error) {
	var w wControllerFrame
	if err := c.unmarshal("controller frame", data, &w); err != nil {
		return ControllerFrame{}, err
	}
	if w.V != Version {
		return ControllerFrame{}, fmt.Errorf("wire: decode controller frame: %w: version %d, want %d", ErrMalformed, w.V, Version)
	}
	f := ControllerFrame{Kind: FrameKind(w.Kind), Session: w.Session, Seq: w.Seq, Ack: w.Ack, Reason: w.Reason}
	switch f.Kind {
	case Data, Sync, Reset, Closed, Nack:
	default:
		return ControllerFrame{}, fmt.Errorf("wire: decode controller frame: %w: kind %v", ErrMalformed, f.Kind)
	}
	if len(w.Msgs) > 0 {
		if f.Kind != Data {
			return ControllerFrame{}, fmt.Errorf("wire: decode controller frame: %w: %v frame with messages", ErrMalformed, f.Kind)
		}
		f.Msgs = make([]transport.ToEngine, len(w.Msgs))
		for i := range w.Msgs {
			m, err := w.Msgs[i].message()
			if err != nil {
				return ControllerFrame{}, fmt.Errorf("wire: decode controller frame: %w: %w", ErrMalformed, &MessageError{Index: i, Err: err})
			}
			f.Msgs[i] = m
		}
	}
	return f, nil
}

// EncodeFromEngine encodes one engine message alone and returns its size:
// what a transport uses to find which message of a batch is too large.
func (c *Codec) EncodeFromEngine(m *transport.FromEngine) (int, error) {
	w, err := fromEngine(m)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	if err := c.enc.MarshalToBuffer(&w, &buf); err != nil {
		return 0, err
	}
	return buf.Len(), nil
}

// EncodeToEngine is EncodeFromEngine for a controller message.
func (c *Codec) EncodeToEngine(m *transport.ToEngine) (int, error) {
	w, err := toEngine(m)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	if err := c.enc.MarshalToBuffer(&w, &buf); err != nil {
		return 0, err
	}
	return buf.Len(), nil
}
