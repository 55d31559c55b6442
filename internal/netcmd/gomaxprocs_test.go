package netcmd

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/fabric"
)

// TestGomaxprocsFlag: --gomaxprocs of drover engine (default 1) and drover
// controller (default 0: Go's) sets the process's GOMAXPROCS, unless the
// value is 0 or the default while the environment sets GOMAXPROCS; a
// negative one is a usage error. The commands run in this process with a
// MaxProcs that records, and fail soon after (no connection file, a data
// directory that cannot be made).
func TestGomaxprocsFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-engine.json")
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	engine := []string{"engine", "--connect", missing, "--wait", "1ms", "--log-level", "error"}
	controller := []string{"controller", "--data", filepath.Join(notDir, "data"), "--log-level", "error"}
	for _, tc := range []struct {
		name  string
		args  []string
		env   string // GOMAXPROCS in the environment
		want  []int  // the calls of MaxProcs
		usage bool
	}{
		{"engine default", engine, "", []int{1}, false},
		{"engine default, GOMAXPROCS set", engine, "4", nil, false},
		{"engine flag wins over GOMAXPROCS", append(slices.Clone(engine), "--gomaxprocs", "3"), "4", []int{3}, false},
		{"engine 0: Go's default", append(slices.Clone(engine), "--gomaxprocs", "0"), "", nil, false},
		{"engine negative", append(slices.Clone(engine), "--gomaxprocs", "-1"), "", nil, true},
		{"engine -n 2 supervisor", append(slices.Clone(engine), "-n", "2", "--gomaxprocs", "2"), "", []int{2}, false},
		{"controller default: Go's", controller, "", nil, false},
		{"controller flag", append(slices.Clone(controller), "--gomaxprocs", "1"), "", []int{1}, false},
		{"controller negative", append(slices.Clone(controller), "--gomaxprocs", "-2"), "", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu    sync.Mutex
				calls []int
			)
			var out, errb strings.Builder
			getenv := func(k string) string {
				if k == "GOMAXPROCS" {
					return tc.env
				}
				return ""
			}
			root := testRoot(IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: getenv, Interrupt: make(chan os.Signal),
				Executable: func() (string, error) { return filepath.Join(dir, "no-such-drover"), nil },
				MaxProcs: func(n int) int {
					mu.Lock()
					defer mu.Unlock()
					calls = append(calls, n)
					return 2
				}})
			root.SetArgs(tc.args)
			err := root.ExecuteContext(waitCtx(t, 30*time.Second))
			if err == nil {
				t.Fatalf("%v: no error (the command should fail soon after applying --gomaxprocs)", tc.args)
			}
			if got := ExitCode(err) == ExitUsage; got != tc.usage {
				t.Errorf("%v: error %v: usage error %v, want %v", tc.args, err, got, tc.usage)
			}
			if tc.usage && !strings.Contains(err.Error(), "--gomaxprocs") {
				t.Errorf("usage error %q does not name --gomaxprocs", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(tc.want, calls); diff != "" {
				t.Errorf("%v (GOMAXPROCS=%q): MaxProcs calls (-want +got):\n%s", tc.args, tc.env, diff)
			}
		})
	}
}

// TestProcessEngineGomaxprocs: real engine processes run with the
// GOMAXPROCS --gomaxprocs gives (1 by default), or the environment's when
// the flag is not given; a task reports it (the test function
// gomaxprocs), sent to each engine by its property.
func TestProcessEngineGomaxprocs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := waitCtx(t, 60*time.Second)
	ctl := startInProc(t, "controller", "--data", dir, "--log-level", "warn")
	ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	engFile := filepath.Join(dir, fabric.FileName(fabric.RoleEngine))
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") {
			env = append(env, kv)
		}
	}
	cases := []struct {
		which string
		env   []string
		args  []string
		want  int64
	}{
		{"default", env, nil, 1},
		{"flag", env, []string{"--gomaxprocs", "2"}, 2},
		{"env", append(slices.Clone(env), "GOMAXPROCS=3"), nil, 3},
		{"flag-over-env", append(slices.Clone(env), "GOMAXPROCS=3"), []string{"--gomaxprocs", "2"}, 2},
	}
	for _, tc := range cases {
		args := append([]string{"engine", "--connect", engFile, "--name", tc.which, "--prop", "which=" + tc.which, "--log-level", "warn"}, tc.args...)
		eng := startProcEnv(t, dir, tc.env, args...)
		eng.out.wait(t, ctx, tc.which+" engine's ready line", prefixed(EngineReadyLine))
	}
	r, err := drover.Dial(ctx, filepath.Join(dir, fabric.FileName(fabric.RoleClient)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	for _, tc := range cases {
		task, err := drover.NewMapTask("gomaxprocs", nil, nil, drover.Options{
			Depend: &drovertype.Depend{Source: `properties["which"] == "` + tc.which + `"`}})
		if err != nil {
			t.Fatal(err)
		}
		id, err := r.Run(ctx, task)
		if err != nil {
			t.Fatal(err)
		}
		v, err := r.Result(ctx, id)
		if err != nil || v != tc.want {
			t.Errorf("engine %s: GOMAXPROCS %v (%v), want %d", tc.which, v, err, tc.want)
		}
	}
}
