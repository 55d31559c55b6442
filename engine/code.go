package engine

// How engine code sees the namespace.
//
// The engine's namespace is one starlark.StringDict, e.ns, that lives as
// long as the engine (Reset empties it in place). Every program the engine
// runs is compiled so that its global names are *predeclared* names, and is
// initialized with e.ns as its predeclared environment: starlark-go looks a
// predeclared name up in that map each time the name is read (opcode
// PREDECLARED), so reads are live, as Python's globals are:
//
//   - a name read by engine code or by a function is looked up in e.ns when
//     the read happens; a name that is not there fails with the interpreter's
//     "internal error: predeclared variable x is uninitialized", which the
//     engine reports as NameError "name 'x' is not defined";
//   - a top-level assignment in code run by Execute (x = ..., x += ...,
//     for x in ...), including inside top-level if/for/while, is rewritten
//     to an attribute assignment on the namespace object, <ns>.x = ...,
//     which writes e.ns; so "i += 1" works on a pushed or earlier name;
//   - a top-level def f is kept (f is then a module global of that one
//     program) and followed by <ns>.f = f.
//
// "<ns>" is not an identifier, so no user code can name it; it is stored in
// e.ns under that key and hidden from Keys, Pull and Push.
//
// Built-in names (len, range, ...) stay universal unless the namespace (or
// the code itself) defines the same name, in which case they resolve in the
// namespace, as in Python; a cached program remembers which built-ins it
// resolved which way and is recompiled if that has changed.
//
// A map task's Starlark function is compiled the same way but without the
// rewrite: its source's top-level names (the function itself) stay private
// to that program, and every other name it reads resolves in e.ns.

import (
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/drover-dev/drover/script"
)

const nsName = "<ns>"

// program is a compiled chunk of engine code or a map task's function
// source.
type program struct {
	prog *starlark.Program
	// builtins lists the universal names the program reads, with how they
	// were resolved: true = in the namespace (predeclared), false = the
	// built-in.
	builtins map[string]bool
	// assigned are the names the program assigns at top level (rewritten
	// code only): they resolve in the namespace whatever it holds.
	assigned map[string]bool
	// onlyDefs: the program's top level holds nothing but def statements
	// (a function source as the Starlark layer ships it).
	onlyDefs bool
	// funcs caches the functions a run of an onlyDefs program defined whose
	// default values are all immutable: calling such a function again is
	// the same as defining it again and calling the new one (the seed
	// defines the function afresh for every task).
	funcs map[string]*starlark.Function
	// constDefs names the top-level functions whose default values are
	// literals (so defining them again gives the same defaults).
	constDefs map[string]bool
}

// constDefaults reports whether every default value of def is a literal
// (a number, a string, bytes, None/True/False, or a tuple of those).
func constDefaults(def *syntax.DefStmt) bool {
	for _, p := range def.Params {
		if b, ok := p.(*syntax.BinaryExpr); ok && b.Op == syntax.EQ && !constExpr(b.Y) {
			return false
		}
	}
	return true
}

func constExpr(x syntax.Expr) bool {
	switch x := x.(type) {
	case *syntax.Literal:
		return true
	case *syntax.Ident:
		return x.Name == "None" || x.Name == "True" || x.Name == "False"
	case *syntax.UnaryExpr:
		return (x.Op == syntax.MINUS || x.Op == syntax.PLUS) && constExpr(x.X)
	case *syntax.ParenExpr:
		return constExpr(x.X)
	case *syntax.TupleExpr:
		for _, e := range x.List {
			if !constExpr(e) {
				return false
			}
		}
		return true
	}
	return false
}

// valid reports whether p's resolution of built-in names still matches ns.
func (p *program) valid(ns starlark.StringDict) bool {
	for name, inNS := range p.builtins {
		if p.assigned[name] {
			continue
		}
		if _, ok := ns[name]; ok != inNS {
			return false
		}
	}
	return true
}

// compile parses and compiles src. With rewrite, top-level assignments
// write the namespace (Execute); without, the program's top-level names are
// its own (a map task's function source).
func (e *Engine) compile(src string, rewrite bool) (*program, error) {
	f, err := script.Dialect().Parse("<engine>", src, 0)
	if err != nil {
		return nil, err
	}
	for _, st := range f.Stmts {
		if ld, ok := st.(*syntax.LoadStmt); ok {
			return nil, syntax.Error{Pos: ld.Load, Msg: "load statements are not supported on engines"}
		}
	}
	p := &program{builtins: map[string]bool{}, onlyDefs: !rewrite}
	for _, st := range f.Stmts {
		def, ok := st.(*syntax.DefStmt)
		if !ok {
			p.onlyDefs = false
			continue
		}
		if constDefaults(def) {
			if p.constDefs == nil {
				p.constDefs = map[string]bool{}
			}
			p.constDefs[def.Name.Name] = true
		}
	}
	if rewrite {
		rw := &rewriter{assigned: map[string]bool{}}
		f.Stmts = rw.stmts(f.Stmts)
		p.assigned = rw.assigned
	}
	isPredeclared := func(name string) bool {
		if !starlark.Universe.Has(name) {
			return true
		}
		_, inNS := e.ns[name]
		pre := inNS || p.assigned[name]
		p.builtins[name] = pre
		return pre
	}
	prog, err := starlark.FileProgram(f, isPredeclared)
	if err != nil {
		return nil, err
	}
	p.prog = prog
	return p, nil
}

