package script

import (
	"fmt"
	"slices"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/drover-dev/drover/drovertype"
)

// DependStepBudget is the number of Starlark steps one evaluation of a
// depend predicate may take (about a millisecond of work). Past it the
// evaluation fails, which means "not on this engine": the controller's loop
// evaluates predicates, so a runaway one must not stall it.
const DependStepBudget = 100_000

// dependFile is the file name of depend code in error messages.
const dependFile = "<depend>"

// CompileDepend compiles a task's depend constraint (the seed's depend) into
// a predicate over an engine's properties; it is the controller's
// DependCompiler for Starlark (drover.Config.Depend, controller.Config.Depend).
//
// With d.IsFunc, d.Source defines a function of one argument, called with
// the properties: either an expression whose value is the function
// ("lambda p: p.get('gpu', False)"), or statements defining it with def
// (the predicate is then the function of the last def statement, which is
// how the Starlark layer ships a def function: MapTask(..., depend=f)).
// Otherwise d.Source is an expression over the name `properties`
// ("properties['mem'] >= 16").
//
// The code runs in a sandbox: the Starlark built-ins only (print output is
// discarded), none of the session's globals, no jobs, no tc, no recursion,
// and at most DependStepBudget steps per evaluation. The properties are a
// read-only dict-like value (p["k"], p.get("k", default), "k" in p, len(p),
// keys(), values(), items(), iteration); its values are copies.
//
// Compilation errors (syntax, an undefined name, a source that does not
// define a function) are returned, of kind InvalidArgument with Python type
// SyntaxError or TypeError. The predicate returns true when the evaluation
// gives a truthy value, and false for anything else: a falsy value, any
// error (a missing property, a type error, the step budget), a panic. It is
// safe for concurrent use, does not modify the properties and keeps no
// reference to them.
func CompileDepend(d *drovertype.Depend) (func(props map[string]any) bool, error) {
	if d == nil {
		return nil, dependError("TypeError", "depend: no constraint (nil)")
	}
	opts := Dialect()
	opts.Recursion = false
	th := newDependThread()
	var fn starlark.Value
	if d.IsFunc {
		v, err := compileDependFunc(opts, th, d.Source)
		if err != nil {
			return nil, err
		}
		fn = v
	} else {
		expr, err := opts.ParseExpr(dependFile, d.Source, 0)
		if err != nil {
			return nil, dependError("SyntaxError", "depend: "+err.Error())
		}
		pos := syntax.Start(expr)
		lambda := &syntax.LambdaExpr{
			Lambda: pos,
			Params: []syntax.Expr{&syntax.Ident{NamePos: pos, Name: "properties"}},
			Body:   expr,
		}
		v, err := starlark.EvalExprOptions(opts, th, lambda, nil)
		if err != nil {
			return nil, dependError("SyntaxError", "depend: "+err.Error())
		}
		fn = v
	}
	fn.Freeze()
	return func(props map[string]any) (ok bool) {
		defer func() {
			if recover() != nil {
				ok = false
			}
		}()
		pv := &propsView{m: props}
		defer func() { pv.m = nil }() // the value must not outlive the call
		v, err := starlark.Call(newDependThread(), fn, starlark.Tuple{pv}, nil)
		return err == nil && bool(v.Truth())
	}, nil
}

// compileDependFunc returns the function defined by src (see CompileDepend).
func compileDependFunc(opts *syntax.FileOptions, th *starlark.Thread, src string) (starlark.Value, error) {
	var fn starlark.Value
	if expr, err := opts.ParseExpr(dependFile, src, 0); err == nil {
		v, err := starlark.EvalExprOptions(opts, th, expr, nil)
		if err != nil {
			return nil, dependError("SyntaxError", "depend: "+err.Error())
		}
		fn = v
	} else {
		f, perr := opts.Parse(dependFile, src, 0)
		if perr != nil {
			return nil, dependError("SyntaxError", "depend: "+perr.Error())
		}
		var last string
		syntax.Walk(f, func(n syntax.Node) bool {
			if def, ok := n.(*syntax.DefStmt); ok {
				last = def.Name.Name
				return false // nested defs are not globals
			}
			return true
		})
		prog, err := starlark.FileProgram(f, func(string) bool { return false })
		if err != nil {
			return nil, dependError("SyntaxError", "depend: "+err.Error())
		}
		globals, err := prog.Init(th, nil)
		if err != nil {
			return nil, dependError("SyntaxError", "depend: "+err.Error())
		}
		if last == "" || globals[last] == nil {
			return nil, dependError("TypeError", "depend: the source defines no function (want a def, or an expression whose value is a function)")
		}
		fn = globals[last]
	}
	c, ok := fn.(starlark.Callable)
	if !ok {
		return nil, dependError("TypeError", fmt.Sprintf("depend: want a function of one argument, got a %s", fn.Type()))
	}
	if f, ok := c.(*starlark.Function); ok {
		if f.NumFreeVars() > 0 {
			return nil, dependError("TypeError", "depend: "+closureError(f).(*Error).Msg)
		}
		if f.NumParams() == 0 && !f.HasVarargs() {
			return nil, dependError("TypeError", fmt.Sprintf("depend: %s takes no argument; it is called with the engine's properties", f.Name()))
		}
	}
	return c, nil
}

