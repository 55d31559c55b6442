package script

// The task constructors MapTask, StringTask and CommandTask (the seed's
// kernel.task classes) and the task values they return.

import (
	"fmt"
	"math"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/drover-dev/drover/drovertype"
)

// taskValue is a task: an immutable drovertype.Task plus what the Starlark
// program gave, for reading back and printing. It is safe for concurrent
// use (nothing in it changes after construction).
type taskValue struct {
	t        *drovertype.Task
	fn       starlark.Value // map task: the function, or the Go function's name
	depend   starlark.Value // as given: None, a function or a string
	recovery starlark.Value // None or a *taskValue
}

var (
	_ starlark.HasAttrs   = (*taskValue)(nil)
	_ starlark.Comparable = (*taskValue)(nil)
)

func (v *taskValue) Type() string {
	switch v.t.Kind {
	case drovertype.MapTask:
		return "MapTask"
	case drovertype.StringTask:
		return "StringTask"
	}
	return "CommandTask"
}

func (v *taskValue) Freeze()               {}
func (v *taskValue) Truth() starlark.Bool  { return true }
func (v *taskValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: %s", v.Type()) }

// CompareSameType: tasks are equal when they are the same task.
func (v *taskValue) CompareSameType(op syntax.Token, y starlark.Value, _ int) (bool, error) {
	switch op {
	case syntax.EQL:
		return v == y.(*taskValue), nil
	case syntax.NEQ:
		return v != y.(*taskValue), nil
	}
	return false, fmt.Errorf("%s %s %s not implemented", v.Type(), op, y.Type())
}

// String returns the task as a call of its constructor, with the options
// that are not the defaults: MapTask(square, args=[3], retries=2).
func (v *taskValue) String() string {
	var parts []string
	t := v.t
	switch t.Kind {
	case drovertype.MapTask:
		if fn, ok := v.fn.(*starlark.Function); ok {
			parts = append(parts, fn.Name())
		} else {
			parts = append(parts, v.fn.String())
		}
		if len(t.Args) > 0 {
			parts = append(parts, "args="+v.attrString("args"))
		}
		if len(t.Kwargs) > 0 {
			parts = append(parts, "kwargs="+v.attrString("kwargs"))
		}
	case drovertype.StringTask:
		parts = append(parts, starlark.String(t.Code).String())
		if len(t.Pull) > 0 {
			parts = append(parts, "pull="+v.attrString("pull"))
		}
		if len(t.Push) > 0 {
			parts = append(parts, "push="+v.attrString("push"))
		}
	case drovertype.CommandTask:
		parts = append(parts, v.attrString("cmd"))
	}
	parts = append(parts, optionStrings(t.Options, v.depend, v.recovery)...)
	return v.Type() + "(" + strings.Join(parts, ", ") + ")"
}

// optionStrings returns the options that are not the defaults, as keyword
// arguments: retries=2, depend=need_gpu.
func optionStrings(o drovertype.Options, depend, recovery starlark.Value) []string {
	var parts []string
	if o.ClearBefore {
		parts = append(parts, "clear_before=True")
	}
	if o.ClearAfter {
		parts = append(parts, "clear_after=True")
	}
	if o.Retries != 0 {
		parts = append(parts, fmt.Sprintf("retries=%d", o.Retries))
	}
	if recovery != starlark.None {
		parts = append(parts, "recovery_task="+recovery.String())
	}
	if depend != starlark.None {
		d := depend.String()
		if fn, ok := depend.(*starlark.Function); ok {
			d = fn.Name()
		}
		parts = append(parts, "depend="+d)
	}
	if o.Timeout != 0 {
		parts = append(parts, "timeout="+starlark.Float(o.Timeout.Seconds()).String())
	}
	if o.StepBudget != 0 {
		parts = append(parts, fmt.Sprintf("step_budget=%d", o.StepBudget))
	}
	return parts
}

func (v *taskValue) attrString(name string) string {
	x, err := v.Attr(name)
	if err != nil || x == nil {
		return "?"
	}
	return x.String()
}

var (
	taskOptionAttrs  = []string{"clear_after", "clear_before", "depend", "recovery_task", "retries", "step_budget", "timeout"}
	mapTaskAttrs     = append([]string{"args", "function", "kwargs", "source"}, taskOptionAttrs...)
	stringTaskAttrs  = append([]string{"expression", "pull", "push"}, taskOptionAttrs...)
	commandTaskAttrs = append([]string{"cmd"}, taskOptionAttrs...)
)

func (v *taskValue) AttrNames() []string {
	switch v.t.Kind {
	case drovertype.MapTask:
		return mapTaskAttrs
	case drovertype.StringTask:
		return stringTaskAttrs
	}
	return commandTaskAttrs
}

// Attr returns a field; lists and dicts are new copies (a task cannot be
// changed).
func (v *taskValue) Attr(name string) (starlark.Value, error) {
	t := v.t
	switch name {
	case "clear_before":
		return starlark.Bool(t.ClearBefore), nil
	case "clear_after":
		return starlark.Bool(t.ClearAfter), nil
	case "retries":
		return starlark.MakeInt(t.Retries), nil
	case "recovery_task":
		return v.recovery, nil
	case "depend":
		return v.depend, nil
	case "timeout":
		if t.Timeout == 0 {
			return starlark.None, nil
		}
		return starlark.Float(t.Timeout.Seconds()), nil
	case "step_budget":
		if t.StepBudget == 0 {
			return starlark.None, nil
		}
		return starlark.MakeUint64(t.StepBudget), nil
	}
	switch t.Kind {
	case drovertype.MapTask:
		switch name {
		case "function":
			return v.fn, nil
		case "args":
			if t.Args == nil {
				return starlark.NewList(nil), nil
			}
			return FromTaskData(t.Args)
		case "kwargs":
			if t.Kwargs == nil {
				return starlark.NewDict(0), nil
			}
			return FromTaskData(t.Kwargs)
		case "source":
			if t.FuncSource == "" {
				return starlark.None, nil
			}
			return starlark.String(t.FuncSource), nil
		}
	case drovertype.StringTask:
		switch name {
		case "expression":
			return starlark.String(t.Code), nil
		case "pull":
			if t.PullSingle && len(t.Pull) == 1 {
				return starlark.String(t.Pull[0]), nil
			}
			l := make([]starlark.Value, len(t.Pull))
			for i, p := range t.Pull {
				l[i] = starlark.String(p)
			}
			return starlark.NewList(l), nil
		case "push":
			if t.Push == nil {
				return starlark.NewDict(0), nil
			}
			return FromTaskData(t.Push)
		}
	case drovertype.CommandTask:
		if name == "cmd" {
			if t.Shell != "" {
				return starlark.String(t.Shell), nil
			}
			l := make([]starlark.Value, len(t.Argv))
			for i, a := range t.Argv {
				l[i] = starlark.String(a)
			}
			return starlark.NewList(l), nil
		}
	}
	return nil, nil
}

// taskOptions are the keyword arguments every task constructor takes.
type taskOptions struct {
	clearBefore, clearAfter starlark.Value
	retries                 starlark.Value
	recovery                starlark.Value
	depend                  starlark.Value
	timeout                 starlark.Value
	stepBudget              starlark.Value
}

func newTaskOptions() *taskOptions {
	return &taskOptions{
		clearBefore: starlark.False, clearAfter: starlark.False,
		retries: starlark.MakeInt(0), recovery: starlark.None,
		depend: starlark.None, timeout: starlark.None, stepBudget: starlark.None,
	}
}

// pairs returns the UnpackArgs pairs of the options, after prefix.
func (o *taskOptions) pairs(prefix ...any) []any {
	return append(prefix,
		"clear_before?", &o.clearBefore,
		"clear_after?", &o.clearAfter,
		"retries?", &o.retries,
		"recovery_task?", &o.recovery,
		"depend?", &o.depend,
		"timeout?", &o.timeout,
		"step_budget?", &o.stepBudget,
	)
}

// options converts the options, checking them.
func (o *taskOptions) options(s *Session, fname string) (drovertype.Options, error) {
	var opts drovertype.Options
	opts.ClearBefore = bool(o.clearBefore.Truth())
	opts.ClearAfter = bool(o.clearAfter.Truth())
	r, err := starlark.AsInt32(o.retries)
	if err != nil || r < 0 {
		return opts, newError(KindValueError, nil, "%s: retries must be a non-negative int, not %s", fname, o.retries)
	}
	opts.Retries = r
	switch rt := o.recovery.(type) {
	case starlark.NoneType:
	case *taskValue:
		opts.Recovery = rt.t
	default:
		return opts, newError(KindTypeError, nil, "%s: recovery_task must be a task (MapTask, StringTask or CommandTask) or None, not %s", fname, o.recovery.Type())
	}
	d, err := s.dependOf(fname, o.depend)
	if err != nil {
		return opts, err
	}
	opts.Depend = d
	if o.timeout != starlark.None {
		secs, ok := starlark.AsFloat(o.timeout)
		if !ok {
			return opts, newError(KindTypeError, nil, "%s: timeout must be a number of seconds or None, not %s", fname, o.timeout.Type())
		}
		if secs < 0 || math.IsNaN(secs) {
			return opts, newError(KindValueError, nil, "%s: timeout must not be negative, got %s", fname, o.timeout)
		}
		opts.Timeout = time.Duration(min(secs, 1e9) * float64(time.Second))
		if opts.Timeout == 0 && secs > 0 {
			opts.Timeout = 1 // a positive timeout below a nanosecond
		}
	}
	if o.stepBudget != starlark.None {
		n, ok := o.stepBudget.(starlark.Int)
		var b uint64
		if ok {
			b, ok = n.Uint64()
		}
		if !ok || b == 0 {
			return opts, newError(KindValueError, nil, "%s: step_budget must be a positive int or None, not %s", fname, o.stepBudget)
		}
		opts.StepBudget = b
	}
	return opts, nil
}

// dependOf converts a depend argument: None, a Starlark function (shipped
// by its source) or a string (an expression over properties). It compiles
// it once, so that a bad constraint is reported here rather than by run.
func (s *Session) dependOf(fname string, v starlark.Value) (*drovertype.Depend, error) {
	var d *drovertype.Depend
	switch x := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.String:
		d = &drovertype.Depend{Source: string(x)}
	case *starlark.Function:
		sh, err := s.shipFunction(x)
		if err != nil {
			return nil, newError(KindOf(err), err, "%s: depend: %s", fname, messageOf(err))
		}
		d = &drovertype.Depend{Source: sh.source, IsFunc: true}
	default:
		return nil, newError(KindTypeError, nil,
			"%s: depend must be a function (def or lambda) of the engine's properties, or a string expression over `properties`, not %s", fname, v.Type())
	}
	if strings.TrimSpace(d.Source) == "" {
		return nil, newError(KindValueError, nil, "%s: depend must not be blank", fname)
	}
	if err := s.checkDepend(*d); err != nil {
		return nil, err
	}
	return d, nil
}

