package script

// Shipping Starlark functions to engines by their source.
//
// A map task's Starlark function (and a depend function) travels as source
// text: the engine defines it afresh with its own namespace as globals, as
// the seed's push_function does. The session keeps the original text of
// every chunk (and file) that defines a function (chunkInfo.src); the
// source of a function is found by parsing that text again and locating the
// def statement or lambda expression at the function's position, whose span
// is then cut out:
//
//   - a def is shipped as it was written; a def that was indented (inside a
//     top-level if or for, or inside another function) is dedented, or, when
//     that is not possible without changing it (a multi-line string
//     literal, a continuation line indented less than the def), wrapped in
//     "if True:" with its indentation kept;
//   - a lambda is shipped as an equivalent def named _lambda:
//     "def _lambda(PARAMS):\n    return (BODY)\n".
//
// A function that reads variables of an enclosing function (a closure) is
// refused: those variables would not exist on the engine. Global names it
// reads are looked up in the engine's namespace when it runs (push them
// there first), and its default values are evaluated again on the engine.

import (
	"fmt"
	"strings"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// lambdaName is the name under which a lambda is shipped.
const lambdaName = "_lambda"

// shipped is a function as it travels: source defining it at top level, and
// its name there.
type shipped struct {
	source string
	name   string
}

// shipCache remembers the shipped form of the functions of one chunk, by
// position: building it parses the chunk again.
type shipCache struct {
	mu sync.Mutex
	m  map[lineCol]shipped
}

// sourceText returns src, as Exec and ExecFile take it (a string or a
// []byte), as a string.
func sourceText(src any) string {
	switch s := src.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	}
	return ""
}

// closureError is the error for a function that reads local variables of an
// enclosing function (the same text as the engine's).
func closureError(fn *starlark.Function) error {
	free := make([]string, fn.NumFreeVars())
	for i := range free {
		b, _ := fn.FreeVar(i)
		free[i] = b.Name
	}
	return newError(KindTypeError, nil,
		"a task function cannot be a closure: %s uses %s, local to an enclosing function; define it at top level and pass such values as arguments",
		fn.Name(), strings.Join(free, ", "))
}

// shipFunction returns the source and name to ship fn with.
func (s *Session) shipFunction(fn *starlark.Function) (shipped, error) {
	if fn.NumFreeVars() > 0 {
		return shipped{}, closureError(fn)
	}
	info := s.moduleInfo(fn.Module())
	if info == nil || info.src == "" {
		return shipped{}, newError(KindTypeError, nil,
			"%s: the source of function %s is not known (only functions defined with def or lambda in the shell or a script can be sent to engines)",
			"a task function must be a FunctionType", fn.Name())
	}
	pos := fn.Position()
	key := posKey(pos)
	info.ship.mu.Lock()
	defer info.ship.mu.Unlock()
	if sh, ok := info.ship.m[key]; ok {
		return sh, nil
	}
	sh, err := functionSource(pos.Filename(), info.src, key)
	if err != nil {
		return shipped{}, newError(KindTypeError, err, "cannot send function %s to an engine: %v", fn.Name(), err)
	}
	if info.ship.m == nil {
		info.ship.m = make(map[lineCol]shipped)
	}
	info.ship.m[key] = sh
	return sh, nil
}

// functionSource finds the def or lambda at pos in src and returns its
// shipped form.
func functionSource(filename, src string, pos lineCol) (shipped, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	f, err := Dialect().Parse(filename, src, 0)
	if err != nil {
		return shipped{}, err
	}
	var def *syntax.DefStmt
	var lambda *syntax.LambdaExpr
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.DefStmt:
			if posKey(n.Def) == pos {
				def = n
			}
		case *syntax.LambdaExpr:
			if posKey(n.Lambda) == pos {
				lambda = n
			}
		}
		return def == nil && lambda == nil
	})
	text := newSourceText(src)
	switch {
	case def != nil:
		return shipped{source: text.def(def), name: def.Name.Name}, nil
	case lambda != nil:
		return shipped{source: text.lambda(lambda), name: lambdaName}, nil
	}
	return shipped{}, fmt.Errorf("no def or lambda at %s:%d:%d", filename, pos.line, pos.col)
}

// sourceText is source text indexed by line, to cut out spans.
type srcText struct {
	lines []string // without their newlines
}

func newSourceText(src string) *srcText {
	return &srcText{lines: strings.Split(src, "\n")}
}

// offset returns the byte offset in line p.Line of column p.Col (columns
// count runes, from 1).
func (t *srcText) offset(p syntax.Position) (line, off int) {
	line = int(p.Line) - 1
	if line < 0 || line >= len(t.lines) {
		return max(0, min(line, len(t.lines)-1)), 0
	}
	s := t.lines[line]
	col := int32(1)
	for i := range s {
		if col == p.Col {
			return line, i
		}
		col++
	}
	return line, len(s)
}