func dependError(typ, msg string) error {
	return drovertype.NewTaskError(drovertype.InvalidArgument, typ, msg)
}

// newDependThread returns a sandbox thread for depend code.
func newDependThread() *starlark.Thread {
	th := &starlark.Thread{Name: "depend", Print: func(*starlark.Thread, string) {}}
	th.SetMaxExecutionSteps(DependStepBudget)
	return th
}

// propsView is an engine's properties as depend code sees them: a read-only
// dict-like value over the controller's copy, valid during one call only.
// Values are converted (copied) when read.
type propsView struct {
	m map[string]any // nil once the call has returned
}

var (
	_ starlark.Mapping  = (*propsView)(nil)
	_ starlark.Iterable = (*propsView)(nil)
	_ starlark.Sequence = (*propsView)(nil)
	_ starlark.HasAttrs = (*propsView)(nil)
)

func (p *propsView) String() string {
	d, err := p.dict()
	if err != nil {
		return "properties(?)"
	}
	return d.String()
}
func (p *propsView) Type() string          { return "properties" }
func (p *propsView) Freeze()               {}
func (p *propsView) Truth() starlark.Bool  { return len(p.m) > 0 }
func (p *propsView) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: properties") }
func (p *propsView) Len() int              { return len(p.m) }

func (p *propsView) keys() []string {
	keys := make([]string, 0, len(p.m))
	for k := range p.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (p *propsView) value(k string) (starlark.Value, error) {
	v, err := FromTaskData(p.m[k])
	if err != nil {
		return nil, err
	}
	v.Freeze()
	return v, nil
}

func (p *propsView) dict() (*starlark.Dict, error) {
	d := starlark.NewDict(len(p.m))
	for _, k := range p.keys() {
		v, err := p.value(k)
		if err != nil {
			return nil, err
		}
		d.SetKey(starlark.String(k), v)
	}
	return d, nil
}

// Get implements p[k] and `k in p`.
func (p *propsView) Get(k starlark.Value) (starlark.Value, bool, error) {
	s, ok := k.(starlark.String)
	if !ok {
		return nil, false, nil
	}
	if _, ok := p.m[string(s)]; !ok {
		return nil, false, nil
	}
	v, err := p.value(string(s))
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

func (p *propsView) Iterate() starlark.Iterator {
	keys := p.keys()
	vals := make([]starlark.Value, len(keys))
	for i, k := range keys {
		vals[i] = starlark.String(k)
	}
	return starlark.Tuple(vals).Iterate()
}

var propsViewMethods = []string{"get", "items", "keys", "values"}

func (p *propsView) AttrNames() []string { return propsViewMethods }

func (p *propsView) Attr(name string) (starlark.Value, error) {
	if !slices.Contains(propsViewMethods, name) {
		return nil, nil
	}
	return starlark.NewBuiltin(name, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if name == "get" {
			var k, dflt starlark.Value = nil, starlark.None
			if err := starlark.UnpackPositionalArgs("get", args, kwargs, 1, &k, &dflt); err != nil {
				return nil, err
			}
			v, found, err := p.Get(k)
			if err != nil {
				return nil, err
			}
			if !found {
				return dflt, nil
			}
			return v, nil
		}
		if err := starlark.UnpackPositionalArgs(name, args, kwargs, 0); err != nil {
			return nil, err
		}
		d, err := p.dict()
		if err != nil {
			return nil, err
		}
		m, _ := d.Attr(name)
		return starlark.Call(&starlark.Thread{}, m, nil, nil)
	}).BindReceiver(p), nil
}
