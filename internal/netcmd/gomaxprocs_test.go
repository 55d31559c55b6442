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

// TestGomaxprocsFlag: drover engine gives each of its -n processes its
// share of the CPUs by default (at least 1), drover controller a quarter
// of them (at least 1), or --gomaxprocs; both leave GOMAXPROCS of the
// environment alone; a negative value is a usage error. The commands run
// in this process with a MaxProcs that pretends to have 4 CPUs (or cpus)
// and records the changes, and fail soon after (no connection file, no
// program to start, a data directory that cannot be made).
func TestGomaxprocsFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-engine.json")
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	engine := []string{"engine", "--connect", missing, "--wait", "1ms", "--log-level", "error"}
	with := func(base []string, more ...string) []string { return append(slices.Clone(base), more...) }
	controller := []string{"controller", "--data", filepath.Join(notDir, "data"), "--log-level", "error"}
	for _, tc := range []struct {
		name  string
		args  []string
		env   string // GOMAXPROCS in the environment
		want  []int  // the changes MaxProcs was asked for
		usage bool
		cpus  int // 0: 4
	}{
		{"engine alone: every CPU", engine, "", nil, false, 0},
		{"engine -n 2: 2 CPUs each", with(engine, "-n", "2"), "", []int{2}, false, 0},
		{"engine -n 3: 1 CPU each", with(engine, "-n", "3"), "", []int{1}, false, 0},
		{"engine -n 8: at least 1", with(engine, "-n", "8"), "", []int{1}, false, 0},
		{"engine -n 2, GOMAXPROCS set", with(engine, "-n", "2"), "3", nil, false, 0},
		{"engine -n 2, GOMAXPROCS=0 (Go ignores it)", with(engine, "-n", "2"), "0", []int{2}, false, 0},
		{"engine -n 2, GOMAXPROCS not a number", with(engine, "-n", "2"), "many", []int{2}, false, 0},
		{"engine flag wins over GOMAXPROCS", with(engine, "--gomaxprocs", "3"), "2", []int{3}, false, 0},
		{"engine -n 2 --gomaxprocs 3", with(engine, "-n", "2", "--gomaxprocs", "3"), "", []int{3}, false, 0},
		{"engine 0: Go's default", with(engine, "-n", "2", "--gomaxprocs", "0"), "", nil, false, 0},
		{"engine negative", with(engine, "--gomaxprocs", "-1"), "", nil, true, 0},
		{"controller: a quarter of 4 CPUs", controller, "", []int{1}, false, 0},
		{"controller: a quarter of 16 CPUs", controller, "", []int{4}, false, 16},
		{"controller: a quarter of 2 CPUs, at least 1", controller, "", []int{1}, false, 2},
		{"controller, GOMAXPROCS set", controller, "3", nil, false, 0},
		{"controller 0: Go's default", with(controller, "--gomaxprocs", "0"), "", nil, false, 0},
		{"controller flag", with(controller, "--gomaxprocs", "2"), "", []int{2}, false, 0},
		{"controller negative", with(controller, "--gomaxprocs", "-2"), "", nil, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu    sync.Mutex
				cur   = 4
				calls []int
			)
			if tc.cpus > 0 {
				cur = tc.cpus
			}
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
					prev := cur
					if n > 0 {
						calls = append(calls, n)
						cur = n
					}
					return prev
				}})
			root.SetArgs(tc.args)
			err := root.ExecuteContext(waitCtx(t, 30*time.Second))
			if err == nil {
				t.Fatalf("%v: no error (the command should fail soon after setting GOMAXPROCS)", tc.args)
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
				t.Errorf("%v (GOMAXPROCS=%q): GOMAXPROCS changes (-want +got):\n%s", tc.args, tc.env, diff)
			}
		})
	}
}

// TestProcessEngineGomaxprocs: real engine processes run with the
// GOMAXPROCS drover engine gives them: Go's (every CPU) for one engine
// alone or with --gomaxprocs 0, their share of the CPUs for each of -n 2,
// the flag's, or the environment's when the flag is not given. A task
// reports its engine's pid and GOMAXPROCS (the test function gomaxprocs),
// sent to each engine by its property; with a window of 1, two tasks of
// 300 ms sent together reach both processes of a -n 2.
func TestProcessEngineGomaxprocs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := waitCtx(t, 60*time.Second)
	ctl := startInProc(t, "controller", "--data", dir, "--window", "1", "--log-level", "warn")
	ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	engFile := filepath.Join(dir, fabric.FileName(fabric.RoleEngine))
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") {
			env = append(env, kv)
		}
	}
	withEnv := append(slices.Clone(env), "GOMAXPROCS=3")
	cases := []struct {
		which string
		env   []string
		args  []string
		names []string // of the engine processes
	}{
		{"zero", env, []string{"--gomaxprocs", "0"}, []string{"zero"}},
		{"alone", env, nil, []string{"alone"}},
		{"pair", env, []string{"-n", "2"}, []string{"pair-0", "pair-1"}},
		{"flag", env, []string{"--gomaxprocs", "3"}, []string{"flag"}},
		{"env", withEnv, []string{"-n", "2"}, []string{"env-0", "env-1"}},
		{"flag-over-env", withEnv, []string{"--gomaxprocs", "2"}, []string{"flag-over-env"}},
	}
	for _, tc := range cases {
		args := append([]string{"engine", "--connect", engFile, "--name", tc.which, "--prop", "which=" + tc.which, "--log-level", "warn"}, tc.args...)
		eng := startProcEnv(t, dir, tc.env, args...)
		for _, name := range tc.names {
			eng.out.wait(t, ctx, name+"'s ready line", prefixed(EngineReadyLine+" "+name+" "))
		}
	}
	r, err := drover.Dial(ctx, filepath.Join(dir, fabric.FileName(fabric.RoleClient)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	// got runs n tasks together on the engines of which and returns the
	// GOMAXPROCS of each engine process that ran one, by pid.
	got := func(which string, n int) map[int64]int64 {
		t.Helper()
		task, err := drover.NewMapTask("gomaxprocs", []any{0.3}, nil, drover.Options{
			Depend: &drovertype.Depend{Source: `properties["which"] == "` + which + `"`}})
		if err != nil {
			t.Fatal(err)
		}
		var ids []drover.TaskID
		for range n {
			id, err := r.Run(ctx, task)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		byPID := map[int64]int64{}
		for _, id := range ids {
			v, err := r.Result(ctx, id)
			pair, ok := v.([]any)
			if err != nil || !ok || len(pair) != 2 {
				t.Fatalf("engine %s: gomaxprocs task: %v, %v", which, v, err)
			}
			byPID[pair[0].(int64)] = pair[1].(int64)
		}
		return byPID
	}
	var cpus int64
	for _, n := range got("zero", 1) {
		cpus = n
	}
	for _, tc := range []struct {
		which string
		procs int
		want  int64
	}{
		{"alone", 1, cpus},
		{"pair", 2, int64(cpuShare(int(cpus), 2))},
		{"flag", 1, 3},
		{"env", 2, 3},
		{"flag-over-env", 1, 2},
	} {
		byPID := got(tc.which, tc.procs)
		if len(byPID) != tc.procs {
			t.Errorf("engine %s: %d tasks ran on %d processes (%v), want %d", tc.which, tc.procs, len(byPID), byPID, tc.procs)
		}
		for pid, n := range byPID {
			if n != tc.want {
				t.Errorf("engine %s, pid %d: GOMAXPROCS %d, want %d (Go's default here: %d)", tc.which, pid, n, tc.want, cpus)
			}
		}
	}
}