// span returns the text from start to end, as lines.
func (t *srcText) span(start, end syntax.Position) []string {
	l0, o0 := t.offset(start)
	l1, o1 := t.offset(end)
	if l0 == l1 {
		return []string{t.lines[l0][o0:max(o0, o1)]}
	}
	out := make([]string, 0, l1-l0+1)
	out = append(out, t.lines[l0][o0:])
	out = append(out, t.lines[l0+1:l1]...)
	out = append(out, t.lines[l1][:o1])
	return out
}

// nodeEnd returns the position just after n. (syntax's Span is off by one
// for index, slice and parenthesized tuple expressions, and for whatever
// ends with one.)
func nodeEnd(n syntax.Node) syntax.Position {
	after := func(p syntax.Position) syntax.Position { return syntax.MakePosition(nil, p.Line, p.Col+1) }
	switch x := n.(type) {
	case *syntax.IndexExpr:
		return after(x.Rbrack)
	case *syntax.SliceExpr:
		return after(x.Rbrack)
	case *syntax.TupleExpr:
		if x.Lparen.IsValid() {
			return after(x.Rparen)
		}
		return nodeEnd(x.List[len(x.List)-1])
	case *syntax.BinaryExpr:
		return nodeEnd(x.Y)
	case *syntax.UnaryExpr:
		if x.X != nil {
			return nodeEnd(x.X)
		}
	case *syntax.CondExpr:
		return nodeEnd(x.False)
	case *syntax.DictEntry:
		return nodeEnd(x.Value)
	case *syntax.LambdaExpr:
		return nodeEnd(x.Body)
	case *syntax.DefStmt:
		return nodeEnd(x.Body[len(x.Body)-1])
	case *syntax.ExprStmt:
		return nodeEnd(x.X)
	case *syntax.AssignStmt:
		return nodeEnd(x.RHS)
	case *syntax.ReturnStmt:
		if x.Result != nil {
			return nodeEnd(x.Result)
		}
	case *syntax.IfStmt:
		body := x.False
		if body == nil {
			body = x.True
		}
		return nodeEnd(body[len(body)-1])
	case *syntax.ForStmt:
		return nodeEnd(x.Body[len(x.Body)-1])
	case *syntax.WhileStmt:
		return nodeEnd(x.Body[len(x.Body)-1])
	}
	_, end := n.Span()
	return end
}

// def returns the source of a def statement, at top level.
func (t *srcText) def(def *syntax.DefStmt) string {
	start, end := def.Def, nodeEnd(def)
	lines := t.span(start, end)
	l0, o0 := t.offset(start)
	if o0 == 0 {
		return strings.Join(lines, "\n") + "\n"
	}
	indent := t.lines[l0][:o0]
	if strings.TrimLeft(indent, " \t") != "" || hasMultilineString(def) {
		return wrapIndented(indent, lines)
	}
	out := make([]string, len(lines))
	out[0] = lines[0]
	for i, l := range lines[1:] {
		switch {
		case strings.HasPrefix(l, indent):
			out[i+1] = l[len(indent):]
		case strings.TrimSpace(l) == "":
			out[i+1] = ""
		default:
			return wrapIndented(indent, lines)
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// wrapIndented keeps an indented def as it is, under "if True:".
func wrapIndented(indent string, lines []string) string {
	if strings.TrimLeft(indent, " \t") != "" {
		indent = "    " // not reached for a def, which starts its line
	}
	return "if True:\n" + indent + strings.Join(lines, "\n") + "\n"
}

// hasMultilineString reports whether n holds a string literal written over
// several lines (dedenting would change its value).
func hasMultilineString(n syntax.Node) bool {
	found := false
	syntax.Walk(n, func(n syntax.Node) bool {
		if lit, ok := n.(*syntax.Literal); ok && strings.Contains(lit.Raw, "\n") {
			found = true
		}
		return !found
	})
	return found
}

// lambda returns the source of a def equivalent to a lambda expression.
func (t *srcText) lambda(l *syntax.LambdaExpr) string {
	var params string
	if n := len(l.Params); n > 0 {
		start, _ := l.Params[0].Span()
		params = strings.Join(t.span(start, nodeEnd(l.Params[n-1])), "\n")
	}
	bstart, _ := l.Body.Span()
	body := strings.Join(t.span(bstart, nodeEnd(l.Body)), "\n")
	return "def " + lambdaName + "(" + params + "):\n    return (" + body + ")\n"
}
