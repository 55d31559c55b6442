package netcmd

import (
	"context"
	"net"
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

// echoMap maps echo over 0..n-1 on r and checks the results.
func echoMap(t *testing.T, ctx context.Context, r *drover.Remote, n int) {
	t.Helper()
	proto, _ := drover.NewMapTask("echo", nil, nil, drover.Options{})
	xs := make([]any, n)
	for i := range xs {
		xs[i] = int64(i)
	}
	got, err := r.Map(ctx, proto, xs)
	if err != nil {
		t.Fatalf("map: %v", err)
	}
	if diff := cmp.Diff(xs, got); diff != "" {
		t.Fatalf("map (-want +got):\n%s", diff)
	}
}

// stopAll sends SIGTERM to the engine processes, then to the controller,
// and checks that each exits with status 0.
func stopAll(t *testing.T, ctx context.Context, ctl *proc, engs ...*proc) {
	t.Helper()
	for _, e := range engs {
		e.signal(t, syscall.SIGTERM)
	}
	for _, e := range engs {
		if err := e.wait(t, ctx); err != nil {
			t.Errorf("engine exit: %v\n%s", err, e.err.String())
		}
	}
	ctl.signal(t, syscall.SIGTERM)
	if err := ctl.wait(t, ctx); err != nil {
		t.Errorf("controller exit: %v\n%s", err, ctl.err.String())
	}
}

// TestProcessExternalNATSRestart: a controller process on an external NATS
// server (drover controller --nats --creds) and two engine processes
// (drover engine --connect with the engine connection file it wrote). The
// NATS server stops and a new one starts on the same port: the
// controller's connections, the engines and the client reconnect by
// themselves, and tasks submitted after the restart run on both engines.
func TestProcessExternalNATSRestart(t *testing.T) {
	t.Parallel()
	ctx := waitCtx(t, 60*time.Second)
	srv := startNATSNode(t, "single", -1, false)
	port := srv.port()
	creds := tokenFile(t)
	dir := t.TempDir()
	ctl := startProc(t, dir, "controller", "--nats", srv.url(), "--creds", creds, "--data", dir, "--failure-penalty", "0")
	ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	engFile := filepath.Join(dir, fabric.FileName(fabric.RoleEngine))
	engs := []*proc{
		startProc(t, dir, "engine", "--connect", engFile, "--name", "e0"),
		startProc(t, dir, "engine", "--connect", engFile, "--name", "e1"),
	}
	ctl.err.count(t, ctx, "engine registered", 2, contains("controller: engine registered"))
	r, err := drover.Dial(ctx, filepath.Join(dir, fabric.FileName(fabric.RoleClient)),
		drover.WithPollWait(time.Second), drover.WithRequestTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	echoMap(t, ctx, r, 200)

	srv.stop()
	srv2 := startNATSNode(t, "single-again", port, false)
	if srv2.url() != srv.url() {
		t.Fatalf("restarted NATS server on %s, want %s", srv2.url(), srv.url())
	}
	// Both controller connections (transport, control API) and both
	// engines come back.
	ctl.err.count(t, ctx, "controller reconnected", 2, contains("nats: reconnected"))
	for _, e := range engs {
		e.err.wait(t, ctx, "engine reconnected", contains("nats: reconnected"))
	}
	// A barrier on no task waits for the control API to answer again.
	if err := r.Barrier(ctx); err != nil {
		t.Fatalf("barrier after the restart: %v", err)
	}
	echoMap(t, ctx, r, 1000)
	// Tasks spread over both engines: a task of each engine pins it (the
	// engines run one task at a time).
	names := map[string]bool{}
	for range 2 {
		ann, _ := drover.NewMapTask("announce", nil, nil, drover.Options{})
		ids, err := r.MapAsync(ctx, ann, []any{"a", "b"}, []any{0.2, 0.2})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Results(ctx, ids); err != nil {
			t.Fatal(err)
		}
		infos, err := r.Engines(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range infos {
			names[in.Name] = true
		}
	}
	if !names["e0"] || !names["e1"] {
		t.Errorf("engines after the restart: %v, want e0 and e1", names)
	}
	for i, e := range engs {
		if e.out.String() == "" {
			t.Errorf("engine %d printed nothing", i)
		}
	}
	stopAll(t, ctx, ctl, engs...)
}

// TestProcessControllerKilled: the embedded NATS server lives in the
// controller process: kill -9 of the controller (in the middle of a task)
// is the server's death for the engines. A controller restarted on the
// same --data (same port, same secrets) gets both engines back; the task
// it did not know is gone with the first controller, and the engine that
// ran it is free for the new controller's tasks.
func TestProcessControllerKilled(t *testing.T) {
	t.Parallel()
	ctx := waitCtx(t, 60*time.Second)
	dir := t.TempDir()
	ctl := startProc(t, dir, "controller")
	_, url1 := readyInfo(ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine)))
	engFile := filepath.Join(dir, fabric.FileName(fabric.RoleEngine))
	engs := []*proc{
		startProc(t, dir, "engine", "--connect", engFile, "--name", "e0"),
		startProc(t, dir, "engine", "--connect", engFile, "--name", "e1"),
	}
	ctl.err.count(t, ctx, "engine registered", 2, contains("controller: engine registered"))
	cliFile := filepath.Join(dir, fabric.FileName(fabric.RoleClient))
	r, err := drover.Dial(ctx, cliFile)
	if err != nil {
		t.Fatal(err)
	}
	long, _ := drover.NewMapTask("announce", []any{"long", 60.0}, nil, drover.Options{})
	if _, err := r.Run(ctx, long); err != nil {
		t.Fatal(err)
	}
	waitAnnounced(t, ctx, "long", engs...)
	_ = r.Close(context.Background())

	if err := ctl.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = ctl.wait(t, ctx)
	for _, e := range engs {
		e.err.wait(t, ctx, "engine disconnected", contains("nats: disconnected"))
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
	// Two tasks at once: both engines are free (the long task of the
	// first controller was stopped when its session was reset).
	ann, _ := drover.NewMapTask("announce", nil, nil, drover.Options{})
	got, err := r.Map(ctx, ann, []any{"x", "y"}, []any{0.3, 0.3})
	if err != nil || !cmp.Equal(got, []any{"x", "y"}) {
		t.Fatalf("tasks after the restart = %v, %v", got, err)
	}
	px, py := waitAnnounced(t, ctx, "x", engs...), waitAnnounced(t, ctx, "y", engs...)
	if px == py {
		t.Errorf("both tasks ran in pid %d: one engine is still busy with the first controller's task", px)
	}
	echoMap(t, ctx, r, 500)
	stopAll(t, ctx, ctl2, engs...)
}

// TestProcessControllerNewPort: a controller restarted on the same --data
// while its previous port is taken listens on another port and rewrites
// the connection files; engines started with --connect FILE, which kept
// trying the old address, read the file again and come to the new
// controller.
func TestProcessControllerNewPort(t *testing.T) {
	t.Parallel()
	ctx := waitCtx(t, 60*time.Second)
	dir := t.TempDir()
	ctl := startProc(t, dir, "controller")
	_, url1 := readyInfo(ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine)))
	engFile := filepath.Join(dir, fabric.FileName(fabric.RoleEngine))
	engs := []*proc{
		startProc(t, dir, "engine", "--connect", engFile, "--name", "e0"),
		startProc(t, dir, "engine", "--connect", engFile, "--name", "e1"),
	}
	ctl.err.count(t, ctx, "engine registered", 2, contains("controller: engine registered"))

	if err := ctl.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = ctl.wait(t, ctx)
	// Something else takes the port: it listens, and never speaks NATS.
	hostPort := url1[len("nats://"):]
	l, err := net.Listen("tcp", hostPort)
	if err != nil {
		t.Fatalf("take the controller's port %s: %v", hostPort, err)
	}
	defer l.Close()
	for _, e := range engs {
		e.err.wait(t, ctx, "engine disconnected", contains("nats: disconnected"))
	}

	ctl2 := startProc(t, dir, "controller")
	_, url2 := readyInfo(ctl2.out.wait(t, ctx, "ready line", prefixed(ReadyLine)))
	if url2 == url1 {
		t.Fatalf("restarted controller on %s although the port is taken", url2)
	}
	ctl2.err.count(t, ctx, "engine registered", 2, contains("controller: engine registered"))
	for _, e := range engs {
		e.err.wait(t, ctx, "engine read the file again", contains("the connection file names other servers"))
	}
	r, err := drover.Dial(ctx, filepath.Join(dir, fabric.FileName(fabric.RoleClient)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	echoMap(t, ctx, r, 500)
	infos, err := r.Engines(ctx)
	if err != nil || len(infos) != 2 {
		t.Errorf("engines = %+v, %v; want 2", infos, err)
	}
	stopAll(t, ctx, ctl2, engs...)
}

// waitAnnounced waits for the ANNOUNCE line of tag on one of the engines'
// outputs and returns the pid that printed it.
func waitAnnounced(t *testing.T, ctx context.Context, tag string, engs ...*proc) int {
	t.Helper()
	match := prefixed(announceLine + " " + tag + " ")
	found := make(chan string, len(engs))
	for _, e := range engs {
		l := e.out
		l.mu.Lock()
		seen := false
		for _, line := range l.all {
			if match(line) {
				found <- line
				seen = true
				break
			}
		}
		if !seen {
			l.waiters = append(l.waiters, &lineWaiter{match: match, ch: found})
		}
		l.mu.Unlock()
	}
	select {
	case line := <-found:
		f := strings.Fields(line)
		pid, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			t.Fatalf("announce line %q: %v", line, err)
		}
		return pid
	case <-ctx.Done():
		t.Fatalf("no engine announced %s: %v", tag, ctx.Err())
		return 0
	}
}