// maxCheckedDepends bounds the session's cache of checked depend sources.
const maxCheckedDepends = 1024

// checkDepend compiles d once per distinct source, so that making many
// tasks with the same depend costs one compilation.
func (s *Session) checkDepend(d drovertype.Depend) error {
	s.dependMu.Lock()
	err, ok := s.depends[d]
	s.dependMu.Unlock()
	if ok {
		return err
	}
	if _, cerr := CompileDepend(&d); cerr != nil {
		err = taskError(cerr)
	}
	s.dependMu.Lock()
	if s.depends == nil || len(s.depends) >= maxCheckedDepends {
		s.depends = make(map[drovertype.Depend]error)
	}
	s.depends[d] = err
	s.dependMu.Unlock()
	return err
}

// mapTaskOf returns a map task calling fn (a Starlark function, or the name
// of a registered Go function) with args and kwargs (Go values).
func (s *Session) mapTaskOf(fn starlark.Value, args []any, kwargs map[string]any, opts drovertype.Options) (*drovertype.Task, error) {
	var (
		t   *drovertype.Task
		err error
	)
	switch f := fn.(type) {
	case *starlark.Function:
		sh, serr := s.shipFunction(f)
		if serr != nil {
			return nil, serr
		}
		t, err = drovertype.NewStarlarkMapTask(sh.source, sh.name, args, kwargs, opts)
	case starlark.String:
		t, err = drovertype.NewMapTask(string(f), args, kwargs, opts)
	default:
		return nil, newError(KindTypeError, nil, "%s", drovertype.MsgTaskFunction)
	}
	if err != nil {
		return nil, taskError(err)
	}
	return t, nil
}

