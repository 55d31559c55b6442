package controller

import (
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/drovertype"
)

// TestCopyTaskFields fails when drovertype.Task gains a field: copyTask
// must then learn to copy it.
func TestCopyTaskFields(t *testing.T) {
	var names []string
	for f := range reflect.TypeFor[drovertype.Task]().Fields() {
		names = append(names, f.Name)
	}
	for f := range reflect.TypeFor[drovertype.Options]().Fields() {
		names = append(names, "Options."+f.Name)
	}
	want := []string{
		"Kind", "FuncName", "FuncSource", "Args", "Kwargs", "Code", "Push", "Pull", "PullSingle", "Argv", "Shell", "Options",
		"Options.ClearBefore", "Options.ClearAfter", "Options.Retries", "Options.Recovery", "Options.Depend", "Options.Timeout",
		"Options.StepBudget",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("drovertype.Task changed: update copyTask (-known +now):\n%s", diff)
	}
}

// TestCopyTask: copyTask gives what Clone gives (an empty map as nil), and
// shares nothing mutable with its source.
func TestCopyTask(t *testing.T) {
	for _, src := range []*drovertype.Task{
		{Kind: drovertype.MapTask, FuncName: "f", FuncSource: "def f(): pass", Args: []any{int64(1), []any{"x"}, big.NewInt(7)},
			Kwargs: map[string]any{"k": map[string]any{"a": []byte("b")}},
			Options: drovertype.Options{ClearBefore: true, ClearAfter: true, Retries: 3, Timeout: time.Second, StepBudget: 99,
				Depend: &drovertype.Depend{Source: "p", IsFunc: true}}},
		{Kind: drovertype.MapTask, FuncName: "f", Args: []any{int64(1)}, Kwargs: map[string]any{}},
		{Kind: drovertype.StringTask, Code: "a = 1", Push: map[string]any{"a": []any{int64(1)}}, Pull: []string{"a"}, PullSingle: true},
		{Kind: drovertype.CommandTask, Argv: []string{"ls", "-l"}},
		{Kind: drovertype.CommandTask, Shell: "ls"},
	} {
		var b defBlock
		copyTask(&b.def, src, b.args[:0:len(b.args)])
		want := src.Clone()
		if len(want.Kwargs) == 0 {
			want.Kwargs = nil
		}
		opts := cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })
		if diff := cmp.Diff(want, &b.def, opts); diff != "" {
			t.Errorf("copyTask (-Clone +copyTask):\n%s", diff)
		}
		// Mutating the source does not reach the copy.
		if len(src.Args) > 1 {
			src.Args[1].([]any)[0] = "changed"
			if b.def.Args[1].([]any)[0] != "x" {
				t.Error("copy shares a nested list")
			}
			src.Kwargs["k"].(map[string]any)["a"].([]byte)[0] = 'z'
			if string(b.def.Kwargs["k"].(map[string]any)["a"].([]byte)) != "b" {
				t.Error("copy shares bytes")
			}
			src.Depend.Source = "q"
			if b.def.Depend.Source != "p" {
				t.Error("copy shares depend")
			}
		}
		if src.Argv != nil {
			src.Argv[0] = "rm"
			if b.def.Argv[0] != "ls" {
				t.Error("copy shares argv")
			}
		}
	}
}
