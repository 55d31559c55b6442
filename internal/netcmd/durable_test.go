package netcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/fabric/embedded"
)

// TestProcessDurableKill9 is issue 5's fault test: a durable controller
// process (drover controller --data D) and two engine processes (drover
// engine -n 2); 20 rounds of 500 tasks that return their own unique tag
// (slowecho: 1 ms each); in each round the controller is killed with SIGKILL at a random
// moment (after a random number of the round's submissions, and after the
// results of a random part of what was submitted so far were seen), then
// restarted on the same D (the engines reconnect by themselves). At the
// end every accepted task has exactly one result, its own tag; the
// controller counts exactly as many successes as tasks; ids strictly
// increase across the rounds (never reused).
func TestProcessDurableKill9(t *testing.T) {
	t.Parallel()
	const rounds, perRound, chunks = 20, 500, 5
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>7))
	dir := t.TempDir()
	ctx := waitCtx(t, 180*time.Second)
	cliFile := filepath.Join(dir, fabric.FileName(fabric.RoleClient))
	startCtl := func() *proc {
		t.Helper()
		p := startProc(t, dir, "controller", "--data", dir, "--failure-penalty", "0", "--log-level", "info")
		p.out.wait(t, ctx, "results line", prefixed("  results: "))
		if !strings.Contains(p.out.String(), "results: durable: journal at "+filepath.Join(dir, "jetstream")) {
			t.Fatalf("controller --data is not durable:\n%s", p.out.String())
		}
		return p
	}
	dial := func() *drover.Remote {
		t.Helper()
		r, err := drover.Dial(ctx, cliFile)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ctl := startCtl()
	_ = startProc(t, dir, "engine", "-n", "2", "--log-level", "error")
	// Each task takes 1 ms on an engine: when the controller is killed,
	// some are running and more are queued.
	proto, _ := drover.NewMapTask("slowecho", nil, nil, drover.Options{})
	ms := make([]any, perRound/chunks)
	for i := range ms {
		ms[i] = 0.001
	}

	tags := map[drover.TaskID]string{}
	var all []drover.TaskID
	last := drover.TaskID(-1)
	inFlight := 0 // unfinished tasks recovered by the restarts
	for round := range rounds {
		r := dial()
		killAfter := 1 + rng.IntN(chunks) // submissions before the kill
		var roundIDs []drover.TaskID
		for c := range chunks {
			if c == killAfter {
				// Restarted: the rest of the round's tasks go to the new
				// controller.
				_ = r.Close(context.Background())
				r = dial()
			}
			xs := make([]any, perRound/chunks)
			for i := range xs {
				xs[i] = fmt.Sprintf("r%d-c%d-%d", round, c, i)
			}
			ids, err := r.MapAsync(ctx, proto, xs, ms)
			if err != nil {
				t.Fatalf("round %d: submit: %v", round, err)
			}
			for i, id := range ids {
				if id <= last {
					t.Fatalf("round %d: id %d after id %d: ids must strictly increase (never reused)", round, id, last)
				}
				last = id
				tags[id] = xs[i].(string)
				all = append(all, id)
				roundIDs = append(roundIDs, id)
			}
			if c+1 != killAfter {
				continue
			}
			// Wait for the results of the first k tasks of the round (k
			// random; the others are queued or running, in FIFO order),
			// then kill -9 at once: the rest is queued, running on the
			// engines or being written.
			part := roundIDs[:rng.IntN(len(roundIDs)+1)]
			checkResults(t, ctx, r, part, tags)
			if err := ctl.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = r.Close(context.Background())
			if err := ctl.wait(t, ctx); err == nil {
				t.Fatalf("round %d: controller exited 0 after SIGKILL", round)
			}
			ctl = startCtl()
			line := ctl.err.wait(t, ctx, "recovery line", contains(RecoveredLine))
			_, after, _ := strings.Cut(line, " unfinished=")
			unfinished, err := strconv.Atoi(strings.Fields(after + " x")[0])
			if err != nil {
				t.Fatalf("recovery line %q: %v", line, err)
			}
			inFlight += unfinished
			t.Logf("round %d: kill -9 after %d of %d submissions and %d of the round's %d results: %d tasks unfinished",
				round, killAfter, chunks, len(part), len(roundIDs), unfinished)
		}
		_ = r.Close(context.Background())
	}
	r := dial()
	defer r.Close(context.Background())
	checkResults(t, ctx, r, all, tags)
	counts, err := r.QueueCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts.Succeeded != len(all) || counts.Failed != 0 || counts.Pending+counts.Scheduled != 0 {
		t.Errorf("QueueCounts = %+v, want %d succeeded and nothing else (one result per task)", counts, len(all))
	}
	t.Logf("%d tasks, %d unfinished at the %d restarts in all", len(all), inFlight, rounds)
	if inFlight == 0 {
		t.Errorf("no task was unfinished at any kill -9: the test proves nothing")
	}
	if len(all) != rounds*perRound {
		t.Errorf("%d tasks accepted, want %d", len(all), rounds*perRound)
	}
	ctl.signal(t, syscall.SIGTERM)
	if err := ctl.wait(t, ctx); err != nil {
		t.Errorf("controller exit: %v", err)
	}
}