// mapTask implements MapTask(function, args=None, kwargs=None, **options).
func (s *Session) mapTask(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var fn starlark.Value
	var fargs, fkwargs starlark.Value = starlark.None, starlark.None
	o := newTaskOptions()
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, o.pairs("function", &fn, "args?", &fargs, "kwargs?", &fkwargs)...); err != nil {
		return nil, typeError(err)
	}
	opts, err := o.options(s, b.Name())
	if err != nil {
		return nil, err
	}
	switch fn.(type) {
	case *starlark.Function, starlark.String:
	default:
		return nil, newError(KindTypeError, nil, "%s", drovertype.MsgTaskFunction)
	}
	var a []any
	switch fargs.(type) {
	case starlark.NoneType:
	case *starlark.List, starlark.Tuple:
		x, err := ToTaskData(fargs)
		if err != nil {
			return nil, newError(KindTypeError, err, "%s: args%v", b.Name(), err)
		}
		a = x.([]any)
	default:
		return nil, newError(KindTypeError, nil, "%s", drovertype.MsgTaskArgs)
	}
	var kw map[string]any
	switch d := fkwargs.(type) {
	case starlark.NoneType:
	case *starlark.Dict:
		if err := stringKeys(b.Name(), "kwargs", d); err != nil {
			return nil, err
		}
		x, err := ToTaskData(d)
		if err != nil {
			return nil, newError(KindTypeError, err, "%s: kwargs%v", b.Name(), err)
		}
		kw = x.(map[string]any)
	default:
		return nil, newError(KindTypeError, nil, "%s", drovertype.MsgTaskKwargs)
	}
	t, err := s.mapTaskOf(fn, a, kw, opts)
	if err != nil {
		return nil, err
	}
	return &taskValue{t: t, fn: fn, depend: o.depend, recovery: o.recovery}, nil
}

