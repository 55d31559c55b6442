package wire

import (
	"errors"
	"fmt"
	"time"

	"github.com/drover-dev/drover/drovertype"
)

// The wire structs below mirror drovertype's and transport's types. Their
// CBOR form is a map with small integer keys (stable: a key is never
// reused for another meaning; new fields take new keys and old decoders
// ignore them). Empty fields are left out, so a nil and an empty container
// field arrive alike (as nil); containers inside task values keep their
// emptiness.

// maxRecovery bounds a task's recovery chain on the wire.
const maxRecovery = 8

// wTime is a time as [seconds since the Unix epoch, nanoseconds]; nil is
// the zero time.
type wTime = *[2]int64

func toTime(t time.Time) wTime {
	if t.IsZero() {
		return nil
	}
	return &[2]int64{t.Unix(), int64(t.Nanosecond())}
}

func fromTime(w wTime) (time.Time, error) {
	if w == nil {
		return time.Time{}, nil
	}
	if w[1] < 0 || w[1] >= 1e9 {
		return time.Time{}, fmt.Errorf("time with %d nanoseconds", w[1])
	}
	return time.Unix(w[0], w[1]), nil
}

type wDepend struct {
	Source string `cbor:"1,keyasint,omitempty"`
	IsFunc bool   `cbor:"2,keyasint,omitempty"`
}

type wTask struct {
	Kind        uint8          `cbor:"1,keyasint,omitempty"`
	FuncName    string         `cbor:"2,keyasint,omitempty"`
	FuncSource  string         `cbor:"3,keyasint,omitempty"`
	Args        []any          `cbor:"4,keyasint,omitempty"`
	Kwargs      map[string]any `cbor:"5,keyasint,omitempty"`
	Code        string         `cbor:"6,keyasint,omitempty"`
	Push        map[string]any `cbor:"7,keyasint,omitempty"`
	Pull        []string       `cbor:"8,keyasint,omitempty"`
	PullSingle  bool           `cbor:"9,keyasint,omitempty"`
	Argv        []string       `cbor:"10,keyasint,omitempty"`
	Shell       string         `cbor:"11,keyasint,omitempty"`
	ClearBefore bool           `cbor:"12,keyasint,omitempty"`
	ClearAfter  bool           `cbor:"13,keyasint,omitempty"`
	Retries     int64          `cbor:"14,keyasint,omitempty"`
	Recovery    *wTask         `cbor:"15,keyasint,omitempty"`
	Depend      *wDepend       `cbor:"16,keyasint,omitempty"`
	Timeout     int64          `cbor:"17,keyasint,omitempty"` // nanoseconds
	StepBudget  uint64         `cbor:"18,keyasint,omitempty"`
}

// toTask converts t (nil: nil) for the wire; n is its place in a recovery
// chain.
func toTask(t *drovertype.Task, n int) (*wTask, error) {
	if t == nil {
		return nil, nil
	}
	if n > maxRecovery {
		return nil, fmt.Errorf("recovery chain longer than %d tasks (or a cycle)", maxRecovery)
	}
	if err := checkList("args", t.Args); err != nil {
		return nil, err
	}
	if err := checkDict("kwargs", t.Kwargs); err != nil {
		return nil, err
	}
	if err := checkDict("push", t.Push); err != nil {
		return nil, err
	}
	w := &wTask{
		Kind: uint8(t.Kind), FuncName: t.FuncName, FuncSource: t.FuncSource, Args: t.Args, Kwargs: t.Kwargs,
		Code: t.Code, Push: t.Push, Pull: t.Pull, PullSingle: t.PullSingle, Argv: t.Argv, Shell: t.Shell,
		ClearBefore: t.ClearBefore, ClearAfter: t.ClearAfter, Retries: int64(t.Retries), Timeout: int64(t.Timeout),
		StepBudget: t.StepBudget,
	}
	if t.Depend != nil {
		w.Depend = &wDepend{Source: t.Depend.Source, IsFunc: t.Depend.IsFunc}
	}
	if t.Recovery != nil {
		r, err := toTask(t.Recovery, n+1)
		if err != nil {
			return nil, fmt.Errorf("recovery task: %w", err)
		}
		w.Recovery = r
	}
	return w, nil
}

