package script

// TaskResult, ResultNS and CommandResult as Starlark values (SEED-SPEC B4).

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/drovertype"
)

// resultValue converts the result of a task to Starlark: a string task's
// *drovertype.TaskResult becomes a TaskResult, a command task's
// *drovertype.CommandResult a CommandResult, a map task's value a new
// Starlark value (FromTaskData).
func resultOf(v any) (starlark.Value, error) {
	switch r := v.(type) {
	case *drovertype.TaskResult:
		return &taskResultValue{r: r}, nil
	case *drovertype.CommandResult:
		return &commandResultValue{r: r}, nil
	}
	sv, err := FromTaskData(v)
	if err != nil {
		return nil, newError(KindTypeError, err, "task result: %v", err)
	}
	return sv, nil
}

// taskResultValue is the seed's TaskResult: the outcome of a string task.
// It is immutable, and so safe for concurrent use.
type taskResultValue struct {
	r *drovertype.TaskResult
}

var (
	_ starlark.HasAttrs    = (*taskResultValue)(nil)
	_ starlark.HasSetField = (*taskResultValue)(nil)
	_ starlark.Mapping     = (*taskResultValue)(nil)
)

func (v *taskResultValue) Type() string          { return "TaskResult" }
func (v *taskResultValue) Freeze()               {}
func (v *taskResultValue) Truth() starlark.Bool  { return true }
func (v *taskResultValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: TaskResult") }

// String returns the seed's repr: TaskResult[ID:3]:{"a": 5}, or, for a
// failed task, TaskResult[ID:3]:Failure(ZeroDivisionError: ...).
func (v *taskResultValue) String() string {
	head := fmt.Sprintf("TaskResult[ID:%d]:", v.r.TaskID)
	if v.r.Failure != nil {
		return head + "Failure(" + newErrorValue(taskError(v.r.Failure)).String() + ")"
	}
	d, err := v.results()
	if err != nil {
		return head + "{?}"
	}
	return head + d.String()
}

// results returns the pulled values as a new dict, in pull order.
func (v *taskResultValue) results() (*starlark.Dict, error) {
	d := starlark.NewDict(len(v.r.Results))
	if v.r.Failure != nil {
		return d, nil
	}
	for _, k := range v.keys() {
		x, err := FromTaskData(v.r.Results[k])
		if err != nil {
			return nil, newError(KindTypeError, err, "TaskResult: %s: %v", k, err)
		}
		d.SetKey(starlark.String(k), x)
	}
	return d, nil
}

// keys returns the names of the results: in pull order, then any others.
func (v *taskResultValue) keys() []string {
	if v.r.Failure != nil {
		return nil
	}
	return drovertype.NewResultNS(v.r.Keys, v.r.Results).Names()
}

var taskResultAttrs = []string{"completed", "duration", "engineid", "failure", "keys", "ns", "raise_exception", "results", "submitted", "taskid"}

func (v *taskResultValue) AttrNames() []string { return taskResultAttrs }

func (v *taskResultValue) Attr(name string) (starlark.Value, error) {
	r := v.r
	switch name {
	case "engineid":
		return starlark.MakeInt64(int64(r.EngineID)), nil
	case "taskid":
		return starlark.MakeInt64(int64(r.TaskID)), nil
	case "submitted":
		return starlark.String(r.Submitted), nil
	case "completed":
		return starlark.String(r.Completed), nil
	case "duration":
		return starlark.Float(r.Duration.Seconds()), nil
	case "results":
		return v.results()
	case "keys":
		keys := v.keys()
		l := make([]starlark.Value, len(keys))
		for i, k := range keys {
			l[i] = starlark.String(k)
		}
		return starlark.NewList(l), nil
	case "ns":
		if r.Failure != nil {
			return nil, taskError(r.Failure)
		}
		return &resultNSValue{ns: drovertype.NewResultNS(r.Keys, r.Results)}, nil
	case "failure":
		if r.Failure == nil {
			return starlark.None, nil
		}
		return newErrorValue(taskError(r.Failure)), nil
	case "raise_exception":
		return starlark.NewBuiltin("raise_exception", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
				return nil, typeError(err)
			}
			if r.Failure != nil {
				return nil, taskError(r.Failure)
			}
			return starlark.None, nil
		}).BindReceiver(v), nil
	}
	return nil, nil
}