// stringKeys checks that every key of d is a string.
func stringKeys(fname, what string, d *starlark.Dict) error {
	for _, k := range d.Keys() {
		if _, ok := k.(starlark.String); !ok {
			return newError(KindTypeError, nil, "%s: %s keys must be strings, not %s (%s)", fname, what, k.Type(), k)
		}
	}
	return nil
}

// stringTask implements StringTask(expression, pull=None, push=None,
// **options).
func (s *Session) stringTask(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var expr starlark.Value
	var pull, push starlark.Value = starlark.None, starlark.None
	o := newTaskOptions()
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, o.pairs("expression", &expr, "pull?", &pull, "push?", &push)...); err != nil {
		return nil, typeError(err)
	}
	// The seed validates the expression, pull and push first.
	code, ok := expr.(starlark.String)
	if !ok {
		return nil, newError(KindTypeError, nil, "%s", drovertype.MsgTaskExpression)
	}
	var pl any
	switch p := pull.(type) {
	case starlark.NoneType:
	case starlark.String:
		pl = string(p)
	case *starlark.List, starlark.Tuple:
		n := p.(starlark.Indexable)
		names := make([]string, n.Len())
		for i := range names {
			s, ok := n.Index(i).(starlark.String)
			if !ok {
				return nil, newError(KindTypeError, nil, "%s", drovertype.MsgPull)
			}
			names[i] = string(s)
		}
		pl = names
	default:
		return nil, newError(KindTypeError, nil, "%s", drovertype.MsgPull)
	}
	var ps map[string]any
	switch d := push.(type) {
	case starlark.NoneType:
	case *starlark.Dict:
		if err := stringKeys(b.Name(), "push", d); err != nil {
			return nil, err
		}
		x, err := ToTaskData(d)
		if err != nil {
			return nil, newError(KindTypeError, err, "%s: push%v", b.Name(), err)
		}
		ps = x.(map[string]any)
	default:
		return nil, newError(KindTypeError, nil, "%s", drovertype.MsgPush)
	}
	opts, err := o.options(s, b.Name())
	if err != nil {
		return nil, err
	}
	t, err := drovertype.NewStringTask(string(code), ps, pl, opts)
	if err != nil {
		return nil, taskError(err)
	}
	return &taskValue{t: t, depend: o.depend, recovery: o.recovery}, nil
}

// commandTask implements CommandTask(cmd, **options): cmd is a list of
// strings (argv, no shell) or a string (a /bin/sh -c line).
func (s *Session) commandTask(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var cmd starlark.Value
	o := newTaskOptions()
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, o.pairs("cmd", &cmd)...); err != nil {
		return nil, typeError(err)
	}
	opts, err := o.options(s, b.Name())
	if err != nil {
		return nil, err
	}
	var t *drovertype.Task
	switch c := cmd.(type) {
	case starlark.String:
		t, err = drovertype.NewShellTask(string(c), opts)
	case *starlark.List, starlark.Tuple:
		n := c.(starlark.Indexable)
		argv := make([]string, n.Len())
		for i := range argv {
			s, ok := n.Index(i).(starlark.String)
			if !ok {
				return nil, newError(KindTypeError, nil, "%s: cmd[%d] must be a string, not %s", b.Name(), i, n.Index(i).Type())
			}
			argv[i] = string(s)
		}
		t, err = drovertype.NewCommandTask(argv, opts)
	default:
		return nil, newError(KindTypeError, nil, "%s: cmd must be a list of strings (argv) or a string (a shell line), not %s", b.Name(), cmd.Type())
	}
	if err != nil {
		return nil, taskError(err)
	}
	return &taskValue{t: t, depend: o.depend, recovery: o.recovery}, nil
}
