package script

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/drover-dev/drover/drovertype"
)

func TestCompileDepend(t *testing.T) {
	t.Parallel()
	gpu := map[string]any{"gpu": true, "mem": int64(16), "tags": []any{"a", "b"}}
	none := map[string]any{}
	tests := []struct {
		src    string
		isFunc bool
		props  map[string]any
		want   bool
	}{
		{"properties.get('gpu', False)", false, gpu, true},
		{"properties.get('gpu', False)", false, none, false},
		{"properties['mem'] >= 8 and 'a' in properties['tags']", false, gpu, true},
		{"properties['mem'] >= 8", false, none, false}, // KeyError: not eligible
		{"'gpu' in properties", false, gpu, true},
		{"len(properties) == 3", false, gpu, true},
		{"sorted(properties.keys()) == ['gpu', 'mem', 'tags']", false, gpu, true},
		{"[k for k in properties] == ['gpu', 'mem', 'tags']", false, gpu, true},
		{"properties.items()[1] == ('mem', 16)", false, gpu, true},
		{"properties", false, gpu, true},   // truthy: not empty
		{"properties", false, none, false}, // falsy: empty
		{"1 // 0", false, gpu, false},
		{"fail('no')", false, gpu, false},
		{"[x for x in range(1000000)]", false, gpu, false}, // over the step budget
		{"lambda p: p['mem'] > 8", true, gpu, true},
		{"lambda p: p['mem'] > 32", true, gpu, false},
		{"lambda *args: True", true, none, true},
		{"def f(p):\n    return p.get('gpu')\n", true, gpu, true},
		{"def helper(x):\n    return x\ndef f(p):\n    return not helper(p.get('gpu'))\n", true, gpu, false},
		{"if True:\n    def f(p):\n        return True\n", true, none, true},
		{"def f(p):\n    return f(p)\n", true, gpu, false}, // no recursion
		{"def f(p):\n    print('x')\n    return True\n", true, gpu, true},
	}
	for _, tt := range tests {
		pred, err := CompileDepend(&drovertype.Depend{Source: tt.src, IsFunc: tt.isFunc})
		if err != nil {
			t.Errorf("CompileDepend(%q): %v", tt.src, err)
			continue
		}
		if got := pred(tt.props); got != tt.want {
			t.Errorf("CompileDepend(%q)(%v) = %v, want %v", tt.src, tt.props, got, tt.want)
		}
	}
}

func TestCompileDependErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src    string
		isFunc bool
		typ    string
		want   string
	}{
		{"properties[", false, "SyntaxError", "depend: <depend>:1:12: got end of file, want primary expression"},
		{"x = 1", false, "SyntaxError", "depend: <depend>:1:4: got '=' after expression, want EOF"},
		{"jobs", false, "SyntaxError", "depend: <depend>:1:1: undefined: jobs"},
		{"tc.engines()", false, "SyntaxError", "depend: <depend>:1:1: undefined: tc"},
		{"3", true, "TypeError", "depend: want a function of one argument, got a int"},
		{"lambda: True", true, "TypeError", "depend: lambda takes no argument; it is called with the engine's properties"},
		{"x = 1", true, "TypeError", "depend: the source defines no function (want a def, or an expression whose value is a function)"},
		{"def f(p):\n    return undefined\n", true, "SyntaxError", "depend: <depend>:2:12: undefined: undefined"},
		{"fail('at compile time')", true, "SyntaxError", "depend: fail: at compile time"},
	}
	for _, tt := range tests {
		_, err := CompileDepend(&drovertype.Depend{Source: tt.src, IsFunc: tt.isFunc})
		var te *drovertype.TaskError
		if !errors.As(err, &te) || te.Kind != drovertype.InvalidArgument || te.Type != tt.typ || te.Message != tt.want {
			t.Errorf("CompileDepend(%q, %v) = %#v, want %s %q", tt.src, tt.isFunc, err, tt.typ, tt.want)
		}
	}
	if _, err := CompileDepend(nil); err == nil {
		t.Error("CompileDepend(nil): no error")
	}
}

// TestDependConcurrent evaluates one predicate from many goroutines (run
// with -race), and checks that it keeps nothing of the properties.
func TestDependConcurrent(t *testing.T) {
	t.Parallel()
	pred, err := CompileDepend(&drovertype.Depend{Source: "lambda p: p['n'] % 2 == 0 and len(p['l']) == 2", IsFunc: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				n := int64(g*1000 + i)
				props := map[string]any{"n": n, "l": []any{int64(1), "x"}}
				if got := pred(props); got != (n%2 == 0) {
					t.Errorf("pred(%d) = %v", n, got)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestDependKeepsNoProperties: a predicate that returns its argument
// cannot use it after the call.
func TestDependKeepsNoProperties(t *testing.T) {
	t.Parallel()
	pred, err := CompileDepend(&drovertype.Depend{Source: "properties", IsFunc: false})
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]any{"a": int64(1)}
	if !pred(props) {
		t.Fatal("pred = false")
	}
	pv := &propsView{m: props}
	if s := pv.String(); !strings.Contains(s, `"a": 1`) {
		t.Errorf("String = %s", s)
	}
}

func BenchmarkDepend(b *testing.B) {
	pred, err := CompileDepend(&drovertype.Depend{Source: "properties.get('gpu', False) and properties['mem'] >= 8"})
	if err != nil {
		b.Fatal(err)
	}
	props := map[string]any{"gpu": true, "mem": int64(16), "host": "h1"}
	for b.Loop() {
		if !pred(props) {
			b.Fatal("false")
		}
	}
}
