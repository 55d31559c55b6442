package netcmd

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/fabric"
)

// announced waits for the ANNOUNCE line of tag on out and returns the pid
// of the engine process that runs it.
func announced(t *testing.T, ctx context.Context, out *lines, tag string) int {
	t.Helper()
	line := out.wait(t, ctx, "announce "+tag, prefixed(announceLine+" "+tag+" "))
	f := strings.Fields(line)
	pid, err := strconv.Atoi(f[len(f)-1])
	if err != nil {
		t.Fatalf("announce line %q: %v", line, err)
	}
	return pid
}

// enginePIDs returns the pids drover engine -n printed.
func enginePIDs(t *testing.T, ctx context.Context, out *lines, n int) []int {
	t.Helper()
	var pids []int
	for i := range n {
		line := out.wait(t, ctx, "engine process "+strconv.Itoa(i), prefixed("drover engine: started engine process "+strconv.Itoa(i)+" "))
		_, rest, _ := strings.Cut(line, "(pid ")
		pid, err := strconv.Atoi(strings.TrimSuffix(rest, ")"))
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// TestProcessFarm: a controller process and two engine processes started
// by drover engine -n 2. 1,000 tasks through drover.Dial; kill -9 of the
// engine running a long task with retries=1: the task runs again on the
// other engine and succeeds; SIGTERM of an engine running a task: it
// finishes the task, says goodbye and exits 0; drover engine exits when
// both have exited.
func TestProcessFarm(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := waitCtx(t, 90*time.Second)
	ctl := startProc(t, dir, "controller", "--failure-penalty", "0")
	ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	engs := startProc(t, dir, "engine", "-n", "2", "--log-level", "warn")
	pids := enginePIDs(t, ctx, engs.out, 2)
	ctl.err.count(t, ctx, "engine registered", 2, contains("controller: engine registered"))

	r, err := drover.Dial(ctx, filepath.Join(dir, fabric.FileName(fabric.RoleClient)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
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

	// kill -9 in the middle of a long task with retries=1.
	long, _ := drover.NewMapTask("announce", []any{"long", 1.0}, nil, drover.Options{Retries: 1})
	id, err := r.Run(ctx, long)
	if err != nil {
		t.Fatal(err)
	}
	victim := announced(t, ctx, engs.out, "long")
	survivor := pids[0]
	if victim == pids[0] {
		survivor = pids[1]
	} else if victim != pids[1] {
		t.Fatalf("task ran in pid %d, not an engine process %v", victim, pids)
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	v, err := r.Result(ctx, id)
	if err != nil || v != "long" {
		t.Fatalf("long task after kill -9 = %v, %v; want it retried and done", v, err)
	}
	if n := strings.Count(engs.out.String(), announceLine+" long "+strconv.Itoa(survivor)); n != 1 {
		t.Errorf("the retry ran %d times on the other engine (pid %d), want once:\n%s", n, survivor, engs.out.String())
	}
	engs.out.wait(t, ctx, "killed engine's exit", contains("(pid "+strconv.Itoa(victim)+") signal: killed"))
	ctl.err.wait(t, ctx, "lost engine", contains("controller: engine lost"))

	// SIGTERM in the middle of a task (no retries): the engine finishes
	// it, then leaves.
	last, _ := drover.NewMapTask("announce", []any{"last", 0.5}, nil, drover.Options{})
	id, err = r.Run(ctx, last)
	if err != nil {
		t.Fatal(err)
	}
	if pid := announced(t, ctx, engs.out, "last"); pid != survivor {
		t.Fatalf("task ran in pid %d, want %d", pid, survivor)
	}
	if err := syscall.Kill(survivor, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if v, err := r.Result(ctx, id); err != nil || v != "last" {
		t.Fatalf("task of the engine that got SIGTERM = %v, %v; want it finished", v, err)
	}
	ctl.err.wait(t, ctx, "engine left", contains("controller: engine left"))
	engs.out.wait(t, ctx, "engine's exit", contains("(pid "+strconv.Itoa(survivor)+") exited"))
	err = engs.wait(t, ctx)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitFailure {
		t.Errorf("drover engine -n 2 exit: %v, want status 1 (one engine process was killed)", err)
	}
	if !strings.Contains(engs.err.String(), "1 of 2 engine processes failed") {
		t.Errorf("drover engine -n 2 stderr:\n%s", engs.err.String())
	}
	infos, err := r.Engines(ctx)
	if err != nil || len(infos) != 0 {
		t.Errorf("Engines = %+v, %v; want none", infos, err)
	}
	ctl.signal(t, syscall.SIGTERM)
	if err := ctl.wait(t, ctx); err != nil {
		t.Errorf("controller exit: %v", err)
	}
}

// TestProcessControllerRestart: engines survive their controller: a
// controller restarted on the same --data (same port, same secrets) gets
// them back, and drover engine -n 2 leaves cleanly on SIGTERM.
func TestProcessControllerRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := waitCtx(t, 90*time.Second)
	ctl := startProc(t, dir, "controller")
	_, url1 := readyInfo(ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine)))
	engs := startProc(t, dir, "engine", "-n", "2")
	ctl.err.count(t, ctx, "engine registered", 2, contains("controller: engine registered"))
	cliFile := filepath.Join(dir, fabric.FileName(fabric.RoleClient))
	square := func(r *drover.Remote) {
		t.Helper()
		st, _ := drover.NewStringTask("y = x * x", map[string]any{"x": 12}, "y", drover.Options{})
		id, err := r.Run(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		v, err := r.Result(ctx, id)
		if err != nil || v.(*drover.TaskResult).Results["y"] != int64(144) {
			t.Fatalf("string task = %v, %v", v, err)
		}
	}
	r, err := drover.Dial(ctx, cliFile)
	if err != nil {
		t.Fatal(err)
	}
	square(r)
	_ = r.Close(context.Background())

	ctl.signal(t, syscall.SIGTERM)
	if err := ctl.wait(t, ctx); err != nil {
		t.Fatalf("controller exit: %v", err)
	}
	ctl2 := startProc(t, dir, "controller")
	_, url2 := readyInfo(ctl2.out.wait(t, ctx, "ready line", prefixed(ReadyLine)))
	if url2 != url1 {
		t.Errorf("restarted controller on %s, want the same address %s", url2, url1)
	}
	ctl2.err.count(t, ctx, "engine registered", 2, contains("controller: engine registered"))
	r, err = drover.Dial(ctx, cliFile)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	square(r)
	infos, err := r.Engines(ctx)
	if err != nil || len(infos) != 2 {
		t.Errorf("Engines = %+v, %v; want 2", infos, err)
	}

	engs.signal(t, syscall.SIGTERM)
	if err := engs.wait(t, ctx); err != nil {
		t.Errorf("drover engine -n 2 exit: %v\n%s", err, engs.err.String())
	}
	ctl2.err.count(t, ctx, "engine left", 2, contains("controller: engine left"))
	ctl2.signal(t, syscall.SIGTERM)
	if err := ctl2.wait(t, ctx); err != nil {
		t.Errorf("controller exit: %v", err)
	}
}

// TestProcessMaxMemory: an engine started with --max-memory runs what fits
// and dies alone when a task needs more (the hard limit, Linux); the
// controller reports the task's engine lost.
func TestProcessMaxMemory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := waitCtx(t, 60*time.Second)
	ctl := startProc(t, dir, "controller", "--log-level", "info")
	ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	// 256MiB: room for the engine to start under -race on a loaded
	// machine; the big task needs gigabytes.
	eng := startProc(t, dir, "engine", "--max-memory", "256MiB")
	ctl.err.wait(t, ctx, "engine registered", contains("controller: engine registered"))
	if !strings.Contains(eng.err.String(), "memory limit") {
		t.Errorf("the engine does not log its memory limit:\n%s", eng.err.String())
	}
	r, err := drover.Dial(ctx, filepath.Join(dir, fabric.FileName(fabric.RoleClient)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	small, _ := drover.NewStringTask("n = len(list(range(100000)))", nil, "n", drover.Options{})
	id, _ := r.Run(ctx, small)
	if v, err := r.Result(ctx, id); err != nil || v.(*drover.TaskResult).Results["n"] != int64(100000) {
		t.Fatalf("small task = %v, %v", v, err)
	}
	big, _ := drover.NewStringTask("x = list(range(50000000))", nil, "", drover.Options{})
	id, _ = r.Run(ctx, big)
	v, err := r.Result(ctx, id)
	if tr, _ := v.(*drover.TaskResult); !errors.Is(err, drover.ErrEngineLost) && (tr == nil || !errors.Is(tr.Failure, drover.ErrEngineLost)) {
		t.Fatalf("big task = %v, %v; want its engine lost", v, err)
	}
	if err := eng.wait(t, ctx); err == nil {
		t.Errorf("the engine process survived a task over its memory limit")
	}
	// "fatal error: runtime: out of memory" (with -race: "too many
	// address space collisions for -race mode"); when an mmap fails inside
	// the garbage collector, the runtime dies of a SIGSEGV instead.
	if e := eng.err.String(); !strings.Contains(e, "fatal error:") && !strings.Contains(e, "SIGSEGV") {
		t.Errorf("engine stderr does not say why it died:\n%.2000s", eng.err.String())
	}
}
