package netcmd

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/fabric"
)

// TestEngineFlags: engine flags that cannot apply are usage errors naming
// the flag; the help says what the defaults and limits are.
func TestEngineFlags(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "drover-engine.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-memory", "1MiB"}, "--max-memory 1MiB: must be at least 32 MiB"},
		{[]string{"--max-memory", "31MiB"}, "--max-memory 31MiB: must be at least 32 MiB"},
		{[]string{"--prefix", "other"}, "--prefix is for NATS URLs"},
		{[]string{"--prefix", fabric.DefaultPrefix}, "--prefix is for NATS URLs"},
		{[]string{"--wait", "-1s"}, "--wait -1s: must not be negative"},
		{[]string{"--tls-cert", file}, "--tls-cert and --tls-key go together"},
	} {
		args := append([]string{"engine", "--connect", file}, tc.args...)
		_, err := runCmd(t, args...)
		if ExitCode(err) != ExitUsage || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (status %d); want a usage error with %q", args, err, ExitCode(err), tc.want)
		}
	}
	if got := formatSize(minMaxMemory); got != minMaxMemoryDoc {
		t.Errorf("minMaxMemoryDoc = %q, want %q", minMaxMemoryDoc, got)
	}
	help, err := runCmd(t, "engine", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"(0: the default, 4294967296)",
		"at least 32 MiB",
		"dies abruptly",
		"--wait duration",
		"--tls-cert string",
		"A second SIGINT (Ctrl-C again) stops at once",
	} {
		if !strings.Contains(strings.ReplaceAll(help, "\n", " "), want) && !strings.Contains(help, want) {
			t.Errorf("drover engine --help does not say %q:\n%s", want, help)
		}
	}
}