// checkResults waits for the results of ids and checks that each is its
// task's tag.
func checkResults(t *testing.T, ctx context.Context, r *drover.Remote, ids []drover.TaskID, tags map[drover.TaskID]string) {
	t.Helper()
	if len(ids) == 0 {
		return
	}
	vs, errs, err := r.Results(ctx, ids)
	if err != nil {
		t.Fatalf("Results of %d tasks: %v", len(ids), err)
	}
	bad := 0
	for i, id := range ids {
		if errs[i] != nil || vs[i] != tags[id] {
			if bad++; bad <= 10 {
				t.Errorf("task %d: result %v, %v; want %q", id, vs[i], errs[i], tags[id])
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d results wrong", bad, len(ids))
	}
}

// TestControllerDurableStatus: drover status says where the controller
// keeps results, in text and JSON: durable with --data (and the results
// survive a restart), in memory with --durable=false.
func TestControllerDurableStatus(t *testing.T) {
	t.Parallel()
	ctx := waitCtx(t, 60*time.Second)
	status := func(cliFile string) (string, StatusReport) {
		t.Helper()
		p := startInProc(t, "status", "--connect", cliFile)
		if err := p.wait(t); err != nil {
			t.Fatalf("status: %v\n%s", err, p.err.String())
		}
		pj := startInProc(t, "status", "--connect", cliFile, "--json")
		if err := pj.wait(t); err != nil {
			t.Fatalf("status --json: %v\n%s", err, pj.err.String())
		}
		var rep StatusReport
		if err := json.Unmarshal([]byte(pj.out.String()), &rep); err != nil {
			t.Fatalf("status --json: %v\n%s", err, pj.out.String())
		}
		return p.out.String(), rep
	}

	dir := t.TempDir()
	store := filepath.Join(dir, "jetstream")
	ctl := startInProc(t, "controller", "--data", dir, "--log-level", "warn", "--results-max-age", "24h", "--results-max", "1000000")
	ctl.out.wait(t, ctx, "results line", prefixed("  results: "))
	cliFile := filepath.Join(dir, fabric.FileName(fabric.RoleClient))
	r, err := drover.Dial(ctx, cliFile)
	if err != nil {
		t.Fatal(err)
	}
	tk, _ := drover.NewMapTask("echo", []any{"kept"}, nil, drover.Options{})
	id, err := r.Run(ctx, tk) // no engine: stays queued
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Close(context.Background())
	text, rep := status(cliFile)
	want := "durable: journal at " + store
	if !strings.Contains(text, "results:   "+want) || !rep.Durable || rep.Durability != want {
		t.Errorf("status of a durable controller: durable %v, %q; text:\n%s", rep.Durable, rep.Durability, text)
	}
	if err := ctl.stop(t); err != nil {
		t.Fatal(err)
	}
	ctl = startInProc(t, "controller", "--data", dir, "--log-level", "warn")
	ctl.out.wait(t, ctx, "results line", prefixed("  results: "))
	_, rep = status(cliFile)
	if rep.Tasks.Pending+rep.Tasks.Scheduled != 1 {
		t.Errorf("after a restart: tasks %+v, want the queued task back", rep.Tasks)
	}
	r, err = drover.Dial(ctx, cliFile)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := r.Run(ctx, tk)
	if err != nil || id2 <= id {
		t.Errorf("after a restart: Run = %d, %v; want an id after %d", id2, err, id)
	}
	_ = r.Close(context.Background())
	if err := ctl.stop(t); err != nil {
		t.Fatal(err)
	}

	mem := t.TempDir()
	ctl = startInProc(t, "controller", "--data", mem, "--durable=false", "--log-level", "warn")
	ctl.out.wait(t, ctx, "results line", prefixed("  results: "))
	if !strings.Contains(ctl.out.String(), "results: "+InMemory) {
		t.Errorf("controller --durable=false says:\n%s", ctl.out.String())
	}
	text, rep = status(filepath.Join(mem, fabric.FileName(fabric.RoleClient)))
	if !strings.Contains(text, "results:   "+InMemory) || rep.Durable || rep.Durability != InMemory {
		t.Errorf("status of an in-memory controller: durable %v, %q; text:\n%s", rep.Durable, rep.Durability, text)
	}
	if _, err := os.Stat(filepath.Join(mem, "jetstream")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an in-memory controller made %s: %v", filepath.Join(mem, "jetstream"), err)
	}
	if err := ctl.stop(t); err != nil {
		t.Fatal(err)
	}
}

// TestControllerBadJournal: a data directory whose journal cannot be
// used is refused at start, with a message that names it and says what is
// wrong.
func TestControllerBadJournal(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{"file where the store should be", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "jetstream"), []byte("not a store"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{"not a directory"}},
		{"foreign store", func(t *testing.T, dir string) {
			// Another program's JetStream store, with a stream of the name
			// drover's journal would use.
			foreignStore(t, dir, &jetstream.StreamConfig{Name: "drover_tasks", Subjects: []string{"orders.>"}})
		}, []string{"not a drover journal"}},
		{"store of another prefix", func(t *testing.T, dir string) {
			ctx := waitCtx(t, 30*time.Second)
			p := startInProc(t, "controller", "--data", dir, "--prefix", "drover_x", "--log-level", "warn")
			p.out.wait(t, ctx, "results line", prefixed("  results: "))
			if err := p.stop(t); err != nil {
				t.Fatal(err)
			}
			// drover.x's streams are named drover_x_... too.
		}, []string{"not a drover journal", "drover_x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tt.setup(t, dir)
			args := []string{"controller", "--data", dir, "--log-level", "error"}
			if tt.name == "store of another prefix" {
				args = append(args, "--prefix", "drover.x")
			}
			p := startInProc(t, args...)
			err := p.wait(t)
			t.Logf("refused: %v", err)
			if ExitCode(err) != ExitFailure {
				t.Fatalf("controller on a bad journal: %v (exit %d), want a failure", err, ExitCode(err))
			}
			for _, want := range append(tt.want, filepath.Join(dir, "jetstream")) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if strings.Contains(p.out.String(), ReadyLine) {
				t.Errorf("the controller said it was ready:\n%s", p.out.String())
			}
		})
	}
}

// foreignStore makes, in data directory dir, the JetStream store of an
// embedded server holding a stream of cfg (in the account drover's
// controller uses), then shuts the server down.
func foreignStore(t *testing.T, dir string, cfg *jetstream.StreamConfig) {
	t.Helper()
	ctx := waitCtx(t, 20*time.Second)
	srv, err := embedded.Start(ctx, &embedded.Config{Listen: "127.0.0.1:0", DataDir: dir, JetStream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	conn, err := srv.ConnectController(ctx, &fabric.ConnectOptions{Name: "foreign"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	js, err := jetstream.New(conn.Conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, *cfg); err != nil {
		t.Fatal(err)
	}
}

// startJSNode is startNATSNode with JetStream (file storage in a temporary
// directory), for drover controller --nats --durable.
func startJSNode(t testing.TB) *natsNode {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		ServerName: "js", Host: "127.0.0.1", Port: -1, Authorization: testToken, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		t.Fatal("NATS server is not ready")
	}
	n := &natsNode{name: "js", srv: s}
	t.Cleanup(n.stop)
	return n
}

// TestProcessDurableStandby: two durable controllers on one external NATS
// server with JetStream, one prefix: the second waits as a standby and
// serves nothing; when the first stops, the second takes over with the
// first one's queue and results. A controller that loses its lease stops
// with exit status 1.
func TestProcessDurableStandby(t *testing.T) {
	t.Parallel()
	ctx := waitCtx(t, 90*time.Second)
	js := startJSNode(t)
	creds := tokenFile(t)
	d1, d2 := t.TempDir(), t.TempDir()
	ctl1 := startProc(t, d1, "controller", "--nats", js.url(), "--creds", creds, "--data", d1, "--durable", "--lease-ttl", "5s", "--log-level", "info")
	ctl1.out.wait(t, ctx, "results line", prefixed("  results: "))
	if want := "durable: journal in the JetStream of " + js.url() + " (prefix drover, 1 replica)"; !strings.Contains(ctl1.out.String(), want) {
		t.Errorf("first controller does not say %q:\n%s", want, ctl1.out.String())
	}
	ctl2 := startProc(t, d2, "controller", "--nats", js.url(), "--creds", creds, "--data", d2, "--durable", "--lease-ttl", "5s", "--log-level", "info")
	ctl2.out.wait(t, ctx, "standby line", prefixed(StandbyLine))

	r, err := drover.Dial(ctx, filepath.Join(d1, fabric.FileName(fabric.RoleClient)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	id1 := r.Info().ControllerID
	tk, _ := drover.NewMapTask("echo", []any{"queued"}, nil, drover.Options{})
	qid, err := r.Run(ctx, tk) // no engine: it stays queued
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ctl2.out.String(), ReadyLine) {
		t.Fatalf("the standby says it is ready:\n%s", ctl2.out.String())
	}
	ctl1.signal(t, syscall.SIGTERM)
	if err := ctl1.wait(t, ctx); err != nil {
		t.Errorf("first controller exit: %v", err)
	}
	ctl2.out.wait(t, ctx, "results line of the standby", prefixed("  results: "))
	eng := startProc(t, d2, "engine", "--connect", filepath.Join(d2, fabric.FileName(fabric.RoleEngine)), "--log-level", "warn")
	r2, err := drover.Dial(ctx, filepath.Join(d2, fabric.FileName(fabric.RoleClient)))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close(context.Background())
	if r2.Info().ControllerID == id1 || !r2.Info().Durable {
		t.Errorf("after the take-over: info %+v", r2.Info())
	}
	if v, err := r2.Result(ctx, qid); err != nil || v != "queued" {
		t.Errorf("the task queued on the first controller = %v, %v; want it run by the second", v, err)
	}
	eng.signal(t, syscall.SIGTERM)
	if err := eng.wait(t, ctx); err != nil {
		t.Errorf("engine exit: %v", err)
	}

	// The NATS server goes away for longer than the lease: the controller
	// stops at once, exit status 1.
	js.stop()
	err = ctl2.wait(t, ctx)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitFailure || !strings.Contains(ctl2.err.String(), "lost the lease") {
		t.Errorf("controller after losing its lease: %v; stderr:\n%s", err, ctl2.err.String())
	}
}

// TestProcessDurableNoJetStream: --nats --durable on a NATS server
// without JetStream is refused at start, with a message that says so.
func TestProcessDurableNoJetStream(t *testing.T) {
	t.Parallel()
	ctx := waitCtx(t, 60*time.Second)
	plain := startNATSNode(t, "plain", -1, false)
	d := t.TempDir()
	ctl := startProc(t, d, "controller", "--nats", plain.url(), "--creds", tokenFile(t), "--data", d, "--durable", "--log-level", "error")
	err := ctl.wait(t, ctx)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitFailure || !strings.Contains(ctl.err.String(), "has no JetStream") {
		t.Errorf("controller --durable without JetStream: %v; stderr:\n%s", err, ctl.err.String())
	}
}
