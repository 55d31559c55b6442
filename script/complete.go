package script

import (
	"slices"
	"strings"

	"go.starlark.net/starlark"
)

// keywords are Starlark's keywords, offered by Complete.
var keywords = []string{
	"and", "break", "continue", "def", "elif", "else", "for", "if", "in", "lambda",
	"not", "or", "pass", "return", "while",
}

// Complete returns completions for the word that ends at byte offset pos of
// line, and the offset where that word starts (the text each candidate
// replaces). A plain name completes from the session's globals, the
// built-ins and the keywords; after a dot, x.y.<prefix> completes from the
// attribute names of x.y (starlark.HasAttrs). Candidates are sorted and
// start with the typed prefix. Inside a string literal, or after anything
// else, there are none.
func (s *Session) Complete(line string, pos int) (candidates []string, replaceFrom int) {
	pos = min(max(pos, 0), len(line))
	before := line[:pos]
	if inString(before) {
		return nil, pos
	}
	i := pos
	for i > 0 && (isIdentByte(before[i-1]) || before[i-1] == '.') {
		i--
	}
	word := before[i:]
	if word != "" && word[0] >= '0' && word[0] <= '9' {
		return nil, pos // a number
	}
	dot := strings.LastIndexByte(word, '.')
	if dot < 0 {
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
	parts := strings.Split(word[:dot], ".")
	v, ok := s.ns.lookup(parts[0])
	if !ok {
		if v, ok = starlark.Universe[parts[0]]; !ok {
			return nil, pos
		}
	}
	for _, p := range parts[1:] {
		ha, ok := v.(starlark.HasAttrs)
		if !ok {
			return nil, pos
		}
		x, err := ha.Attr(p)
		if err != nil || x == nil {
			return nil, pos
		}
		v = x
	}
	ha, ok := v.(starlark.HasAttrs)
	if !ok {
		return nil, pos
	}
	return withPrefix(ha.AttrNames(), word[dot+1:]), i + dot + 1
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
