package script

import (
	"fmt"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// TestShipFunction: functions defined in a session are shipped by their
// source (the .star tests check more forms).
func TestShipFunction(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	ts.exec(t, "def top(x, *args, y=[1, 2][0], **kw):\n    return x[1:2] + args[0]  # comment\n\n# trailing comment\n")
	ts.exec(t, "pairs = [(lambda a: a[0]), lambda b=(1, 2): (b,)]")
	ts.exec(t, "if True:\n    def doc(x):\n        '''A doc\n        string.'''\n        return x\n")
	ts.exec(t, "def outer():\n    def inner(a):\n        return a[0]\n    return inner\n")
	ts.exec(t, "def closure():\n    k = 1\n    return lambda: k\n")
	g := ts.Globals()
	tests := []struct {
		fn         starlark.Value
		src, name  string
		wantErrPfx string
	}{
		{fn: g["top"], name: "top", src: "def top(x, *args, y=[1, 2][0], **kw):\n    return x[1:2] + args[0]\n"},
		{fn: g["pairs"].(*starlark.List).Index(0), name: "_lambda", src: "def _lambda(a):\n    return (a[0])\n"},
		{fn: g["pairs"].(*starlark.List).Index(1), name: "_lambda", src: "def _lambda(b=(1, 2)):\n    return ((b,))\n"},
		{fn: g["doc"], name: "doc", src: "if True:\n    def doc(x):\n        '''A doc\n        string.'''\n        return x\n"},
		{fn: ts.exec(t, "outer()"), name: "inner", src: "def inner(a):\n    return a[0]\n"},
		{fn: ts.exec(t, "closure()"), wantErrPfx: "TypeError: a task function cannot be a closure: lambda uses k"},
	}
	for _, tt := range tests {
		sh, err := ts.shipFunction(tt.fn.(*starlark.Function))
		if tt.wantErrPfx != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErrPfx) {
				t.Errorf("ship %s: error %v, want %q", tt.fn, err, tt.wantErrPfx)
			}
			continue
		}
		if err != nil {
			t.Errorf("ship %s: %v", tt.fn, err)
			continue
		}
		if sh.name != tt.name || sh.source != tt.src {
			t.Errorf("ship %s = %q %q, want %q %q", tt.fn, sh.name, sh.source, tt.name, tt.src)
		}
	}

	// A function the session has no source for (defined by an expression
	// job's compiler) is refused.
	fn, err := starlark.ExprFuncOptions(Dialect(), "<expr>", "lambda: 1", nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := starlark.Call(&starlark.Thread{}, fn, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.shipFunction(v.(*starlark.Function)); err == nil || !strings.Contains(err.Error(), "the source of function lambda is not known") {
		t.Errorf("ship a function without source: %v", err)
	}
}

// fingerprint describes the syntax of nodes: their types, names and
// literal values, in order (not their positions).
func fingerprint(nodes ...syntax.Node) string {
	var b strings.Builder
	for _, n := range nodes {
		if n == nil {
			continue
		}
		syntax.Walk(n, func(n syntax.Node) bool {
			fmt.Fprintf(&b, "%T", n)
			switch x := n.(type) {
			case *syntax.Ident:
				b.WriteString(" " + x.Name)
			case *syntax.Literal:
				fmt.Fprintf(&b, " %v", x.Value)
			case *syntax.BinaryExpr:
				b.WriteString(" " + x.Op.String())
			case *syntax.UnaryExpr:
				b.WriteString(" " + x.Op.String())
			}
			b.WriteString(";")
			return true
		})
	}
	return b.String()
}

// shippedDef parses shipped source and returns its def named name.
func shippedDef(src, name string) (*syntax.DefStmt, error) {
	f, err := Dialect().Parse("<shipped>", src, 0)
	if err != nil {
		return nil, err
	}
	var def *syntax.DefStmt
	for _, st := range f.Stmts {
		if ifs, ok := st.(*syntax.IfStmt); ok && len(ifs.True) == 1 {
			st = ifs.True[0]
		}
		if d, ok := st.(*syntax.DefStmt); ok && d.Name.Name == name {
			def = d
		}
	}
	if def == nil || len(f.Stmts) != 1 {
		return nil, fmt.Errorf("no single def %s at top level", name)
	}
	return def, nil
}

// FuzzFunctionSource ships every def and lambda of arbitrary source: the
// shipped source must parse and define the same function (the same syntax
// tree, but for positions).
func FuzzFunctionSource(f *testing.F) {
	for _, s := range []string{
		"def f(x):\n    return x[0]\n",
		"if a:\n    def g(y, *z, **w):\n        return y[1:] + (y, z)\n    x = 1\nelse:\n    pass\n",
		"l = (lambda a,\n  b=1: a +\n b)\n",
		"def h():\n    '''doc\n  text'''\n    return [1,\n2]\n",
		"def o():\n    def i(a):\n        return a\n    return i\n",
		"x = [lambda: 1, lambda q: (q,)]\n",
		"for i in x:\n\tdef t(p):\n\t\treturn p\n",
		"def u(a=f(1)[2], b=-1): return a if b else {a: b}\n",
		"def é(x):\r\n    return 'ü' + x\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		file, err := Dialect().Parse("<fuzz>", src, 0)
		if err != nil {
			return
		}
		syntax.Walk(file, func(n syntax.Node) bool {
			var pos syntax.Position
			var want string
			name := lambdaName
			switch x := n.(type) {
			case *syntax.DefStmt:
				pos, name = x.Def, x.Name.Name
				want = fingerprint(&syntax.DefStmt{Name: x.Name, Params: x.Params, Body: x.Body})
			case *syntax.LambdaExpr:
				pos = x.Lambda
				params := make([]syntax.Node, len(x.Params))
				for i, p := range x.Params {
					params[i] = p
				}
				want = fingerprint(append(params, x.Body)...)
			default:
				return true
			}
			sh, err := functionSource("<fuzz>", src, posKey(pos))
			if err != nil {
				t.Fatalf("functionSource(%q, %v): %v", src, pos, err)
			}
			if sh.name != name {
				t.Fatalf("functionSource(%q, %v): name %q, want %q", src, pos, sh.name, name)
			}
			def, err := shippedDef(sh.source, name)
			if err != nil {
				t.Fatalf("functionSource(%q, %v) = %q: %v", src, pos, sh.source, err)
			}
			var got string
			if _, isLambda := n.(*syntax.LambdaExpr); isLambda {
				params := make([]syntax.Node, len(def.Params))
				for i, p := range def.Params {
					params[i] = p
				}
				ret, ok := def.Body[0].(*syntax.ReturnStmt)
				if !ok || len(def.Body) != 1 {
					t.Fatalf("functionSource(%q, %v) = %q: not a def returning the body", src, pos, sh.source)
				}
				got = fingerprint(append(params, ret.Result.(*syntax.ParenExpr).X)...)
			} else {
				got = fingerprint(&syntax.DefStmt{Name: def.Name, Params: def.Params, Body: def.Body})
			}
			if got != want {
				t.Fatalf("functionSource(%q, %v) = %q:\n got %s\nwant %s", src, pos, sh.source, got, want)
			}
			return true
		})
	})
}