// cached returns the compiled program for src from the cache, compiling it
// if needed.
func (e *Engine) cached(src string, rewrite bool) (*program, error) {
	cache := e.funcProgs
	if rewrite {
		cache = e.codeProgs
	}
	if p, ok := cache[src]; ok && p.valid(e.ns) {
		return p, nil
	}
	p, err := e.compile(src, rewrite)
	if err != nil {
		return nil, err
	}
	if len(cache) >= e.cacheSize {
		clear(cache)
	}
	cache[src] = p
	return p, nil
}

// rewriter turns top-level bindings into namespace writes.
type rewriter struct {
	assigned map[string]bool
}

func (rw *rewriter) stmts(list []syntax.Stmt) []syntax.Stmt {
	out := make([]syntax.Stmt, 0, len(list))
	for _, s := range list {
		out = append(out, s)
		switch s := s.(type) {
		case *syntax.AssignStmt:
			rw.target(&s.LHS)
		case *syntax.ForStmt:
			rw.target(&s.Vars)
			s.Body = rw.stmts(s.Body)
		case *syntax.WhileStmt:
			s.Body = rw.stmts(s.Body)
		case *syntax.IfStmt:
			s.True = rw.stmts(s.True)
			s.False = rw.stmts(s.False)
		case *syntax.DefStmt:
			pos := s.Name.NamePos
			rw.assigned[s.Name.Name] = true
			out = append(out, &syntax.AssignStmt{OpPos: pos, Op: syntax.EQ,
				LHS: nsField(pos, s.Name.Name), RHS: &syntax.Ident{NamePos: pos, Name: s.Name.Name}})
		}
	}
	return out
}

// target rewrites the identifiers an assignment binds.
func (rw *rewriter) target(e *syntax.Expr) {
	switch x := (*e).(type) {
	case *syntax.Ident:
		rw.assigned[x.Name] = true
		*e = nsField(x.NamePos, x.Name)
	case *syntax.TupleExpr:
		for i := range x.List {
			rw.target(&x.List[i])
		}
	case *syntax.ListExpr:
		for i := range x.List {
			rw.target(&x.List[i])
		}
	case *syntax.ParenExpr:
		rw.target(&x.X)
	}
	// x[i] = ..., x.f = ...: nothing is bound.
}

// nsField returns <ns>.name at pos.
func nsField(pos syntax.Position, name string) *syntax.DotExpr {
	return &syntax.DotExpr{
		X:       &syntax.Ident{NamePos: pos, Name: nsName},
		Dot:     pos,
		NamePos: pos,
		Name:    &syntax.Ident{NamePos: pos, Name: name},
	}
}

// nsObject is the value of "<ns>": attribute reads and writes go to the
// engine's namespace.
type nsObject struct{ e *Engine }

var _ starlark.HasSetField = (*nsObject)(nil)

func (o *nsObject) String() string        { return "<namespace>" }
func (o *nsObject) Type() string          { return "namespace" }
func (o *nsObject) Freeze()               {}
func (o *nsObject) Truth() starlark.Bool  { return true }
func (o *nsObject) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: namespace") }
func (o *nsObject) AttrNames() []string   { return nil }

// Attr reads a name (the read half of x += ... at top level).
func (o *nsObject) Attr(name string) (starlark.Value, error) {
	if v, ok := o.e.ns[name]; ok {
		return v, nil
	}
	if v, ok := starlark.Universe[name]; ok {
		return v, nil
	}
	return nil, nameError(name)
}

// SetField writes a name.
func (o *nsObject) SetField(name string, v starlark.Value) error {
	o.e.ns[name] = v
	return nil
}

// immutable reports whether v cannot be changed by Starlark code (so that
// sharing it between calls is unobservable).
func immutable(v starlark.Value) bool {
	switch v := v.(type) {
	case nil, starlark.NoneType, starlark.Bool, starlark.Int, starlark.Float, starlark.String, starlark.Bytes:
		return true
	case starlark.Tuple:
		for _, x := range v {
			if !immutable(x) {
				return false
			}
		}
		return true
	}
	return false
}

// reusable reports whether fn can be called again instead of being
// defined again: its default values are immutable and it has no free
// variables.
func reusable(fn *starlark.Function) bool {
	if fn.NumFreeVars() > 0 {
		return false
	}
	for i := range fn.NumParams() {
		if !immutable(fn.ParamDefault(i)) {
			return false
		}
	}
	return true
}
