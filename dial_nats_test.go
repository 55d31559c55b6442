package drover_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/controlapi"
	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertest"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/fabric/embedded"
	"github.com/drover-dev/drover/transport/natstransport"
)

// natsFarm is the whole networked stack in one process: an embedded NATS
// server with drover's auth callout, a controller on the NATS transport,
// engines each on a NATS connection of its own made from the engine
// connection file (so each is confined to its own subjects), the control
// API, and a client dialled with the client connection file.
type natsFarm struct {
	srv    *embedded.Server
	ctl    *controller.Controller
	remote *drover.Remote
}

func newNATSFarm(t testing.TB, engines int, reg *drover.Registry) *natsFarm {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv, err := embedded.Start(ctx, &embedded.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ctlConn, err := srv.ConnectController(ctx, &fabric.ConnectOptions{Name: "controller-transport"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctlConn.Close)
	cend, err := natstransport.NewControllerEnd(ctx, ctlConn.Conn, &natstransport.Config{Prefix: srv.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cend.Close() })
	ctl, err := controller.New(cend, &controller.Config{FailurePenalty: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	serveCtx, stopServe := context.WithCancel(context.Background())
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ctl.Stop(sctx); err != nil {
			t.Error(err)
		}
		stopServe()
		wg.Wait()
	})
	for range engines {
		conn, err := fabric.Connect(ctx, srv.File(fabric.RoleEngine), fabric.RoleEngine, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(conn.Close)
		end, err := natstransport.NewEngineEnd(ctx, conn.Conn, &natstransport.Config{Prefix: conn.Subjects.Prefix(), Key: conn.Key})
		if err != nil {
			t.Fatal(err)
		}
		e, err := engine.New(&engine.Config{Registry: reg})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			_ = e.Serve(serveCtx, end)
			_ = end.Close()
		})
	}
	if err := ctl.WaitEngines(ctx, engines); err != nil {
		t.Fatal(err)
	}
	api, err := controlapi.New(srv.Conn().Conn, ctl, &controlapi.Config{Prefix: srv.Prefix(), ControllerID: srv.ID()})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Stop(context.Background()) })
	r, err := drover.Dial(ctx, srv.File(fabric.RoleClient))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return &natsFarm{srv: srv, ctl: ctl, remote: r}
}

// TestDialOverNATS: the whole stack over NATS with authentication and the
// callout's per-engine permissions: tasks, Map, abort, engine access.
func TestDialOverNATS(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	nf := newNATSFarm(t, 2, drovertest.Registry(t, map[string]drover.Func{"add": add, "block": b.fn}))
	ctx := t.Context()
	r := nf.remote
	infos, err := r.Engines(ctx)
	if err != nil || len(infos) != 2 {
		t.Fatalf("Engines = %+v, %v", infos, err)
	}
	proto, _ := drover.NewMapTask("add", nil, nil, drover.Options{})
	xs, want := make([]any, 500), make([]any, 500)
	for i := range xs {
		xs[i], want[i] = int64(i), int64(i)
	}
	got, err := r.Map(ctx, proto, xs)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Map (-want +got):\n%s", diff)
	}
	st, _ := drover.NewStringTask("y = x * 2", map[string]any{"x": 21}, "y", drover.Options{})
	id, _ := r.Run(ctx, st)
	if v, err := r.Result(ctx, id); err != nil || v.(*drover.TaskResult).Results["y"] != int64(42) {
		t.Fatalf("string task = %v, %v", v, err)
	}
	blk, _ := drover.NewMapTask("block", nil, nil, drover.Options{})
	id, _ = r.Run(ctx, blk)
	<-b.started
	if err := r.Abort(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Result(ctx, id); !errors.Is(err, drover.ErrTaskAborted) {
		t.Fatalf("Result(aborted) = %v", err)
	}
	e := r.Engine(infos[1].ID)
	if err := e.Push(ctx, map[string]any{"z": []byte("bytes")}); err != nil {
		t.Fatal(err)
	}
	if v, err := e.Pull(ctx, "z"); err != nil || string(v.([]byte)) != "bytes" {
		t.Fatalf("Pull = %v, %v", v, err)
	}
}
