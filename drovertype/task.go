package drovertype

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// TaskKind is the kind of a task. The zero value is not a valid kind. The
// numeric values are stable (an encoder that does not use the text form may
// send them): MapTask 1, StringTask 2, CommandTask 3.
type TaskKind uint8

// Task kinds.
const (
	// MapTask calls a function with args and kwargs; its result is the
	// function's return value (seed: MapTask).
	MapTask TaskKind = iota + 1
	// StringTask pushes values into the engine's namespace, runs Starlark
	// code there and pulls named values back into a TaskResult (seed:
	// StringTask).
	StringTask
	// CommandTask runs a command on an engine that allows commands; its
	// result is the exit code, stdout and stderr. Beyond the seed.
	CommandTask
)

// String returns "map", "string" or "command".
func (k TaskKind) String() string {
	switch k {
	case MapTask:
		return "map"
	case StringTask:
		return "string"
	case CommandTask:
		return "command"
	}
	return "TaskKind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText encodes the kind as its name.
func (k TaskKind) MarshalText() ([]byte, error) {
	if k < MapTask || k > CommandTask {
		return nil, fmt.Errorf("drovertype: invalid task kind %d", uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText decodes a kind name.
func (k *TaskKind) UnmarshalText(b []byte) error {
	for v := MapTask; v <= CommandTask; v++ {
		if string(b) == v.String() {
			*k = v
			return nil
		}
	}
	return fmt.Errorf("drovertype: unknown task kind %q", b)
}

// Depend is a task's constraint on the engines that may run it: Starlark
// source evaluated against an engine's properties. With IsFunc, Source
// defines a function of one argument, called with the properties (the seed's
// form: depend=lambda p: ...): an expression whose value is the function, or
// statements whose last top-level def is the function (how the Starlark
// layer ships a def); otherwise Source is an expression over the name
// `properties`. The Starlark layer compiles and
// runs it in a sandbox with a step budget; any error means "not on this
// engine", any truthy value means yes.
type Depend struct {
	Source string `json:"source"`
	IsFunc bool   `json:"is_func,omitempty"`
}

// Options are the options every task takes (seed: BaseTask's arguments,
// plus Timeout).
type Options struct {
	// ClearBefore resets the engine (namespace and properties) before the
	// task runs; if the reset fails the task body is skipped and the attempt
	// fails.
	ClearBefore bool `json:"clear_before,omitempty"`
	// ClearAfter resets the engine after the task, whether it succeeded or
	// failed.
	ClearAfter bool `json:"clear_after,omitempty"`
	// Retries is how many times a failed attempt is run again (so up to
	// Retries+1 attempts) before the recovery task, if any, is tried. Must be
	// >= 0.
	Retries int `json:"retries,omitempty"`
	// Recovery runs, under the same task id, after every attempt of this
	// task has failed; it has its own options, retries and recovery task.
	Recovery *Task `json:"recovery,omitempty"`
	// Depend restricts the engines the task may run on; nil: any engine.
	Depend *Depend `json:"depend,omitempty"`
	// Timeout limits the running time of one attempt: the attempt is stopped
	// and fails with TaskTimeout. 0: no limit. Must be >= 0. Beyond the
	// seed. In JSON: nanoseconds.
	Timeout time.Duration `json:"timeout,omitempty"`
	// StepBudget limits the Starlark interpreter steps of each run of this
	// task on an engine (its function, its code, its clear steps); 0: the
	// engine's own budget (engine.Config.StepBudget). A guard against
	// runaways, beyond the seed.
	StepBudget uint64 `json:"step_budget,omitempty"`
}

// Task is a task definition: plain data that can be copied (Clone) and
// serialized. Only the fields of its Kind may be set; Validate checks that.
// Build tasks with NewMapTask, NewStarlarkMapTask, NewStringTask,
// NewCommandTask and NewShellTask, which convert and validate their input
// with the seed's messages; a Task decoded from the wire or written as a
// literal should be checked with Validate.
//
// Values in Args, Kwargs and Push must be plain data (see ValidateValue).
type Task struct {
	Kind TaskKind `json:"kind"`

	// FuncName names the function of a map task: a Go function registered
	// on the engines under this name when FuncSource is empty, otherwise the
	// Starlark function defined by FuncSource.
	FuncName string `json:"func_name,omitempty"`
	// FuncSource is the Starlark source of a map task's function, run with
	// the engine's namespace as its globals (as the seed). Empty for a
	// registered Go function.
	FuncSource string `json:"func_source,omitempty"`
	// Args are a map task's positional arguments.
	Args []any `json:"args,omitempty"`
	// Kwargs are a map task's keyword arguments.
	Kwargs map[string]any `json:"kwargs,omitempty"`

	// Code is a string task's Starlark code.
	Code string `json:"code,omitempty"`
	// Push holds the values a string task puts into the engine's namespace
	// before running Code.
	Push map[string]any `json:"push,omitempty"`
	// Pull names the values a string task brings back, in order.
	Pull []string `json:"pull,omitempty"`
	// PullSingle records that pull was given as one name rather than a
	// sequence. The result is the same either way (the seed's one-element
	// rule: a one-name pull gives {name: value}); it is kept so that the
	// task reads back as it was written.
	PullSingle bool `json:"pull_single,omitempty"`

	// Argv is a command task's program and arguments (no shell).
	Argv []string `json:"argv,omitempty"`
	// Shell is a command task's shell line, run with /bin/sh -c.
	Shell string `json:"shell,omitempty"`

	Options
}

// NewMapTask returns a map task calling the Go function registered on the
// engines under name fn. args may be nil (no arguments), a []any or any
// other slice or array (converted to []any), else the error is the seed's
// TypeError "a task args must be a list or tuple"; kwargs may be nil, a
// map[string]any or any other map with string keys, else "a task kwargs must
// be a dict". An empty fn gives "a task function must be a FunctionType".
// The task refers to args and kwargs as given (a []any or map[string]any is
// not copied); Clone copies.
func NewMapTask(fn string, args, kwargs any, opts Options) (*Task, error) {
	return newMapTask("", fn, args, kwargs, opts)
}

// NewStarlarkMapTask returns a map task calling the Starlark function name
// defined by source. The Starlark layer produces source and name from a
// Starlark function value and refuses closures over local variables. args,
// kwargs and errors are as for NewMapTask; an empty source or name gives "a
// task function must be a FunctionType".
func NewStarlarkMapTask(source, name string, args, kwargs any, opts Options) (*Task, error) {
	if source == "" {
		return nil, NewTypeError(MsgTaskFunction)
	}
	return newMapTask(source, name, args, kwargs, opts)
}

func newMapTask(source, name string, args, kwargs any, opts Options) (*Task, error) {
	if name == "" {
		return nil, NewTypeError(MsgTaskFunction)
	}
	a, ok := toList(args)
	if !ok {
		return nil, NewTypeError(MsgTaskArgs)
	}
	kw, ok := toDict(kwargs)
	if !ok {
		return nil, NewTypeError(MsgTaskKwargs)
	}
	t := &Task{Kind: MapTask, FuncName: name, FuncSource: source, Args: a, Kwargs: kw, Options: opts}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// NewStringTask returns a string task: push the values of push into the
// engine's namespace, run code there, pull the named values back. push may
// be nil or a map with string keys, else the seed's TypeError "push must be
// a dict". pull may be nil (nothing), one name (a string: PullSingle), or a
// []string, or a slice of strings in any other form, else "pull must be str
// or a sequence of strs" (the seed checks the elements only when it pulls;
// drover checks them here).
func NewStringTask(code string, push, pull any, opts Options) (*Task, error) {
	names, single, err := ParsePull(pull)
	if err != nil {
		return nil, err
	}
	p, ok := toDict(push)
	if !ok {
		return nil, NewTypeError(MsgPush)
	}
	t := &Task{Kind: StringTask, Code: code, Push: p, Pull: names, PullSingle: single, Options: opts}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// ParsePull converts the seed's forms of pull: nil → no names; a string →
// that one name (single); a []string, []any or other slice of strings → the
// names (nil when there are none). Anything else is the TypeError "pull must be str or a sequence of
// strs".
func ParsePull(pull any) (names []string, single bool, err error) {
	switch p := pull.(type) {
	case nil:
		return nil, false, nil
	case string:
		return []string{p}, true, nil
	case []string:
		return append([]string(nil), p...), false, nil // nil when empty
	}
	v := reflect.ValueOf(pull)
	if (v.Kind() != reflect.Slice && v.Kind() != reflect.Array) || v.Type().Elem().Kind() == reflect.Uint8 {
		return nil, false, NewTypeError(MsgPull)
	}
	if v.Len() == 0 {
		return nil, false, nil
	}
	names = make([]string, v.Len())
	for i := range names {
		e := v.Index(i)
		for e.Kind() == reflect.Interface && !e.IsNil() {
			e = e.Elem()
		}
		if e.Kind() != reflect.String {
			return nil, false, NewTypeError(MsgPull)
		}
		names[i] = e.String()
	}
	return names, false, nil
}

// NewCommandTask returns a command task running argv (no shell). argv must
// not be empty and argv[0] must not be empty.
func NewCommandTask(argv []string, opts Options) (*Task, error) {
	t := &Task{Kind: CommandTask, Argv: append([]string(nil), argv...), Options: opts}
	if len(argv) == 0 {
		t.Argv = nil
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// NewShellTask returns a command task running line with /bin/sh -c. line
// must not be blank.
func NewShellTask(line string, opts Options) (*Task, error) {
	t := &Task{Kind: CommandTask, Shell: line, Options: opts}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// toList converts the seed's accepted forms of args: nil → empty, any slice
// or array except []byte (a byte string is not a list) → []any.
func toList(v any) ([]any, bool) {
	switch a := v.(type) {
	case nil:
		return []any{}, true
	case []any:
		return a, true
	}
	rv := reflect.ValueOf(v)
	if (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) || rv.Type().Elem().Kind() == reflect.Uint8 {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// toDict converts the seed's accepted forms of kwargs and push: nil → empty,
// any map with string keys → map[string]any.
func toDict(v any) (map[string]any, bool) {
	switch d := v.(type) {
	case nil:
		return map[string]any{}, true
	case map[string]any:
		return d, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	out := make(map[string]any, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		out[it.Key().String()] = it.Value().Interface()
	}
	return out, true
}

// Validate checks t: its kind, that only the fields of its kind are set,
// the seed's rules for those fields (with the seed's messages where they
// apply), that every value is plain data (ValidateValue), the options
// (Retries and Timeout >= 0, a non-blank Depend source), and the recovery
// chain. A recovery chain may loop back (the seed allows it; see Clone). The
// errors are *TaskError of kind InvalidArgument; an error in a recovery task
// is wrapped as "recovery_task: ...".
func (t *Task) Validate() error {
	if t == nil {
		return NewNotATask()
	}
	seen := map[*Task]bool{}
	prefix := ""
	for cur := t; cur != nil && !seen[cur]; cur = cur.Recovery {
		seen[cur] = true
		if err := cur.validateOne(); err != nil {
			if prefix != "" {
				return fmt.Errorf("%s%w", prefix, err)
			}
			return err
		}
		prefix += "recovery_task: "
	}
	return nil
}

// validateOne checks t's own fields (not its recovery task).
func (t *Task) validateOne() error {
	var set []string // fields of other kinds that are set
	check := func(ok bool, name string) {
		if ok {
			set = append(set, name)
		}
	}
	switch t.Kind {
	case MapTask:
		if t.FuncName == "" {
			return NewTypeError(MsgTaskFunction)
		}
		for i, a := range t.Args {
			if err := validateValue("args["+strconv.Itoa(i)+"]", a, 0); err != nil {
				return err
			}
		}
		if err := validateDict("kwargs", t.Kwargs); err != nil {
			return err
		}
	case StringTask:
		if t.PullSingle && len(t.Pull) != 1 {
			return NewTypeError(MsgPull)
		}
		if err := validateDict("push", t.Push); err != nil {
			return err
		}
	case CommandTask:
		switch {
		case len(t.Argv) == 0 && strings.TrimSpace(t.Shell) == "":
			return NewValueError("a command task needs argv or a shell line")
		case len(t.Argv) > 0 && t.Shell != "":
			return NewValueError("a command task takes argv or a shell line, not both")
		case len(t.Argv) > 0 && t.Argv[0] == "":
			return NewValueError("a command task's argv[0] must not be empty")
		}
	default:
		return NewValueError(fmt.Sprintf("invalid task kind %d", uint8(t.Kind)))
	}
	if t.Kind != MapTask {
		check(t.FuncName != "", "func_name")
		check(t.FuncSource != "", "func_source")
		check(t.Args != nil, "args")
		check(t.Kwargs != nil, "kwargs")
	}
	if t.Kind != StringTask {
		check(t.Code != "", "code")
		check(t.Push != nil, "push")
		check(t.Pull != nil, "pull")
		check(t.PullSingle, "pull_single")
	}
	if t.Kind != CommandTask {
		check(t.Argv != nil, "argv")
		check(t.Shell != "", "shell")
	}
	if len(set) > 0 {
		return NewValueError(fmt.Sprintf("a %s task cannot have %s", t.Kind, strings.Join(set, ", ")))
	}
	if t.Retries < 0 {
		return NewValueError(fmt.Sprintf("retries must be >= 0, got %d", t.Retries))
	}
	if t.Timeout < 0 {
		return NewValueError(fmt.Sprintf("timeout must be >= 0, got %v", t.Timeout))
	}
	if t.Depend != nil && strings.TrimSpace(t.Depend.Source) == "" {
		return NewValueError("depend must not be empty")
	}
	return nil
}

// Clone returns a deep copy of t: values, slices and maps are copied, so
// the copy shares nothing mutable with t (Run takes a copy: the caller's
// task is not changed). Clone(nil) is nil.
//
// The recovery chain is copied as a finite chain. Where t's chain loops
// back, the copy ends the way the seed's loop guard ends it (a task that has
// handed over to its recovery task gets retries = -1 and can no longer be
// one): a task that is its own recovery task runs once more without retries
// (A.Recovery = A: A's attempts, then one more attempt of A); a recovery
// task that already ran in the chain ends it (A → B → A: A, then B, then
// B's failure is final). A recovery task with negative Retries ends the
// chain too (the seed's "retries > -1" test). The copy therefore behaves
// exactly as the original would, and can be serialized.
func (t *Task) Clone() *Task {
	if t == nil {
		return nil
	}
	root := t.cloneOne()
	var seen map[*Task]bool
	for src, dst := t, root; src.Recovery != nil; {
		next := src.Recovery
		if next == src {
			c := next.cloneOne()
			c.Retries = 0
			dst.Recovery = c
			break
		}
		if seen == nil {
			seen = map[*Task]bool{t: true}
		}
		if seen[next] || next.Retries < 0 {
			break
		}
		seen[next] = true
		c := next.cloneOne()
		dst.Recovery = c
		src, dst = next, c
	}
	return root
}

// cloneOne deep-copies t's own fields; the copy has no recovery task.
func (t *Task) cloneOne() *Task {
	c := *t
	c.Recovery = nil
	if t.Args != nil {
		c.Args = make([]any, len(t.Args))
		for i, a := range t.Args {
			c.Args[i] = cloneValue(a, 0)
		}
	}
	c.Kwargs = cloneDict(t.Kwargs)
	c.Push = cloneDict(t.Push)
	if t.Pull != nil {
		c.Pull = append(make([]string, 0, len(t.Pull)), t.Pull...)
	}
	if t.Argv != nil {
		c.Argv = append(make([]string, 0, len(t.Argv)), t.Argv...)
	}
	if t.Depend != nil {
		d := *t.Depend
		c.Depend = &d
	}
	return &c
}
