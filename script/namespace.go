package script

// How a session keeps its global variables.
//
// starlark.ExecREPLChunk compiles each chunk as its own module: a function
// defined in chunk 1 keeps reading chunk 1's module slots, so after
// "x = 1", "def f(): return x", "x = 2", f() returns 1 (Python: 2). Module
// slots are also plain memory: a background job running f while the shell
// reassigns a global would be a data race.
//
// So drover rewrites every chunk (and every file run with ExecFile) before
// compiling it, so that global variables live in one table, the session's
// namespace, instead of in module slots:
//
//   - a read of a global name x (at top level or in a function body)
//     becomes a call <ns>("x"), which looks x up in the calling thread's
//     view: the live namespace on the session's own thread, a private
//     snapshot on a job's thread (see snapshot.go);
//   - an assignment to a global at top level (x = ..., x += ..., for x in
//     ...) becomes an attribute assignment <ns>.x = ..., which writes the
//     live namespace;
//   - def f(): ... at top level is followed by <ns>.f = f.
//
// "<ns>" is not a valid identifier, so user code cannot name it; it is the
// only global of the compiled module. Which identifiers are globals is
// decided by running the Starlark resolver on the original chunk first.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

const (
	nsName     = "<ns>"    // global name of the namespace in rewritten code
	chunkField = "<chunk>" // <ns>.<chunk> = lambda: None registers the chunk's module
	valueField = "<value>" // <ns>.<value> = expr captures a sole expression's value
)

// A view is what a thread's reads of global names see.
type view interface {
	lookup(name string) (starlark.Value, bool)
}

// snapView is an immutable snapshot of global variables, owned by a job.
type snapView starlark.StringDict

func (v snapView) lookup(name string) (starlark.Value, bool) {
	x, ok := v[name]
	return x, ok
}

// namespace is a session's live global variables. It is safe for
// concurrent use; the values in it belong to the session's thread.
type namespace struct {
	mu   sync.RWMutex
	vars starlark.StringDict
}

func (n *namespace) lookup(name string) (starlark.Value, bool) {
	n.mu.RLock()
	v, ok := n.vars[name]
	n.mu.RUnlock()
	return v, ok
}

func (n *namespace) set(name string, v starlark.Value) {
	n.mu.Lock()
	n.vars[name] = v
	n.mu.Unlock()
}

func (n *namespace) has(name string) bool {
	_, ok := n.lookup(name)
	return ok
}

func (n *namespace) copy() starlark.StringDict {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make(starlark.StringDict, len(n.vars))
	for k, v := range n.vars {
		out[k] = v
	}
	return out
}

// nameError is the error for a read of an undefined global.
func nameError(name string) error {
	return newError(KindNameError, nil, "name '%s' is not defined", name)
}

// nsRef is the value of "<ns>" in rewritten code: calling it reads a
// global through the thread's view; setting a field writes the live
// namespace (only top-level code does that, on the session's thread).
type nsRef struct {
	s *Session
}

var (
	_ starlark.Callable    = (*nsRef)(nil)
	_ starlark.HasSetField = (*nsRef)(nil)
)

func (r *nsRef) String() string        { return "<namespace>" }
func (r *nsRef) Type() string          { return "namespace" }
func (r *nsRef) Freeze()               {}
func (r *nsRef) Truth() starlark.Bool  { return true }
func (r *nsRef) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: namespace") }
func (r *nsRef) Name() string          { return nsName }
func (r *nsRef) AttrNames() []string   { return nil }

func (r *nsRef) CallInternal(thread *starlark.Thread, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	name, _ := starlark.AsString(args[0])
	var vw view = r.s.ns
	if st := stateOf(thread); st != nil {
		vw = st.view
	}
	if v, ok := vw.lookup(name); ok {
		return v, nil
	}
	if v, ok := starlark.Universe[name]; ok {
		return v, nil
	}
	return nil, nameError(name)
}

// Attr reads the live namespace (augmented assignment at top level).
func (r *nsRef) Attr(name string) (starlark.Value, error) {
	if v, ok := r.s.ns.lookup(name); ok {
		return v, nil
	}
	if v, ok := starlark.Universe[name]; ok {
		return v, nil
	}
	return nil, nameError(name)
}