// SetField refuses every assignment; for ns with the seed's text.
func (v *taskResultValue) SetField(name string, _ starlark.Value) error {
	if name == "ns" {
		return newError(KindException, nil, "the ns attribute cannot be changed")
	}
	return newError(KindAttributeError, nil, "a TaskResult cannot be changed (can't assign to .%s)", name)
}

// Get implements tr[name]: the failure if the task failed, KeyError if
// there is no such result.
func (v *taskResultValue) Get(k starlark.Value) (starlark.Value, bool, error) {
	name, ok := k.(starlark.String)
	if !ok {
		return nil, false, newError(KindKeyError, nil, "%s", k)
	}
	x, err := v.r.Get(string(name))
	if err != nil {
		return nil, false, taskError(err)
	}
	sv, err := FromTaskData(x)
	if err != nil {
		return nil, false, newError(KindTypeError, err, "TaskResult: %s: %v", name, err)
	}
	return sv, true, nil
}

// resultNSValue is the seed's ResultNS: a string task's results read as
// attributes (ns.a) or by name (ns["a"]); a missing name is an
// AttributeError either way. Immutable.
type resultNSValue struct {
	ns drovertype.ResultNS
}

var (
	_ starlark.HasAttrs = (*resultNSValue)(nil)
	_ starlark.Mapping  = (*resultNSValue)(nil)
)

func (v *resultNSValue) Type() string          { return "ResultNS" }
func (v *resultNSValue) Freeze()               {}
func (v *resultNSValue) Truth() starlark.Bool  { return v.ns.Len() > 0 }
func (v *resultNSValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: ResultNS") }
func (v *resultNSValue) AttrNames() []string   { return v.ns.Names() }

// String returns the seed's repr, NS{"a": 17}, without the names that
// start or end with "__".
func (v *resultNSValue) String() string {
	var b strings.Builder
	b.WriteString("NS{")
	for i, k := range v.ns.ReprNames() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(starlark.String(k).String())
		b.WriteString(": ")
		x, err := v.Attr(k)
		if err != nil {
			b.WriteString("?")
			continue
		}
		b.WriteString(x.String())
	}
	b.WriteString("}")
	return b.String()
}

func (v *resultNSValue) Attr(name string) (starlark.Value, error) {
	x, err := v.ns.Attr(name)
	if err != nil {
		return nil, taskError(err)
	}
	sv, err := FromTaskData(x)
	if err != nil {
		return nil, newError(KindTypeError, err, "ResultNS: %s: %v", name, err)
	}
	return sv, nil
}

// Get implements ns[name], which is ns.name (AttributeError if absent).
func (v *resultNSValue) Get(k starlark.Value) (starlark.Value, bool, error) {
	name, ok := k.(starlark.String)
	if !ok {
		return nil, false, newError(KindAttributeError, nil, "'ResultNS' object has no attribute %s", pyRepr(k))
	}
	x, err := v.Attr(string(name))
	if err != nil {
		return nil, false, err
	}
	return x, true, nil
}

// commandResultValue is a command task's result: exit_code, stdout and
// stderr (as strings; a non-zero exit code is a result, not a failure).
type commandResultValue struct {
	r *drovertype.CommandResult
}

var _ starlark.HasAttrs = (*commandResultValue)(nil)

func (v *commandResultValue) Type() string         { return "CommandResult" }
func (v *commandResultValue) Freeze()              {}
func (v *commandResultValue) Truth() starlark.Bool { return true }
func (v *commandResultValue) Hash() (uint32, error) {
	return 0, fmt.Errorf("unhashable type: CommandResult")
}
func (v *commandResultValue) AttrNames() []string { return []string{"exit_code", "stderr", "stdout"} }

func (v *commandResultValue) String() string {
	return fmt.Sprintf("CommandResult(exit_code=%d, stdout=%s, stderr=%s)",
		v.r.ExitCode, starlark.String(v.r.Stdout), starlark.String(v.r.Stderr))
}

func (v *commandResultValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "exit_code":
		return starlark.MakeInt(v.r.ExitCode), nil
	case "stdout":
		return starlark.String(v.r.Stdout), nil
	case "stderr":
		return starlark.String(v.r.Stderr), nil
	}
	return nil, nil
}
