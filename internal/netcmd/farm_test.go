package netcmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/fabric"
)

// count waits until n lines matching match have been written.
func (l *lines) count(t testing.TB, ctx context.Context, what string, n int, match func(string) bool) {
	t.Helper()
	for {
		l.mu.Lock()
		c := 0
		for _, line := range l.all {
			if match(line) {
				c++
			}
		}
		if c >= n {
			l.mu.Unlock()
			return
		}
		ch := make(chan string, 1)
		l.waiters = append(l.waiters, &lineWaiter{match: match, ch: ch})
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("waiting for %d× %s: %v; output so far:\n%s", n, what, ctx.Err(), l.String())
		}
	}
}

// runCmd runs a command of testRoot in this process to its end.
func runCmd(t testing.TB, args ...string) (string, error) {
	t.Helper()
	var out, errb strings.Builder
	root := testRoot(IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: noEnv, Interrupt: make(chan os.Signal), MaxProcs: keepMaxProcs})
	root.SetArgs(args)
	err := root.ExecuteContext(waitCtx(t, 30*time.Second))
	if errb.Len() > 0 {
		t.Logf("%s: stderr:\n%s", strings.Join(args, " "), errb.String())
	}
	return out.String(), err
}

// TestClientNoController: a client command without a controller says so.
func TestClientNoController(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, cmd := range []string{"status", "engines"} {
		_, err := runCmd(t, cmd, "--connect", filepath.Join(dir, "drover-client.json"))
		if ExitCode(err) != ExitFailure || !strings.Contains(err.Error(), "is a controller running?") {
			t.Errorf("%s: %v, want a clear error", cmd, err)
		}
	}
	_, err := runCmd(t, "engine", "--connect", filepath.Join(dir, "drover-engine.json"), "--wait", "100ms")
	if ExitCode(err) != ExitFailure || !strings.Contains(err.Error(), "is a controller running?") {
		t.Errorf("engine: %v, want a clear error", err)
	}
}

// TestEngineCommandsInProcess: a controller and two engines, each a
// command run in this process; a client maps 1,000 tasks over them; an
// engine stopped leaves cleanly; the engines' properties are the --prop
// values.
func TestEngineCommandsInProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := waitCtx(t, 60*time.Second)
	ctl := startInProc(t, "controller", "--data", dir, "--failure-penalty", "0")
	ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	engFile := filepath.Join(dir, fabric.FileName(fabric.RoleEngine))
	e1 := startInProc(t, "engine", "--connect", engFile, "--name", "e1", "--prop", "gpu=true", "--prop", "site=lab", "--log-level", "warn")
	e2 := startInProc(t, "engine", "--connect", engFile, "--name", "e2", "--log-level", "warn")
	ctl.err.count(t, ctx, "engine registered", 2, contains("controller: engine registered"))

	r, err := drover.Dial(ctx, filepath.Join(dir, fabric.FileName(fabric.RoleClient)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	infos, err := r.Engines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, in := range infos {
		byName[in.Name] = in.Properties
	}
	wantProps := map[string]map[string]any{"e1": {"gpu": true, "site": "lab"}, "e2": nil}
	if diff := cmp.Diff(wantProps, byName, cmp.Transformer("nilEmpty", func(m map[string]any) map[string]any {
		if len(m) == 0 {
			return nil
		}
		return m
	})); diff != "" {
		t.Errorf("engines' properties (-want +got):\n%s", diff)
	}

	proto, _ := drover.NewMapTask("echo", nil, nil, drover.Options{})
	xs := make([]any, 1000)
	for i := range xs {
		xs[i] = int64(i)
	}
	got, err := r.Map(ctx, proto, xs)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(xs, got); diff != "" {
		t.Fatalf("Map (-want +got):\n%s", diff)
	}

	// drover status and drover engines.
	cliFile := filepath.Join(dir, fabric.FileName(fabric.RoleClient))
	out, err := runCmd(t, "status", "--connect", cliFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"0 pending, 0 scheduled, 1000 succeeded, 0 failed", "engines:   2 (0 busy)",
		"durable: journal at " + filepath.Join(dir, "jetstream"),
		`gpu=true site="lab"`, "e2"} {
		if !strings.Contains(out, want) {
			t.Errorf("drover status does not say %q:\n%s", want, out)
		}
	}
	t.Logf("drover status:\n%s", out)
	out, err = runCmd(t, "status", "--connect", cliFile, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if !rep.Durable || rep.Tasks.Succeeded != 1000 || len(rep.Engines) != 2 || rep.Engines[0].ID != 0 {
		t.Errorf("status --json = %+v", rep)
	}
	out, err = runCmd(t, "engines", "--connect", cliFile, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var es []drover.EngineInfo
	if err := json.Unmarshal([]byte(out), &es); err != nil || len(es) != 2 {
		t.Errorf("engines --json = %v, %v\n%s", es, err, out)
	}
	out, err = runCmd(t, "engines", "--connect", cliFile)
	if err != nil || !strings.Contains(out, "ID  NAME") || !strings.Contains(out, "e1") {
		t.Errorf("engines = %v\n%s", err, out)
	}

	// e1 leaves cleanly: the controller hears its goodbye.
	if err := e1.stop(t); err != nil {
		t.Fatalf("engine e1: %v\n%s", err, e1.err.String())
	}
	ctl.err.wait(t, ctx, "engine left", contains("controller: engine left"))
	if !strings.Contains(e1.out.String(), "drover engine e1 left") {
		t.Errorf("e1 output:\n%s", e1.out.String())
	}
	infos, err = r.Engines(ctx)
	if err != nil || len(infos) != 1 || infos[0].Name != "e2" {
		t.Errorf("Engines after e1 left = %+v, %v", infos, err)
	}
	if err := ctl.stop(t); err != nil {
		t.Fatalf("controller: %v", err)
	}
	if err := e2.stop(t); err != nil {
		t.Fatalf("engine e2: %v\n%s", err, e2.err.String())
	}
}
