package script

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// FuzzIsIncomplete feeds arbitrary input to IsIncomplete: it must not
// panic, and a text that parses and holds no compound statement is
// complete.
func FuzzIsIncomplete(f *testing.F) {
	for _, s := range []string{
		"x = 1", "f(1,", "'''", "def f():\n    return 1", "if a:\n    x = [", "s = 'é' + (", "a \\",
		"#(", "'''a\\'''", "\"\"\"", "x = {\n", "for x in y: pass\n", ")", "\t\n ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		got := IsIncomplete(src)
		f, err := Dialect().Parse("<stdin>", src, 0)
		if err != nil || strings.TrimSpace(src) == "" {
			return
		}
		compound := false
		for _, st := range f.Stmts {
			switch st.(type) {
			case *syntax.DefStmt, *syntax.IfStmt, *syntax.ForStmt, *syntax.WhileStmt:
				compound = true
			}
		}
		if !compound && got {
			t.Errorf("IsIncomplete(%q) = true for a complete simple statement", src)
		}
	})
}

// FuzzRewrite checks the namespace rewrite (namespace.go): whatever source
// resolves as a REPL chunk must, once rewritten, still resolve and compile.
// The thread is cancelled beforehand, so nothing runs.
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{
		"x = 1", "def f(a, b=g, *c, **d):\n    return [a + x for x in c if d] + [lambda y=x: y + g]",
		"a, (b, [c]) = 1, (2, [3])", "for k, v in D.items():\n    g += k\n", "L[0] += g",
		"def f():\n    return later()\ndef later():\n    return f", "while g:\n    g -= 1",
		"if g:\n    def h(): return h\nelse:\n    h = None", "print(len(g), g.x, {g: g}[g], g[1:2:g])",
		"x = g if g else -g", "f(a=g, *g, **g)", "g.attr = g", "[[y for y in g] for z in g]",
	} {
		f.Add(s)
	}
	ns := &namespace{vars: starlark.StringDict{"g": starlark.MakeInt(1), "D": starlark.NewDict(0), "L": starlark.NewList(nil)}}
	f.Fuzz(func(t *testing.T, src string) {
		s := &Session{ns: ns, modules: map[*starlark.Module]*chunkInfo{}}
		s.ref = &nsRef{s: s}
		for _, repl := range []bool{false, true} {
			file, _, _, err := compileChunk("fuzz", src, ns, repl)
			if err != nil {
				return
			}
			th := &starlark.Thread{}
			th.Cancel("fuzz: compile only")
			err = starlark.ExecREPLChunk(file, th, starlark.StringDict{nsName: s.ref})
			var rl resolve.ErrorList
			var se syntax.Error
			if errors.As(err, &rl) || errors.As(err, &se) {
				t.Fatalf("rewritten %q (repl %v) does not compile: %v", src, repl, err)
			}
			if err == nil || !strings.Contains(err.Error(), "cancelled") {
				t.Fatalf("rewritten %q (repl %v): %v, want the cancellation", src, repl, err)
			}
		}
	})
}

// FuzzComplete: completion of any typed line never panics, never runs code
// (the function f below records calls), and returns candidates that start
// with the word they replace.
func FuzzComplete(f *testing.F) {
	for _, s := range []string{
		"jobs[0].st", `"abc".up`, "[1, f()].ap", `{"a": [1]}["a"].ap`, "x[-1].", "f().x", "(((", "a.b.c.",
		`"a.b`, "# x.", "1.", `deep["k"][-1].up`, "[" + strings.Repeat("[", 50) + "].x",
	} {
		f.Add(s, len(s))
	}
	s, err := NewSession(&Config{Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close(context.Background())
	calls := 0
	s.ns.set("f", starlark.NewBuiltin("f", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		calls++
		return starlark.String("x"), nil
	}))
	s.ns.set("deep", starlark.NewDict(0))
	f.Fuzz(func(t *testing.T, line string, pos int) {
		cands, from := s.Complete(line, pos)
		if calls != 0 {
			t.Fatalf("Complete(%q) called a function", line)
		}
		p := min(max(pos, 0), len(line))
		if from < 0 || from > p {
			t.Fatalf("Complete(%q, %d): start %d out of range", line, pos, from)
		}
		for _, c := range cands {
			if !strings.HasPrefix(c, line[from:p]) {
				t.Fatalf("Complete(%q, %d): candidate %q does not start with %q", line, pos, c, line[from:p])
			}
		}
	})
}