func (w *wTask) task(n int) (*drovertype.Task, error) {
	if n > maxRecovery {
		return nil, fmt.Errorf("recovery chain longer than %d tasks", maxRecovery)
	}
	if w.Kind < uint8(drovertype.MapTask) || w.Kind > uint8(drovertype.CommandTask) {
		return nil, fmt.Errorf("task kind %d", w.Kind)
	}
	if err := normalizeList(w.Args, 0); err != nil {
		return nil, fmt.Errorf("args%w", err)
	}
	if err := normalizeDict(w.Kwargs, 0); err != nil {
		return nil, fmt.Errorf("kwargs%w", err)
	}
	if err := normalizeDict(w.Push, 0); err != nil {
		return nil, fmt.Errorf("push%w", err)
	}
	t := &drovertype.Task{
		Kind: drovertype.TaskKind(w.Kind), FuncName: w.FuncName, FuncSource: w.FuncSource, Args: w.Args, Kwargs: w.Kwargs,
		Code: w.Code, Push: w.Push, Pull: w.Pull, PullSingle: w.PullSingle, Argv: w.Argv, Shell: w.Shell,
	}
	t.ClearBefore, t.ClearAfter = w.ClearBefore, w.ClearAfter
	t.Retries, t.Timeout = int(w.Retries), time.Duration(w.Timeout)
	t.StepBudget = w.StepBudget
	if int64(t.Retries) != w.Retries {
		return nil, fmt.Errorf("retries %d out of range", w.Retries)
	}
	if w.Depend != nil {
		t.Depend = &drovertype.Depend{Source: w.Depend.Source, IsFunc: w.Depend.IsFunc}
	}
	if w.Recovery != nil {
		r, err := w.Recovery.task(n + 1)
		if err != nil {
			return nil, fmt.Errorf("recovery task: %w", err)
		}
		t.Recovery = r
	}
	return t, nil
}

type wTaskError struct {
	Kind      string `cbor:"1,keyasint,omitempty"`
	Type      string `cbor:"2,keyasint,omitempty"`
	Message   string `cbor:"3,keyasint,omitempty"`
	Traceback string `cbor:"4,keyasint,omitempty"`
	TaskID    int64  `cbor:"5,keyasint,omitempty"`
	EngineID  int64  `cbor:"6,keyasint,omitempty"`
}

// toTaskError converts e (nil: nil); its Cause stays behind.
func toTaskError(e *drovertype.TaskError) *wTaskError {
	if e == nil {
		return nil
	}
	return &wTaskError{Kind: string(e.Kind), Type: e.Type, Message: e.Message, Traceback: e.Traceback,
		TaskID: int64(e.TaskID), EngineID: int64(e.EngineID)}
}

func (w *wTaskError) taskError() *drovertype.TaskError {
	if w == nil {
		return nil
	}
	return &drovertype.TaskError{Kind: drovertype.Kind(w.Kind), Type: w.Type, Message: w.Message, Traceback: w.Traceback,
		TaskID: drovertype.TaskID(w.TaskID), EngineID: drovertype.EngineID(w.EngineID)}
}

type wCommandResult struct {
	ExitCode int64  `cbor:"1,keyasint,omitempty"`
	Stdout   []byte `cbor:"2,keyasint,omitempty"`
	Stderr   []byte `cbor:"3,keyasint,omitempty"`
}

func toCommandResult(c *drovertype.CommandResult) *wCommandResult {
	if c == nil {
		return nil
	}
	return &wCommandResult{ExitCode: int64(c.ExitCode), Stdout: c.Stdout, Stderr: c.Stderr}
}

func (w *wCommandResult) commandResult() (*drovertype.CommandResult, error) {
	if w == nil {
		return nil, nil
	}
	c := &drovertype.CommandResult{ExitCode: int(w.ExitCode), Stdout: w.Stdout, Stderr: w.Stderr}
	if int64(c.ExitCode) != w.ExitCode {
		return nil, fmt.Errorf("exit code %d out of range", w.ExitCode)
	}
	return c, nil
}

