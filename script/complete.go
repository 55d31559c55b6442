package script

import (
	"math/big"
	"slices"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// keywords are Starlark's keywords, offered by Complete.
var keywords = []string{
	"and", "break", "continue", "def", "elif", "else", "for", "if", "in", "lambda",
	"not", "or", "pass", "return", "while",
}

// Complete returns completions for the word that ends at byte offset pos of
// line, and the offset where that word starts (the text each candidate
// replaces). A plain name completes from the session's globals, the
// built-ins and the keywords. After a dot, <expr>.<prefix> completes from
// the attribute names of <expr> (starlark.HasAttrs) when <expr> is free of
// side effects, which Complete evaluates: names, attribute chains, indexing
// (jobs[0], d["k"], x[-1]) and literals ("abc", [1, 2], {"a": 1}, 3),
// nested; it never calls a function. Candidates are sorted and start with
// the typed prefix. Inside a string literal or a comment, or after anything
// else, there are none.
func (s *Session) Complete(line string, pos int) (candidates []string, replaceFrom int) {
	pos = min(max(pos, 0), len(line))
	before := line[:pos]
	if inString(before) {
		return nil, pos
	}
	i := pos
	for i > 0 && isIdentByte(before[i-1]) {
		i--
	}
	word := before[i:]
	if i > 0 && before[i-1] == '.' {
		v, ok := s.evalPrimary(before[:i-1])
		if !ok {
			return nil, pos
		}
		ha, ok := v.(starlark.HasAttrs)
		if !ok {
			return nil, pos
		}
		return withPrefix(ha.AttrNames(), word), i
	}
	if word != "" && word[0] >= '0' && word[0] <= '9' {
		return nil, pos // a number
	}
	var names []string
	for name := range s.ns.copy() {
		names = append(names, name)
	}
	for name := range starlark.Universe {
		names = append(names, name)
	}
	names = append(names, keywords...)
	return withPrefix(names, word), i
}

// maxPrimary bounds how far back before the dot Complete looks for the
// expression whose attributes it completes.
const maxPrimary = 400

// evalPrimary evaluates the primary expression at the end of text (the
// longest suffix of text that parses as one: a name, a literal, an
// attribute, an index or a bracketed expression), if it is free of side
// effects (see safeEval).
func (s *Session) evalPrimary(text string) (starlark.Value, bool) {
	text = strings.TrimRight(text, " \t")
	for j := max(0, len(text)-maxPrimary); j < len(text); j++ {
		e, err := Dialect().ParseExpr("<complete>", text[j:], 0)
		if err != nil || !isPrimary(e) {
			continue
		}
		return s.safeEval(e, 0)
	}
	return nil, false
}

// isPrimary reports whether e is a primary expression: one that a dot can
// follow without brackets.
func isPrimary(e syntax.Expr) bool {
	switch e := e.(type) {
	case *syntax.Ident, *syntax.Literal, *syntax.ParenExpr, *syntax.DotExpr, *syntax.IndexExpr,
		*syntax.SliceExpr, *syntax.CallExpr, *syntax.ListExpr, *syntax.DictExpr, *syntax.Comprehension:
		return true
	case *syntax.TupleExpr:
		return e.Lparen.IsValid()
	}
	return false
}

// maxEvalDepth bounds the nesting safeEval follows.
const maxEvalDepth = 20

// safeEval evaluates e if it is made only of names (the session's globals
// and the built-ins), literals, attribute reads, indexing, and list, tuple
// and dict displays of those; anything else (a call, an operator, a
// comprehension) gives false, so completion never runs code.
func (s *Session) safeEval(e syntax.Expr, depth int) (starlark.Value, bool) {
	if depth > maxEvalDepth {
		return nil, false
	}
	depth++
	switch e := e.(type) {
	case *syntax.Ident:
		if v, ok := s.ns.lookup(e.Name); ok {
			return v, true
		}
		v, ok := starlark.Universe[e.Name]
		return v, ok
	case *syntax.Literal:
		switch x := e.Value.(type) {
		case string:
			if e.Token == syntax.BYTES {
				return starlark.Bytes(x), true
			}
			return starlark.String(x), true
		case int64:
			return starlark.MakeInt64(x), true
		case *big.Int:
			return starlark.MakeBigInt(x), true
		case float64:
			return starlark.Float(x), true
		}
		return nil, false
	case *syntax.UnaryExpr:
		// A negative number, as in x[-1].
		lit, ok := e.X.(*syntax.Literal)
		if e.Op != syntax.MINUS || !ok || lit.Token != syntax.INT {
			return nil, false
		}
		v, ok := s.safeEval(lit, depth)
		if !ok {
			return nil, false
		}
		return starlark.MakeInt(0).Sub(v.(starlark.Int)), true
	case *syntax.ParenExpr:
		return s.safeEval(e.X, depth)
	case *syntax.DotExpr:
		x, ok := s.safeEval(e.X, depth)
		if !ok {
			return nil, false
		}
		ha, ok := x.(starlark.HasAttrs)
		if !ok {
			return nil, false
		}
		v, err := ha.Attr(e.Name.Name)
		return v, err == nil && v != nil
	case *syntax.IndexExpr:
		x, ok := s.safeEval(e.X, depth)
		if !ok {
			return nil, false
		}
		k, ok := s.safeEval(e.Y, depth)
		if !ok {
			return nil, false
		}
		return index(x, k)
	case *syntax.ListExpr, *syntax.TupleExpr:
		var list []syntax.Expr
		if l, ok := e.(*syntax.ListExpr); ok {
			list = l.List
		} else {
			list = e.(*syntax.TupleExpr).List
		}
		elems := make([]starlark.Value, len(list))
		for i, x := range list {
			v, ok := s.safeEval(x, depth)
			if !ok {
				return nil, false
			}
			elems[i] = v
		}
		if _, ok := e.(*syntax.ListExpr); ok {
			return starlark.NewList(elems), true
		}
		return starlark.Tuple(elems), true
	case *syntax.DictExpr:
		d := starlark.NewDict(len(e.List))
		for _, x := range e.List {
			entry := x.(*syntax.DictEntry)
			k, ok := s.safeEval(entry.Key, depth)
			if !ok {
				return nil, false
			}
			v, ok := s.safeEval(entry.Value, depth)
			if !ok {
				return nil, false
			}
			if err := d.SetKey(k, v); err != nil {
				return nil, false
			}
		}
		return d, true
	}
	return nil, false
}

// index returns x[k] for a mapping (a dict, jobs) or an indexable value (a
// list, tuple or string, with Python's negative indices).
func index(x, k starlark.Value) (starlark.Value, bool) {
	switch x := x.(type) {
	case starlark.Mapping:
		v, found, err := x.Get(k)
		return v, err == nil && found
	case starlark.Indexable:
		i, err := starlark.AsInt32(k)
		if err != nil {
			return nil, false
		}
		if i < 0 {
			i += x.Len()
		}
		if i < 0 || i >= x.Len() {
			return nil, false
		}
		return x.Index(i), true
	}
	return nil, false
}

// withPrefix returns the sorted, distinct names that start with prefix.
func withPrefix(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && !strings.HasPrefix(n, "<") {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// inString reports whether the end of s is inside a string literal.
func inString(s string) bool {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case quote == 0 && c == '#':
			return true // a comment: nothing to complete either
		}
	}
	return quote != 0
}