// SetField writes the live namespace, or handles the two internal fields.
func (r *nsRef) SetField(name string, v starlark.Value) error {
	switch name {
	case chunkField:
		if fn, ok := v.(*starlark.Function); ok {
			r.s.registerModule(fn.Module())
		}
		return nil
	case valueField:
		r.s.value = v // guarded by execMu: SetField runs on the Exec thread
		return nil
	}
	r.s.ns.set(name, v)
	return nil
}

// chunkInfo records, for one compiled chunk (one module), the global names
// each function in it reads, by the position of its def or lambda.
type chunkInfo struct {
	funcs map[lineCol][]string
	// src is the chunk's original source text, kept (for chunks that
	// define functions) so that a function can be shipped to an engine by
	// its source (see funcsource.go).
	src string
	// ship caches the shipped form of the chunk's functions.
	ship shipCache
}

type lineCol struct{ line, col int32 }

func posKey(p syntax.Position) lineCol { return lineCol{p.Line, p.Col} }

// compileChunk parses src and rewrites it as described at the top of this
// file. isGlobal reports the names already in the namespace. With repl, a
// chunk that is a sole expression statement is rewritten to capture its
// value (soleExpr reports it).
func compileChunk(filename string, src any, ns *namespace, repl bool) (f *syntax.File, info *chunkInfo, soleExpr bool, err error) {
	opts := Dialect()
	scopes, err := resolveScopes(opts, filename, src, ns.has)
	if err != nil {
		if errs, ok := err.(resolve.ErrorList); ok {
			addHints(errs, ns)
		}
		return nil, nil, false, err
	}
	f, err = opts.Parse(filename, src, 0)
	if err != nil {
		return nil, nil, false, err // not reached: the same source parsed above
	}
	rw := &rewriter{scopes: scopes, funcs: make(map[lineCol][]string)}
	var value syntax.Expr
	if repl && len(f.Stmts) == 1 {
		if es, ok := f.Stmts[0].(*syntax.ExprStmt); ok {
			soleExpr = true
			rw.expr(&es.X)
			value = es.X
		}
	}
	if soleExpr {
		pos := syntax.Start(value)
		f.Stmts = []syntax.Stmt{&syntax.AssignStmt{OpPos: pos, Op: syntax.EQ, LHS: fieldExpr(pos, valueField), RHS: value}}
	} else {
		f.Stmts = rw.stmts(f.Stmts, true)
	}
	if rw.hasFunc && len(f.Stmts) > 0 {
		// Register the module, so that jobs started with this chunk's
		// functions know which globals they read.
		pos := syntax.Start(f.Stmts[0])
		reg := &syntax.AssignStmt{OpPos: pos, Op: syntax.EQ, LHS: fieldExpr(pos, chunkField),
			RHS: &syntax.LambdaExpr{Lambda: pos, Body: &syntax.Ident{NamePos: pos, Name: "None"}}}
		f.Stmts = append([]syntax.Stmt{reg}, f.Stmts...)
	}
	info = &chunkInfo{funcs: rw.funcs}
	if rw.hasFunc {
		info.src = sourceText(src)
	}
	return f, info, soleExpr, nil
}

// resolveScopes parses and resolves src as a REPL chunk and returns the
// scope of every resolved identifier, by position. Like Python, a function
// body may name a global that does not exist yet (it is looked up when the
// function runs); at top level an undefined name is an error, as in
// Starlark.
func resolveScopes(opts *syntax.FileOptions, filename string, src any, isGlobal func(string) bool) (map[lineCol]resolve.Scope, error) {
	later := map[string]bool{} // names used in function bodies before they exist
	for attempt := 0; ; attempt++ {
		f, err := opts.Parse(filename, src, 0)
		if err != nil {
			return nil, err
		}
		for _, st := range f.Stmts {
			if ld, ok := st.(*syntax.LoadStmt); ok {
				return nil, resolve.ErrorList{{Pos: ld.Load, Msg: "load statements are not supported"}}
			}
		}
		err = resolve.REPLChunk(f, func(name string) bool {
			return name == nsName || later[name] || isGlobal(name)
		}, func(string) bool { return false }, starlark.Universe.Has)
		if err != nil {
			errs, ok := err.(resolve.ErrorList)
			if !ok || attempt > 0 || !forwardRefs(f, errs, later) {
				return nil, err
			}
			continue
		}
		scopes := make(map[lineCol]resolve.Scope)
		syntax.Walk(f, func(n syntax.Node) bool {
			if id, ok := n.(*syntax.Ident); ok {
				if b, ok := id.Binding.(*resolve.Binding); ok {
					scopes[posKey(id.NamePos)] = b.Scope
				}
			}
			return true
		})
		return scopes, nil
	}
}

