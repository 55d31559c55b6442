package netcmd

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/memtransport"
)

// drainFarm is a controller on the in-memory transport whose first engine
// serves through a drainEnd.
type drainFarm struct {
	ctl     *controller.Controller
	hub     *memtransport.Hub
	reg     *engine.Registry
	started chan int64 // block(x) started
	release chan struct{}
	wg      sync.WaitGroup
}

func newDrainFarm(t *testing.T) *drainFarm {
	t.Helper()
	hub, err := memtransport.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := controller.New(hub.Controller(), &controller.Config{Window: 4, FailurePenalty: -1, IdleTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := &drainFarm{ctl: ctl, hub: hub, reg: engine.NewRegistry(), started: make(chan int64, 16), release: make(chan struct{})}
	f.reg.MustRegister("block", func(ctx context.Context, args []any, _ map[string]any) (any, error) {
		f.started <- args[0].(int64)
		select {
		case <-f.release:
			return args[0], nil
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	})
	f.reg.MustRegister("id", func(_ context.Context, args []any, _ map[string]any) (any, error) { return args[0], nil })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ctl.Stop(ctx); err != nil {
			t.Error(err)
		}
		f.wg.Wait()
		_ = hub.Controller().Close()
	})
	return f
}

// serve runs an engine on a new end (wrapped in a drainEnd when drain is
// true) until ctx ends.
func (f *drainFarm) serve(t *testing.T, ctx context.Context, drain bool) *drainEnd {
	t.Helper()
	e, err := engine.New(&engine.Config{Registry: f.reg})
	if err != nil {
		t.Fatal(err)
	}
	end := f.hub.NewEngine()
	var d *drainEnd
	var served = end
	if drain {
		d = newDrainEnd(end)
		served = d
	}
	f.wg.Go(func() {
		if err := e.Serve(ctx, served); err != nil {
			t.Errorf("Serve: %v", err)
		}
		_ = end.Close()
	})
	return d
}

func (f *drainFarm) run(t *testing.T, fn string, x int64) drovertype.TaskID {
	t.Helper()
	task, err := drovertype.NewMapTask(fn, []any{x}, nil, drovertype.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.ctl.Run(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestDrainFinishesRunningHandsBackQueued: a draining engine finishes its
// running task, hands back those queued on it and those assigned while it
// drains; they run on another engine although none has retries left.
func TestDrainFinishesRunningHandsBackQueued(t *testing.T) {
	t.Parallel()
	f := newDrainFarm(t)
	sctx, stopServe := context.WithCancel(context.Background())
	defer stopServe()
	d := f.serve(t, sctx, true)
	held := make(chan transport.AttemptID, 16)
	d.onHold = func(a transport.AttemptID) { held <- a }
	ctx := waitCtx(t, 20*time.Second)
	if err := f.ctl.WaitEngines(ctx, 1); err != nil {
		t.Fatal(err)
	}
	ids := []drovertype.TaskID{f.run(t, "block", 0)}
	if x := <-f.started; x != 0 {
		t.Fatalf("started %d", x)
	}
	for i := int64(1); i < 3; i++ {
		ids = append(ids, f.run(t, "id", i)) // queued on the engine behind block(0)
	}
	// block(0) running, two queued, one slot free.
	st, err := f.ctl.QueueCounts(ctx)
	if err != nil || st.Pending != 3 {
		t.Fatalf("QueueCounts = %+v, %v; want 3 pending", st, err)
	}
	d.drain()
	ids = append(ids, f.run(t, "id", 3)) // assigned to the draining engine: held
	// (Attempts are numbered from 1 in dispatch order: id(3) is the 4th.
	// The engine may not have read the 2nd and 3rd when it started
	// draining: then they are held too.)
	for a := transport.AttemptID(0); a != 4; {
		select {
		case a = <-held:
		case <-ctx.Done():
			t.Fatal("the attempt assigned while draining was not held")
		}
	}
	select {
	case <-d.Drained():
		t.Fatal("drained while block(0) runs")
	default:
	}
	close(f.release)
	select {
	case <-d.Drained():
	case <-ctx.Done():
		t.Fatal("not drained after the running task ended")
	}
	stopServe()
	f.serve(t, context.Background(), false)
	vals, errs, err := f.ctl.Results(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		if errs[i] != nil || vals[i] != int64(i) {
			t.Errorf("task %d = %v, %v; want %d", ids[i], vals[i], errs[i], i)
		}
	}
}

// TestDrainGraceOver: when the grace period is over, the running attempt
// is stopped and handed back too: it runs again elsewhere without using a
// retry.
func TestDrainGraceOver(t *testing.T) {
	t.Parallel()
	f := newDrainFarm(t)
	sctx, stopServe := context.WithCancel(context.Background())
	defer stopServe()
	d := f.serve(t, sctx, true)
	ctx := waitCtx(t, 20*time.Second)
	if err := f.ctl.WaitEngines(ctx, 1); err != nil {
		t.Fatal(err)
	}
	id := f.run(t, "block", 7)
	<-f.started
	d.drain()
	d.handBackAll()
	stopServe()
	f.serve(t, context.Background(), false)
	// The attempt handed back runs again on the new engine (the first one
	// was stopped: it cannot have returned 7, release is still open).
	select {
	case <-f.started:
	case <-ctx.Done():
		t.Fatal("the stopped attempt was not run again")
	}
	close(f.release)
	v, err := f.ctl.Result(ctx, id)
	if err != nil || v != int64(7) {
		t.Fatalf("Result = %v, %v; want 7", v, err)
	}
}

// TestDrainIdle: an idle engine is drained at once.
func TestDrainIdle(t *testing.T) {
	t.Parallel()
	f := newDrainFarm(t)
	sctx, stopServe := context.WithCancel(context.Background())
	defer stopServe()
	d := f.serve(t, sctx, true)
	d.drain()
	select {
	case <-d.Drained():
	case <-waitCtx(t, 10*time.Second).Done():
		t.Fatal("idle engine not drained")
	}
}

// TestDrainRecvError: an error of the wrapped end (closed by the
// controller) ends Recv, draining or not.
func TestDrainRecvError(t *testing.T) {
	t.Parallel()
	for _, draining := range []bool{false, true} {
		hub, _ := memtransport.New(nil)
		end := hub.NewEngine()
		d := newDrainEnd(end)
		if draining {
			d.drain()
		}
		done := make(chan error, 1)
		go func() {
			_, err := d.Recv(context.Background())
			done <- err
		}()
		_ = hub.Controller().Close()
		select {
		case err := <-done:
			if !errors.Is(err, transport.ErrClosed) {
				t.Errorf("draining %v: Recv = %v, want ErrClosed", draining, err)
			}
		case <-waitCtx(t, 10*time.Second).Done():
			t.Fatalf("draining %v: Recv did not return after the transport closed", draining)
		}
	}
}