// TestEngineWaitsForController: an engine started before its controller
// waits (saying so once) for the connection file, then registers with the
// controller when it comes, and runs a task.
func TestEngineWaitsForController(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := waitCtx(t, 30*time.Second)
	eng := startProc(t, dir, "engine", "--log-level", "info")
	eng.err.wait(t, ctx, "the engine waiting", contains("engine: waiting for the controller: no connection file yet"))
	ctl := startInProc(t, "controller", "--data", dir)
	ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	ctl.err.wait(t, ctx, "engine registered", contains("controller: engine registered"))
	eng.out.wait(t, ctx, "the engine's ready line", prefixed(EngineReadyLine))
	r, err := drover.Dial(ctx, filepath.Join(dir, fabric.FileName(fabric.RoleClient)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	task, _ := drover.NewMapTask("echo", []any{"late"}, nil, drover.Options{})
	id, err := r.Run(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r.Result(ctx, id); err != nil || v != "late" {
		t.Fatalf("Result = %v, %v", v, err)
	}
	if n := strings.Count(eng.err.String(), "waiting for the controller"); n != 1 {
		t.Errorf("the engine said %d times that it waits, want once:\n%s", n, eng.err.String())
	}
	eng.signal(t, syscall.SIGTERM)
	if err := eng.wait(t, ctx); err != nil {
		t.Errorf("engine exit: %v", err)
	}
}

// TestEngineWaitsForServers: with the connection file of a controller
// that stopped, an engine waits for its servers to answer, and registers
// with the controller restarted on the same --data.
func TestEngineWaitsForServers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := waitCtx(t, 30*time.Second)
	ctl := startInProc(t, "controller", "--data", dir)
	ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	if err := ctl.stop(t); err != nil {
		t.Fatalf("controller: %v", err)
	}
	eng := startInProc(t, "engine", "--connect", filepath.Join(dir, fabric.FileName(fabric.RoleEngine)), "--log-level", "info")
	eng.err.wait(t, ctx, "the engine waiting", contains("engine: waiting for the controller: its NATS servers do not answer"))
	ctl2 := startInProc(t, "controller", "--data", dir)
	ctl2.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	ctl2.err.wait(t, ctx, "engine registered", contains("controller: engine registered"))
	if err := eng.stop(t); err != nil {
		t.Errorf("engine: %v", err)
	}
}

// TestEngineWaitGivesUp: --wait bounds the wait, and the error says what
// is missing: the connection file, or a controller at the URLs the file
// names (ECONNREFUSED: is the controller running?).
func TestEngineWaitGivesUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + l.Addr().String()
	l.Close()
	file := filepath.Join(dir, fabric.FileName(fabric.RoleEngine))
	if err := fabric.WriteFile(file, &fabric.ConnFile{Version: fabric.FileVersion, Role: fabric.RoleEngine, URLs: []string{url}, Token: "t0ken"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target string
		want   []string
	}{
		{file, []string{"no controller after --wait 300ms", "is the controller running? (drover controller", url, file}},
		{url, []string{"no controller after --wait 300ms", "is the controller running? (drover controller", url}},
		{filepath.Join(dir, "missing.json"), []string{"no controller after --wait 300ms", "no connection file " + filepath.Join(dir, "missing.json")}},
	} {
		began := time.Now()
		_, err := runCmd(t, "engine", "--connect", tc.target, "--wait", "300ms", "--log-level", "error")
		if ExitCode(err) != ExitFailure {
			t.Errorf("engine --connect %s --wait 300ms: %v, want a failure", tc.target, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("engine --connect %s --wait 300ms: %v\nwant it to say %q", tc.target, err, w)
			}
		}
		if d := time.Since(began); d > 10*time.Second {
			t.Errorf("engine --wait 300ms gave up after %v", d)
		}
	}
}

// blockingFuncs returns the built-in functions plus block(): its first
// call closes started and runs until stopped; later calls return "again".
func blockingFuncs(started chan<- struct{}) func() *drover.Registry {
	var calls atomic.Int64
	return func() *drover.Registry {
		reg := BuiltinFunctions()
		reg.MustRegister("block", func(ctx context.Context, _ []any, _ map[string]any) (any, error) {
			if calls.Add(1) > 1 {
				return "again", nil
			}
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
		return reg
	}
}

// TestEngineSecondInterrupt: the first Ctrl-C makes an engine drain (its
// running task may finish, for --grace: an hour here); a second one stops
// it at once, and the running task is handed back (not failed: it has no
// retries) and runs on the next engine.
func TestEngineSecondInterrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := waitCtx(t, 30*time.Second)
	ctl := startInProc(t, "controller", "--data", dir)
	ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	engFile := filepath.Join(dir, fabric.FileName(fabric.RoleEngine))
	started := make(chan struct{})
	funcs := blockingFuncs(started)
	eng := startInProcFuncs(t, funcs, "engine", "--connect", engFile, "--grace", "1h", "--name", "e1", "--log-level", "info")
	ctl.err.wait(t, ctx, "engine registered", contains("controller: engine registered"))
	r, err := drover.Dial(ctx, filepath.Join(dir, fabric.FileName(fabric.RoleClient)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	task, _ := drover.NewMapTask("block", nil, nil, drover.Options{})
	id, err := r.Run(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the task did not start")
	}
	interrupt := func() {
		t.Helper()
		select {
		case eng.intr <- os.Interrupt:
		case <-ctx.Done():
			t.Fatal("the engine does not take Ctrl-C")
		}
	}
	interrupt()
	eng.err.wait(t, ctx, "draining", contains("press Ctrl-C again to stop now"))
	select {
	case err := <-eng.done:
		t.Fatalf("the engine stopped at the first Ctrl-C (%v) with a task running and --grace 1h", err)
	default:
	}
	interrupt()
	select {
	case err := <-eng.done:
		eng.done <- err
		if err != nil {
			t.Errorf("engine: %v", err)
		}
	case <-waitCtx(t, 10*time.Second).Done():
		t.Fatalf("the engine did not stop at the second Ctrl-C; stderr:\n%s", eng.err.String())
	}
	ctl.err.wait(t, ctx, "engine left", contains("controller: engine left"))
	startInProcFuncs(t, funcs, "engine", "--connect", engFile, "--name", "e2", "--log-level", "warn")
	if v, err := r.Result(ctx, id); err != nil || v != "again" {
		t.Fatalf("the task handed back = %v, %v; want it run again on the next engine", v, err)
	}
}

// TestEngineSupervisorSecondInterrupt: drover engine -n 2 passes the
// first SIGINT on as SIGTERM (the engines drain; --grace is an hour) and
// the second as SIGINT: the engine processes stop at once, the running
// task handed back to the queue.
func TestEngineSupervisorSecondInterrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := waitCtx(t, 30*time.Second)
	ctl := startInProc(t, "controller", "--data", dir)
	ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	engs := startProc(t, dir, "engine", "-n", "2", "--grace", "1h", "--log-level", "info")
	ctl.err.count(t, ctx, "engine registered", 2, contains("controller: engine registered"))
	r, err := drover.Dial(ctx, filepath.Join(dir, fabric.FileName(fabric.RoleClient)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	task, _ := drover.NewMapTask("announce", []any{"held", int64(3600)}, nil, drover.Options{})
	if _, err := r.Run(ctx, task); err != nil {
		t.Fatal(err)
	}
	announced(t, ctx, engs.out, "held")
	engs.signal(t, syscall.SIGINT)
	engs.out.wait(t, ctx, "the supervisor stopping", contains("press Ctrl-C again to stop now"))
	// The idle engine leaves; the busy one drains.
	ctl.err.wait(t, ctx, "the idle engine left", contains("controller: engine left"))
	engs.err.count(t, ctx, "the engines draining", 2, contains("press Ctrl-C again to stop now"))
	engs.signal(t, syscall.SIGINT)
	if err := engs.wait(t, waitCtx(t, 10*time.Second)); err != nil {
		t.Errorf("drover engine -n 2 exit: %v\n%s", err, engs.err.String())
	}
	ctl.err.count(t, ctx, "engines left", 2, contains("controller: engine left"))
	counts, err := r.QueueCounts(ctx)
	if err != nil || counts != (drover.QueueCounts{Scheduled: 1}) {
		t.Errorf("QueueCounts = %+v, %v; want the task handed back (queued)", counts, err)
	}
}

// TestEngineNATSDown: when the NATS connection is down (the controller and
// its embedded server stopped), the engine says so, rather than that the
// controller ended a session.
func TestEngineNATSDown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := waitCtx(t, 30*time.Second)
	ctl := startInProc(t, "controller", "--data", dir)
	ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	eng := startInProc(t, "engine", "--connect", filepath.Join(dir, fabric.FileName(fabric.RoleEngine)), "--log-level", "info")
	ctl.err.wait(t, ctx, "engine registered", contains("controller: engine registered"))
	if err := ctl.stop(t); err != nil {
		t.Fatalf("controller: %v", err)
	}
	eng.err.wait(t, waitCtx(t, 8*time.Second), "the engine waiting for NATS", contains("engine: the NATS connection is down; waiting for it to come back"))
	if err := eng.stop(t); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("engine: %v", err)
	}
}