// addHints adds "(did you mean x?)" to "undefined: y" errors that have no
// hint: the resolver cannot enumerate the namespace or the built-ins.
func addHints(errs resolve.ErrorList, ns *namespace) {
	var names []string
	for i, e := range errs {
		name, ok := strings.CutPrefix(e.Msg, "undefined: ")
		if !ok || strings.Contains(name, " ") {
			continue
		}
		if names == nil {
			for n := range ns.copy() {
				names = append(names, n)
			}
			for n := range starlark.Universe {
				names = append(names, n)
			}
			slices.Sort(names)
		}
		if near := nearest(name, names); near != "" {
			errs[i].Msg += " (did you mean " + near + "?)"
		}
	}
}

// nearest returns the candidate closest to x in edit distance, if it is
// close enough to be a likely misspelling, else "".
func nearest(x string, candidates []string) string {
	best, bestD := "", 1+len(x)/4
	for _, c := range candidates {
		if strings.HasPrefix(c, "<") || c == x {
			continue
		}
		if d := editDistance(strings.ToLower(x), strings.ToLower(c)); d <= bestD {
			if d < bestD || best == "" {
				best, bestD = c, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// forwardRefs reports whether every error in errs is an undefined name
// inside a function body, and adds those names to later.
func forwardRefs(f *syntax.File, errs resolve.ErrorList, later map[string]bool) bool {
	type span struct{ start, end syntax.Position }
	var bodies []span
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.DefStmt:
			s, e := n.Span()
			bodies = append(bodies, span{s, e})
		case *syntax.LambdaExpr:
			s, e := n.Span()
			bodies = append(bodies, span{s, e})
		}
		return true
	})
	before := func(a, b syntax.Position) bool {
		return a.Line < b.Line || a.Line == b.Line && a.Col <= b.Col
	}
	for _, e := range errs {
		rest, ok := strings.CutPrefix(e.Msg, "undefined: ")
		if !ok {
			return false
		}
		name, _, _ := strings.Cut(rest, " ")
		inside := slices.ContainsFunc(bodies, func(s span) bool {
			return before(s.start, e.Pos) && before(e.Pos, s.end)
		})
		if !inside {
			return false
		}
		later[name] = true
	}
	return true
}

// rewriter rewrites global reads and writes of a parsed chunk.
type rewriter struct {
	scopes  map[lineCol]resolve.Scope
	funcs   map[lineCol][]string // global names read by each def/lambda
	stack   []map[string]bool    // names read by the enclosing functions
	hasFunc bool
}

func (rw *rewriter) isGlobal(id *syntax.Ident) bool {
	sc, ok := rw.scopes[posKey(id.NamePos)]
	return ok && sc == resolve.Global
}

func (rw *rewriter) stmts(list []syntax.Stmt, top bool) []syntax.Stmt {
	if list == nil {
		return nil
	}
	out := make([]syntax.Stmt, 0, len(list))
	for _, s := range list {
		out = append(out, s)
		switch s := s.(type) {
		case *syntax.AssignStmt:
			rw.target(&s.LHS, top)
			rw.expr(&s.RHS)
		case *syntax.ExprStmt:
			rw.expr(&s.X)
		case *syntax.IfStmt:
			rw.expr(&s.Cond)
			s.True = rw.stmts(s.True, top)
			s.False = rw.stmts(s.False, top)
		case *syntax.ForStmt:
			rw.expr(&s.X)
			rw.target(&s.Vars, top)
			s.Body = rw.stmts(s.Body, top)
		case *syntax.WhileStmt:
			rw.expr(&s.Cond)
			s.Body = rw.stmts(s.Body, top)
		case *syntax.ReturnStmt:
			if s.Result != nil {
				rw.expr(&s.Result)
			}
		case *syntax.DefStmt:
			rw.function(s.Def, s.Params, func() { s.Body = rw.stmts(s.Body, false) })
			if top && rw.isGlobal(s.Name) {
				pos := s.Name.NamePos
				out = append(out, &syntax.AssignStmt{OpPos: pos, Op: syntax.EQ,
					LHS: fieldExpr(pos, s.Name.Name), RHS: &syntax.Ident{NamePos: pos, Name: s.Name.Name}})
			}
		}
	}
	return out
}

// function rewrites a def or lambda: defaults in the enclosing scope, then
// the body, recording the globals the body reads.
func (rw *rewriter) function(pos syntax.Position, params []syntax.Expr, body func()) {
	for _, p := range params {
		if b, ok := p.(*syntax.BinaryExpr); ok && b.Op == syntax.EQ {
			rw.expr(&b.Y)
		}
	}
	rw.hasFunc = true
	rw.stack = append(rw.stack, map[string]bool{})
	body()
	names := rw.stack[len(rw.stack)-1]
	rw.stack = rw.stack[:len(rw.stack)-1]
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
		if len(rw.stack) > 0 {
			rw.stack[len(rw.stack)-1][n] = true
		}
	}
	slices.Sort(list)
	rw.funcs[posKey(pos)] = list
}