type wTaskResult struct {
	TaskID      int64           `cbor:"1,keyasint,omitempty"`
	EngineID    int64           `cbor:"2,keyasint,omitempty"`
	Kind        uint8           `cbor:"3,keyasint,omitempty"`
	Submitted   string          `cbor:"4,keyasint,omitempty"`
	Completed   string          `cbor:"5,keyasint,omitempty"`
	SubmittedAt wTime           `cbor:"6,keyasint,omitempty"`
	CompletedAt wTime           `cbor:"7,keyasint,omitempty"`
	Duration    int64           `cbor:"8,keyasint,omitempty"`
	Value       any             `cbor:"9,keyasint,omitempty"`
	Results     map[string]any  `cbor:"10,keyasint,omitempty"`
	Keys        []string        `cbor:"11,keyasint,omitempty"`
	Command     *wCommandResult `cbor:"12,keyasint,omitempty"`
	Failure     *wTaskError     `cbor:"13,keyasint,omitempty"`
}

func toTaskResult(r *drovertype.TaskResult) (*wTaskResult, error) {
	if r == nil {
		return nil, nil
	}
	if err := checkPlain(r.Value, 0); err != nil {
		return nil, fmt.Errorf("task result value: %w", err)
	}
	if err := checkDict("task result results", r.Results); err != nil {
		return nil, err
	}
	return &wTaskResult{
		TaskID: int64(r.TaskID), EngineID: int64(r.EngineID), Kind: uint8(r.Kind),
		Submitted: r.Submitted, Completed: r.Completed,
		SubmittedAt: toTime(r.SubmittedAt), CompletedAt: toTime(r.CompletedAt), Duration: int64(r.Duration),
		Value: r.Value, Results: r.Results, Keys: r.Keys,
		Command: toCommandResult(r.Command), Failure: toTaskError(r.Failure),
	}, nil
}

func (w *wTaskResult) taskResult() (*drovertype.TaskResult, error) {
	if w == nil {
		return nil, nil
	}
	v, err := normalize(w.Value, 0)
	if err != nil {
		return nil, fmt.Errorf("task result value: %w", err)
	}
	if err := normalizeDict(w.Results, 0); err != nil {
		return nil, fmt.Errorf("task result results%w", err)
	}
	r := &drovertype.TaskResult{
		TaskID: drovertype.TaskID(w.TaskID), EngineID: drovertype.EngineID(w.EngineID), Kind: drovertype.TaskKind(w.Kind),
		Submitted: w.Submitted, Completed: w.Completed, Duration: time.Duration(w.Duration),
		Value: v, Results: w.Results, Keys: w.Keys, Failure: w.Failure.taskError(),
	}
	if r.SubmittedAt, err = fromTime(w.SubmittedAt); err != nil {
		return nil, err
	}
	if r.CompletedAt, err = fromTime(w.CompletedAt); err != nil {
		return nil, err
	}
	if r.Command, err = w.Command.commandResult(); err != nil {
		return nil, err
	}
	return r, nil
}

// wResult is a task's end: a value of one of three kinds, or an error.
type wResult struct {
	Value   any             `cbor:"1,keyasint,omitempty"`
	Result  *wTaskResult    `cbor:"2,keyasint,omitempty"`
	Command *wCommandResult `cbor:"3,keyasint,omitempty"`
	Err     *wTaskError     `cbor:"4,keyasint,omitempty"`
}

var errResultKind = errors.New("value is not plain data, a *drovertype.TaskResult or a *drovertype.CommandResult")

func (w *wResult) set(value any, err *drovertype.TaskError) error {
	w.Err = toTaskError(err)
	switch v := value.(type) {
	case *drovertype.TaskResult:
		if v == nil {
			return nil
		}
		r, e := toTaskResult(v)
		if e != nil {
			return e
		}
		w.Result = r
	case *drovertype.CommandResult:
		if v != nil {
			w.Command = toCommandResult(v)
		}
	default:
		if !isPlain(value, 0) {
			if e := checkPlain(value, 0); e != nil {
				return fmt.Errorf("%w: %w", errResultKind, e)
			}
		}
		w.Value = value
	}
	return nil
}

func (w *wResult) get() (any, *drovertype.TaskError, error) {
	n := 0
	for _, set := range [...]bool{w.Value != nil, w.Result != nil, w.Command != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, nil, fmt.Errorf("result with %d kinds of value", n)
	}
	te := w.Err.taskError()
	switch {
	case w.Result != nil:
		r, err := w.Result.taskResult()
		if err != nil {
			return nil, nil, err
		}
		return r, te, nil
	case w.Command != nil:
		c, err := w.Command.commandResult()
		if err != nil {
			return nil, nil, err
		}
		return c, te, nil
	}
	v, err := normalize(w.Value, 0)
	if err != nil {
		return nil, nil, err
	}
	return v, te, nil
}
