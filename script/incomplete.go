package script

import (
	"errors"
	"strings"
	"unicode/utf8"

	"go.starlark.net/syntax"
)

// IsIncomplete reports whether src, the lines typed so far at a REPL
// (joined with "\n", without a final newline), needs more lines before it
// can run, as Python's interactive prompt decides:
//
//   - an unterminated triple-quoted string, an open bracket, or a line
//     ending with a backslash continue;
//   - a block header ("if x:", "def f():", "else:") waits for its body;
//   - a compound statement (def, if, for, while, even on one line) waits
//     until a blank line ends it;
//   - anything else, including input with a syntax error that more lines
//     cannot fix, is complete (running it reports the error).
//
// Blank input is complete.
func IsIncomplete(src string) bool {
	if strings.TrimSpace(src) == "" {
		return false
	}
	sc := scanSource(src)
	if sc.inTriple {
		return true
	}
	nl := strings.LastIndexByte(src, '\n')
	blankEnd := nl >= 0 && strings.TrimSpace(src[nl+1:]) == ""
	f, err := Dialect().Parse("<stdin>", src, 0)
	if err != nil {
		var se syntax.Error
		if !errors.As(err, &se) {
			return false
		}
		if sc.backslashEnd {
			return true
		}
		// Only an error at the end of the text (the parser wanted more:
		// "got end of file", or an outdent or newline inside a block) can
		// be fixed by more lines.
		line, col := sc.endPos(src)
		if se.Pos.Line < line || se.Pos.Line == line && se.Pos.Col < col {
			return false
		}
		if sc.depth > 0 {
			return true
		}
		return !blankEnd && sc.colonEnd
	}
	if blankEnd {
		return false
	}
	for _, st := range f.Stmts {
		switch st.(type) {
		case *syntax.DefStmt, *syntax.IfStmt, *syntax.ForStmt, *syntax.WhileStmt:
			return true
		}
	}
	return false
}

// sourceState is what a light scan of Starlark source finds at its end.
type sourceState struct {
	depth        int  // open brackets
	inTriple     bool // inside a triple-quoted string
	backslashEnd bool // the last character is a line-continuation backslash
	colonEnd     bool // the last code character (ignoring comments, blanks) is ':'
	lastEnd      int  // byte offset just after the last code character
}

// endPos returns the line and column (in runes, 1-based, as Starlark
// positions count) just after the last code character of src.
func (st sourceState) endPos(src string) (line, col int32) {
	before := src[:st.lastEnd]
	line = int32(1 + strings.Count(before, "\n"))
	lineStart := strings.LastIndexByte(before, '\n') + 1
	col = int32(utf8.RuneCountInString(before[lineStart:]) + 1)
	return line, col
}

// scanSource scans src for brackets, strings and comments.
func scanSource(src string) sourceState {
	var st sourceState
	var last byte // last code character outside strings and comments
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == 0 {
			break // Starlark's scanner takes a NUL byte between tokens for the end
		}
		switch {
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			i-- // let the loop see the newline (or end)
		case c == '\'' || c == '"':
			triple := strings.HasPrefix(src[i:], strings.Repeat(string(c), 3))
			if triple {
				end := strings.Index(src[i+3:], strings.Repeat(string(c), 3))
				// A backslash escapes the next character, so a match
				// preceded by an odd run of backslashes does not end it.
				j := i + 3
				for end >= 0 && escaped(src, j+end) {
					j += end + 1
					end = strings.Index(src[j:], strings.Repeat(string(c), 3))
				}
				if end < 0 {
					st.inTriple = true
					return st
				}
				i = j + end + 2
				st.lastEnd = i + 1
			} else {
				j := i + 1
				for j < len(src) && src[j] != c && src[j] != '\n' {
					if src[j] == '\\' {
						j++
					}
					j++
				}
				i = j // at the closing quote, the newline, or the end
				st.lastEnd = min(i+1, len(src))
			}
			last = c
		case c == '(' || c == '[' || c == '{':
			st.depth++
			last, st.lastEnd = c, i+1
		case c == ')' || c == ']' || c == '}':
			if st.depth > 0 {
				st.depth--
			}
			last, st.lastEnd = c, i+1
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		default:
			last, st.lastEnd = c, i+1
		}
	}
	st.backslashEnd = strings.HasSuffix(src, "\\") && last == '\\'
	st.colonEnd = last == ':'
	return st
}

// escaped reports whether src[i] is preceded by an odd number of
// backslashes.
func escaped(src string, i int) bool {
	n := 0
	for i > 0 && src[i-1] == '\\' {
		n++
		i--
	}
	return n%2 == 1
}