// target rewrites an assignment target.
func (rw *rewriter) target(e *syntax.Expr, top bool) {
	switch x := (*e).(type) {
	case *syntax.Ident:
		if top && rw.isGlobal(x) {
			*e = fieldExpr(x.NamePos, x.Name)
		}
	case *syntax.TupleExpr:
		for i := range x.List {
			rw.target(&x.List[i], top)
		}
	case *syntax.ListExpr:
		for i := range x.List {
			rw.target(&x.List[i], top)
		}
	case *syntax.ParenExpr:
		rw.target(&x.X, top)
	default:
		rw.expr(e) // x[i] = ..., x.f = ...: x is read
	}
}

// expr rewrites the global reads in an expression.
func (rw *rewriter) expr(e *syntax.Expr) {
	switch x := (*e).(type) {
	case nil:
	case *syntax.Ident:
		if rw.isGlobal(x) {
			if n := len(rw.stack); n > 0 {
				rw.stack[n-1][x.Name] = true
			}
			pos := x.NamePos
			*e = &syntax.CallExpr{
				Fn:     &syntax.Ident{NamePos: pos, Name: nsName},
				Lparen: pos,
				Args:   []syntax.Expr{&syntax.Literal{Token: syntax.STRING, TokenPos: pos, Raw: strconv.Quote(x.Name), Value: x.Name}},
				Rparen: pos,
			}
		}
	case *syntax.BinaryExpr:
		rw.expr(&x.X)
		rw.expr(&x.Y)
	case *syntax.UnaryExpr:
		rw.expr(&x.X)
	case *syntax.CallExpr:
		rw.expr(&x.Fn)
		for i := range x.Args {
			rw.expr(&x.Args[i]) // keyword names have no binding: left alone
		}
	case *syntax.Comprehension:
		for _, c := range x.Clauses {
			switch c := c.(type) {
			case *syntax.ForClause:
				rw.target(&c.Vars, false)
				rw.expr(&c.X)
			case *syntax.IfClause:
				rw.expr(&c.Cond)
			}
		}
		rw.expr(&x.Body)
	case *syntax.CondExpr:
		rw.expr(&x.Cond)
		rw.expr(&x.True)
		rw.expr(&x.False)
	case *syntax.DictExpr:
		for i := range x.List {
			rw.expr(&x.List[i])
		}
	case *syntax.DictEntry:
		rw.expr(&x.Key)
		rw.expr(&x.Value)
	case *syntax.DotExpr:
		rw.expr(&x.X)
	case *syntax.IndexExpr:
		rw.expr(&x.X)
		rw.expr(&x.Y)
	case *syntax.LambdaExpr:
		rw.function(x.Lambda, x.Params, func() { rw.expr(&x.Body) })
	case *syntax.ListExpr:
		for i := range x.List {
			rw.expr(&x.List[i])
		}
	case *syntax.TupleExpr:
		for i := range x.List {
			rw.expr(&x.List[i])
		}
	case *syntax.ParenExpr:
		rw.expr(&x.X)
	case *syntax.SliceExpr:
		rw.expr(&x.X)
		rw.expr(&x.Lo)
		rw.expr(&x.Hi)
		rw.expr(&x.Step)
	}
}

// fieldExpr returns <ns>.name at pos.
func fieldExpr(pos syntax.Position, name string) *syntax.DotExpr {
	return &syntax.DotExpr{
		X:       &syntax.Ident{NamePos: pos, Name: nsName},
		Dot:     pos,
		NamePos: pos,
		Name:    &syntax.Ident{NamePos: pos, Name: name},
	}
}
