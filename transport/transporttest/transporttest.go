// Package transporttest is the conformance suite every drover transport
// must pass: message order per engine, batching, loss of an engine on
// Close, Close semantics of both ends, concurrent senders, cancellation of
// blocked calls, rejection of malformed sends, and a faithful round trip of
// every kind of message and task value.
//
// A transport's test calls Run with a Factory:
//
//	func TestConformance(t *testing.T) {
//		transporttest.Run(t, func(t *testing.T) (transport.ControllerEnd, func(t *testing.T) transport.EngineEnd) {
//			hub, err := memtransport.New(nil)
//			...
//			return hub.Controller(), func(t *testing.T) transport.EngineEnd { return hub.NewEngine() }
//		})
//	}
//
// Run closes every end it gets (through t.Cleanup) and waits for the
// goroutines it starts.
package transporttest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
)

// Factory returns a new, independent transport: its controller end and a
// function that connects one more engine end to it. Each call of Factory
// gets a fresh transport; the suite closes what it gets.
type Factory func(t *testing.T) (ctrl transport.ControllerEnd, newEngine func(t *testing.T) transport.EngineEnd)

// wait bounds every blocking call of the suite, so that a broken transport
// fails the test rather than hanging it.
const wait = 30 * time.Second

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"OrderToEngine", testOrderToEngine},
		{"OrderFromEngine", testOrderFromEngine},
		{"Batching", testBatching},
		{"FromIsSetByTransport", testFrom},
		{"LostOnEngineClose", testLost},
		{"EngineCloseSemantics", testEngineClose},
		{"ControllerCloseSemantics", testControllerClose},
		{"ConcurrentEngineSenders", testConcurrentEngineSenders},
		{"ConcurrentControllerSenders", testConcurrentControllerSenders},
		{"RecvCancellation", testRecvCancel},
		{"BadSends", testBadSends},
		{"RoundTrip", testRoundTrip},
		{"ManyEngines", testManyEngines},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, f)
		})
	}
}

// open returns a controller end and a constructor of engine ends, all
// closed at cleanup.
func open(t *testing.T, f Factory) (transport.ControllerEnd, func() transport.EngineEnd) {
	t.Helper()
	ctrl, newEngine := f(t)
	t.Cleanup(func() { ctrl.Close() })
	return ctrl, func() transport.EngineEnd {
		e := newEngine(t)
		t.Cleanup(func() { e.Close() })
		return e
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	t.Cleanup(cancel)
	return ctx
}

// hello sends a Register from e and waits until the controller sees it, so
// that the engine is known to the controller (a network transport may
// learn addresses from the first message).
func hello(t *testing.T, ctrl transport.ControllerEnd, e transport.EngineEnd) {
	t.Helper()
	ctx := ctxT(t)
	if err := e.Send(ctx, transport.FromEngine{Register: &transport.Register{Window: 1}}); err != nil {
		t.Fatalf("engine %s: Send(Register): %v", e.Addr(), err)
	}
	for {
		msgs, err := ctrl.Recv(ctx)
		if err != nil {
			t.Fatalf("controller Recv waiting for Register of %s: %v", e.Addr(), err)
		}
		for _, m := range msgs {
			if m.From == e.Addr() && m.Register != nil {
				if len(msgs) != 1 {
					t.Fatalf("controller Recv: got %d messages, want only the Register of %s", len(msgs), e.Addr())
				}
				return
			}
			t.Fatalf("controller Recv: unexpected message %+v while waiting for the Register of %s", m, e.Addr())
		}
	}
}

// recvEngine receives from e until n messages have arrived.
func recvEngine(t *testing.T, ctx context.Context, e transport.EngineEnd, n int) (all []transport.ToEngine, batches int) {
	t.Helper()
	for len(all) < n {
		msgs, err := e.Recv(ctx)
		if err != nil {
			t.Fatalf("engine %s Recv after %d of %d messages: %v", e.Addr(), len(all), n, err)
		}
		if len(msgs) == 0 {
			t.Fatalf("engine %s Recv returned no messages and no error", e.Addr())
		}
		all = append(all, msgs...)
		batches++
	}
	if len(all) != n {
		t.Fatalf("engine %s: received %d messages, want %d", e.Addr(), len(all), n)
	}
	return all, batches
}

// recvCtrl receives at the controller until n messages have arrived.
func recvCtrl(t *testing.T, ctx context.Context, c transport.ControllerEnd, n int) (all []transport.FromEngine, batches int) {
	t.Helper()
	for len(all) < n {
		msgs, err := c.Recv(ctx)
		if err != nil {
			t.Fatalf("controller Recv after %d of %d messages: %v", len(all), n, err)
		}
		if len(msgs) == 0 {
			t.Fatalf("controller Recv returned no messages and no error")
		}
		all = append(all, msgs...)
		batches++
	}
	if len(all) != n {
		t.Fatalf("controller: received %d messages, want %d", len(all), n)
	}
	return all, batches
}

func cancelMsg(i int) transport.ToEngine {
	return transport.ToEngine{Cancel: &transport.Cancel{Attempt: transport.AttemptID(i + 1)}}
}

func outcomeMsg(i int) transport.FromEngine {
	return transport.FromEngine{Outcome: &transport.Outcome{Attempt: transport.AttemptID(i + 1), TaskID: drovertype.TaskID(i)}}
}

func testOrderToEngine(t *testing.T, f Factory) {
	ctrl, newEngine := open(t, f)
	e := newEngine()
	hello(t, ctrl, e)
	ctx := ctxT(t)
	const n = 500
	for i := 0; i < n; {
		k := min(1+i%7, n-i) // sends of 1..7 messages
		msgs := make([]transport.ToEngine, k)
		for j := range msgs {
			msgs[j] = cancelMsg(i + j)
		}
		if err := ctrl.Send(ctx, e.Addr(), msgs...); err != nil {
			t.Fatalf("controller Send: %v", err)
		}
		i += k
	}
	all, _ := recvEngine(t, ctx, e, n)
	for i, m := range all {
		if m.Cancel == nil || m.Cancel.Attempt != transport.AttemptID(i+1) {
			t.Fatalf("message %d: got %+v, want Cancel of attempt %d", i, m, i+1)
		}
	}
}

func testOrderFromEngine(t *testing.T, f Factory) {
	ctrl, newEngine := open(t, f)
	e := newEngine()
	hello(t, ctrl, e)
	ctx := ctxT(t)
	const n = 500
	for i := 0; i < n; {
		k := min(1+i%5, n-i)
		msgs := make([]transport.FromEngine, k)
		for j := range msgs {
			msgs[j] = outcomeMsg(i + j)
		}
		if err := e.Send(ctx, msgs...); err != nil {
			t.Fatalf("engine Send: %v", err)
		}
		i += k
	}
	all, _ := recvCtrl(t, ctx, ctrl, n)
	for i, m := range all {
		if m.Outcome == nil || m.Outcome.Attempt != transport.AttemptID(i+1) || m.From != e.Addr() {
			t.Fatalf("message %d: got %+v from %q, want Outcome of attempt %d from %q", i, m, m.From, i+1, e.Addr())
		}
	}
}

// testBatching checks that messages that are ready together are returned
// together: of many messages sent in one call, Recv must return more than
// one at a time at least once.
func testBatching(t *testing.T, f Factory) {
	ctrl, newEngine := open(t, f)
	e := newEngine()
	hello(t, ctrl, e)
	ctx := ctxT(t)
	const n = 1000
	to := make([]transport.ToEngine, n)
	for i := range to {
		to[i] = cancelMsg(i)
	}
	if err := ctrl.Send(ctx, e.Addr(), to...); err != nil {
		t.Fatalf("controller Send: %v", err)
	}
	if _, batches := recvEngine(t, ctx, e, n); batches == n {
		t.Errorf("engine: %d messages sent in one Send arrived in %d batches: Recv does not batch", n, batches)
	}
	from := make([]transport.FromEngine, n)
	for i := range from {
		from[i] = outcomeMsg(i)
	}
	if err := e.Send(ctx, from...); err != nil {
		t.Fatalf("engine Send: %v", err)
	}
	if _, batches := recvCtrl(t, ctx, ctrl, n); batches == n {
		t.Errorf("controller: %d messages sent in one Send arrived in %d batches: Recv does not batch", n, batches)
	}
}

func testFrom(t *testing.T, f Factory) {
	ctrl, newEngine := open(t, f)
	a, b := newEngine(), newEngine()
	if a.Addr() == "" || a.Addr() == b.Addr() {
		t.Fatalf("engine addresses %q and %q: want distinct and non-empty", a.Addr(), b.Addr())
	}
	hello(t, ctrl, a)
	hello(t, ctrl, b)
	ctx := ctxT(t)
	forged := outcomeMsg(0)
	forged.From = b.Addr()
	if err := a.Send(ctx, forged); err != nil {
		t.Fatalf("engine Send: %v", err)
	}
	all, _ := recvCtrl(t, ctx, ctrl, 1)
	if all[0].From != a.Addr() {
		t.Errorf("From = %q, want the sender's address %q (the transport sets From)", all[0].From, a.Addr())
	}
}

func testLost(t *testing.T, f Factory) {
	ctrl, newEngine := open(t, f)
	e, other := newEngine(), newEngine()
	hello(t, ctrl, e)
	hello(t, ctrl, other)
	ctx := ctxT(t)
	addr := e.Addr()
	for i := range 3 {
		if err := e.Send(ctx, outcomeMsg(i)); err != nil {
			t.Fatalf("engine Send: %v", err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatalf("engine Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second engine Close: %v", err)
	}
	all, _ := recvCtrl(t, ctx, ctrl, 4)
	for i := range 3 {
		if all[i].Outcome == nil || all[i].Outcome.Attempt != transport.AttemptID(i+1) {
			t.Fatalf("message %d: got %+v, want Outcome of attempt %d (sent before Close)", i, all[i], i+1)
		}
	}
	if all[3].Lost == nil || all[3].From != addr {
		t.Fatalf("message 3: got %+v from %q, want Lost from %q after the engine's messages", all[3], all[3].From, addr)
	}
	err := ctrl.Send(ctx, addr, cancelMsg(0))
	if !errors.Is(err, transport.ErrUnknownAddr) {
		t.Errorf("Send to a lost engine: %v, want ErrUnknownAddr", err)
	}
	// The other engine is unaffected, and no second Lost comes.
	if err := ctrl.Send(ctx, other.Addr(), cancelMsg(7)); err != nil {
		t.Fatalf("Send to the remaining engine: %v", err)
	}
	if got, _ := recvEngine(t, ctx, other, 1); got[0].Cancel == nil || got[0].Cancel.Attempt != 8 {
		t.Fatalf("remaining engine got %+v", got[0])
	}
	if err := other.Send(ctx, outcomeMsg(9)); err != nil {
		t.Fatalf("remaining engine Send: %v", err)
	}
	if got, _ := recvCtrl(t, ctx, ctrl, 1); got[0].From != other.Addr() || got[0].Outcome == nil {
		t.Fatalf("after Lost: got %+v from %q, want the remaining engine's Outcome", got[0], got[0].From)
	}
}

func testEngineClose(t *testing.T, f Factory) {
	ctrl, newEngine := open(t, f)
	e := newEngine()
	hello(t, ctrl, e)
	ctx := ctxT(t)
	// A Recv blocked when the engine end closes returns ErrClosed.
	done := make(chan error, 1)
	go func() {
		_, err := e.Recv(ctx)
		done <- err
	}()
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-done; !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Recv blocked across Close: %v, want ErrClosed", err)
	}
	if _, err := e.Recv(ctx); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Recv after Close: %v, want ErrClosed", err)
	}
	if err := e.Send(ctx, outcomeMsg(0)); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
	if e.Addr() == "" {
		t.Errorf("Addr after Close is empty")
	}
	if all, _ := recvCtrl(t, ctx, ctrl, 1); all[0].Lost == nil {
		t.Errorf("controller got %+v, want Lost", all[0])
	}
}

func testControllerClose(t *testing.T, f Factory) {
	ctrl, newEngine := open(t, f)
	e := newEngine()
	hello(t, ctrl, e)
	ctx := ctxT(t)
	engineDone := make(chan error, 1)
	ctrlDone := make(chan error, 1)
	go func() {
		_, err := e.Recv(ctx)
		engineDone <- err
	}()
	go func() {
		_, err := ctrl.Recv(ctx)
		ctrlDone <- err
	}()
	if err := ctrl.Close(); err != nil {
		t.Fatalf("controller Close: %v", err)
	}
	if err := ctrl.Close(); err != nil {
		t.Fatalf("second controller Close: %v", err)
	}
	if err := <-ctrlDone; !errors.Is(err, transport.ErrClosed) {
		t.Errorf("controller Recv blocked across Close: %v, want ErrClosed", err)
	}
	if err := <-engineDone; !errors.Is(err, transport.ErrClosed) {
		t.Errorf("engine Recv blocked across controller Close: %v, want ErrClosed", err)
	}
	if _, err := ctrl.Recv(ctx); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("controller Recv after Close: %v, want ErrClosed", err)
	}
	if err := ctrl.Send(ctx, e.Addr(), cancelMsg(0)); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("controller Send after Close: %v, want ErrClosed", err)
	}
	if err := e.Send(ctx, outcomeMsg(0)); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("engine Send after controller Close: %v, want ErrClosed", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("engine Close after controller Close: %v", err)
	}
}

// testConcurrentEngineSenders: several engines, several goroutines each,
// all sending at once; every message arrives once, in order per sender.
func testConcurrentEngineSenders(t *testing.T, f Factory) {
	ctrl, newEngine := open(t, f)
	const engines, senders, per = 3, 4, 200
	ends := make([]transport.EngineEnd, engines)
	for i := range ends {
		ends[i] = newEngine()
		hello(t, ctrl, ends[i])
	}
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, engines*senders)
	for ei, e := range ends {
		for s := range senders {
			wg.Go(func() {
				for i := range per {
					m := transport.FromEngine{Reply: &transport.Reply{ID: transport.CallID(s*per + i + 1), Value: int64(ei)}}
					if err := e.Send(ctx, m); err != nil {
						errs <- fmt.Errorf("engine %d sender %d: %w", ei, s, err)
						return
					}
				}
			})
		}
	}
	all, _ := recvCtrl(t, ctx, ctrl, engines*senders*per)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	addrIdx := map[string]int{}
	for i, e := range ends {
		addrIdx[e.Addr()] = i
	}
	next := make([][senders]int, engines)
	for _, m := range all {
		ei, ok := addrIdx[m.From]
		if !ok || m.Reply == nil || m.Reply.Value != int64(ei) {
			t.Fatalf("unexpected message %+v from %q", m, m.From)
		}
		id := int(m.Reply.ID) - 1
		s, i := id/per, id%per
		if next[ei][s] != i {
			t.Fatalf("engine %d sender %d: message %d arrived when %d was expected (order broken)", ei, s, i, next[ei][s])
		}
		next[ei][s]++
	}
}

// testConcurrentControllerSenders: several goroutines send to several
// engines at once; each engine gets every message, in order per sender.
func testConcurrentControllerSenders(t *testing.T, f Factory) {
	ctrl, newEngine := open(t, f)
	const engines, senders, per = 3, 3, 200
	ends := make([]transport.EngineEnd, engines)
	for i := range ends {
		ends[i] = newEngine()
		hello(t, ctrl, ends[i])
	}
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, engines*senders)
	for s := range senders {
		wg.Go(func() {
			for i := range per {
				for ei, e := range ends {
					m := transport.ToEngine{Call: &transport.Call{ID: transport.CallID(s*per + i + 1), Op: transport.OpKeys}}
					if err := ctrl.Send(ctx, e.Addr(), m); err != nil {
						errs <- fmt.Errorf("sender %d to engine %d: %w", s, ei, err)
						return
					}
				}
			}
		})
	}
	results := make([][]transport.ToEngine, engines)
	var rwg sync.WaitGroup
	for ei, e := range ends {
		rwg.Go(func() {
			for len(results[ei]) < senders*per {
				msgs, err := e.Recv(ctx)
				if err != nil {
					errs <- fmt.Errorf("engine %d Recv: %w", ei, err)
					return
				}
				results[ei] = append(results[ei], msgs...)
			}
		})
	}
	wg.Wait()
	rwg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for ei, got := range results {
		if len(got) != senders*per {
			t.Fatalf("engine %d: got %d messages, want %d", ei, len(got), senders*per)
		}
		var next [senders]int
		for _, m := range got {
			id := int(m.Call.ID) - 1
			s, i := id/per, id%per
			if next[s] != i {
				t.Fatalf("engine %d sender %d: message %d arrived when %d was expected", ei, s, i, next[s])
			}
			next[s]++
		}
	}
}

func testRecvCancel(t *testing.T, f Factory) {
	ctrl, newEngine := open(t, f)
	e := newEngine()
	hello(t, ctrl, e)
	for _, tc := range []struct {
		name string
		recv func(context.Context) error
	}{
		{"controller", func(ctx context.Context) error { _, err := ctrl.Recv(ctx); return err }},
		{"engine", func(ctx context.Context) error { _, err := e.Recv(ctx); return err }},
	} {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- tc.recv(ctx) }()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s Recv after cancel: %v, want context.Canceled", tc.name, err)
			}
		case <-time.After(wait):
			t.Fatalf("%s Recv did not return after its ctx was cancelled", tc.name)
		}
		// An expired deadline too.
		dctx, dcancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		if err := tc.recv(dctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s Recv with an expired deadline: %v, want context.DeadlineExceeded", tc.name, err)
		}
		dcancel()
	}
	// The ends still work after a cancelled Recv.
	ctx := ctxT(t)
	if err := e.Send(ctx, outcomeMsg(0)); err != nil {
		t.Fatal(err)
	}
	recvCtrl(t, ctx, ctrl, 1)
	if err := ctrl.Send(ctx, e.Addr(), cancelMsg(0)); err != nil {
		t.Fatal(err)
	}
	recvEngine(t, ctx, e, 1)
}

func testBadSends(t *testing.T, f Factory) {
	ctrl, newEngine := open(t, f)
	e := newEngine()
	hello(t, ctrl, e)
	ctx := ctxT(t)
	if err := ctrl.Send(ctx, e.Addr()); !errors.Is(err, transport.ErrEmptySend) {
		t.Errorf("controller Send of nothing: %v, want ErrEmptySend", err)
	}
	if err := e.Send(ctx); !errors.Is(err, transport.ErrEmptySend) {
		t.Errorf("engine Send of nothing: %v, want ErrEmptySend", err)
	}
	if err := ctrl.Send(ctx, "no-such-engine", cancelMsg(0)); !errors.Is(err, transport.ErrUnknownAddr) {
		t.Errorf("Send to an unknown address: %v, want ErrUnknownAddr", err)
	}
	if err := ctrl.Send(ctx, e.Addr(), transport.ToEngine{}); err == nil {
		t.Errorf("controller Send of an empty ToEngine: no error")
	}
	two := transport.ToEngine{Cancel: &transport.Cancel{Attempt: 1}, Shutdown: &transport.Shutdown{}}
	if err := ctrl.Send(ctx, e.Addr(), two); err == nil {
		t.Errorf("controller Send of a ToEngine with two fields: no error")
	}
	if err := e.Send(ctx, transport.FromEngine{}); err == nil {
		t.Errorf("engine Send of an empty FromEngine: no error")
	}
	if err := e.Send(ctx, transport.FromEngine{Lost: &transport.Lost{}}); err == nil {
		t.Errorf("engine Send of Lost: no error (Lost is reserved to the transport)")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := ctrl.Send(cctx, e.Addr(), cancelMsg(0)); !errors.Is(err, context.Canceled) {
		t.Errorf("controller Send with a cancelled ctx: %v, want context.Canceled", err)
	}
	if err := e.Send(cctx, outcomeMsg(0)); !errors.Is(err, context.Canceled) {
		t.Errorf("engine Send with a cancelled ctx: %v, want context.Canceled", err)
	}
	// Nothing of the refused sends arrived; the ends still work.
	if err := ctrl.Send(ctx, e.Addr(), cancelMsg(41)); err != nil {
		t.Fatal(err)
	}
	if got, _ := recvEngine(t, ctx, e, 1); got[0].Cancel == nil || got[0].Cancel.Attempt != 42 {
		t.Errorf("engine got %+v, want only the valid Cancel", got[0])
	}
	if err := e.Send(ctx, outcomeMsg(41)); err != nil {
		t.Fatal(err)
	}
	if got, _ := recvCtrl(t, ctx, ctrl, 1); got[0].Outcome == nil || got[0].Outcome.Attempt != 42 {
		t.Errorf("controller got %+v, want only the valid Outcome", got[0])
	}
}

// values holds one of every kind of plain task value.
func values() map[string]any {
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	return map[string]any{
		"nil": nil, "bool": true, "int": int64(-7), "big": big1, "float": 2.5,
		"string": "héllo", "bytes": []byte{0, 1, 255},
		"list":   []any{int64(1), "two", []any{3.0}},
		"dict":   map[string]any{"a": int64(1), "b": map[string]any{"c": nil}},
		"anykey": map[any]any{int64(1): "one", "x": false},
		"empty":  []any{},
		// Values a network transport must keep apart from their look-alikes:
		// a small *big.Int is not an int64, a whole float is not an int,
		// empty bytes are not an empty string.
		"smallbig": big.NewInt(5), "negbig": new(big.Int).Neg(big1),
		"maxint": int64(math.MaxInt64), "minint": int64(math.MinInt64), "whole": 3.0,
		"nobytes": []byte{}, "emptystr": "", "emptydict": map[string]any{},
		"keys": map[any]any{2.5: nil, true: int64(1), nil: "n", int64(-1): []any{}},
	}
}

// testRoundTrip sends every kind of message, with every kind of value, and
// checks that it arrives equal.
func testRoundTrip(t *testing.T, f Factory) {
	ctrl, newEngine := open(t, f)
	e := newEngine()
	ctx := ctxT(t)
	start := time.Date(2026, 11, 23, 13, 0, 0, 123456789, time.UTC)
	task := &drovertype.Task{
		Kind: drovertype.MapTask, FuncName: "f", FuncSource: "def f(*a, **k):\n    return a\n",
		Args: []any{int64(1), values()}, Kwargs: values(),
		Options: drovertype.Options{ClearBefore: true, ClearAfter: true, Retries: 2, Timeout: 3 * time.Second,
			Depend: &drovertype.Depend{Source: "properties['x'] > 1"}},
	}
	stask := &drovertype.Task{Kind: drovertype.StringTask, Code: "b = a + 1", Push: values(), Pull: []string{"b"}, PullSingle: true}
	ctask := &drovertype.Task{Kind: drovertype.CommandTask, Argv: []string{"echo", "hi"}}
	fail := drovertype.NewRemoteError(4, 2, "ZeroDivisionError", "division by zero", "Traceback...")
	tr := &drovertype.TaskResult{TaskID: 4, EngineID: 2, Kind: drovertype.StringTask, Results: values(), Keys: []string{"a", "b"}}
	tr.SetTimes(start, start.Add(1500*time.Millisecond))
	ftr := &drovertype.TaskResult{TaskID: 5, EngineID: 2, Kind: drovertype.StringTask, Failure: fail}
	cr := &drovertype.TaskResult{TaskID: 6, EngineID: 2, Kind: drovertype.CommandTask,
		Command: &drovertype.CommandResult{ExitCode: 3, Stdout: []byte("out"), Stderr: []byte("err")}}

	from := []transport.FromEngine{
		{Register: &transport.Register{Name: "host:42", Properties: values(),
			Capabilities: transport.Capabilities{Commands: true, Functions: []string{"a", "b"}}, Window: 4}},
		{Outcome: &transport.Outcome{Attempt: 1, TaskID: 3, Value: values(), Started: start, Ended: start.Add(time.Second),
			Props: &transport.Props{Properties: values()}}},
		{Outcome: &transport.Outcome{Attempt: 2, TaskID: 4, Value: tr, Started: start, Ended: start}},
		{Outcome: &transport.Outcome{Attempt: 3, TaskID: 5, Value: ftr, Err: fail, Started: start, Ended: start}},
		{Outcome: &transport.Outcome{Attempt: 4, TaskID: 6, Value: cr}},
		{Outcome: &transport.Outcome{Attempt: 5, TaskID: 7, Err: drovertype.NewAborted(7)}},
		{Outcome: &transport.Outcome{Attempt: 6, TaskID: 8, Value: int64(5)}},
		{Outcome: &transport.Outcome{Attempt: 7, TaskID: 9, Value: []any{"x"}}},
		{Reply: &transport.Reply{ID: 1, Value: []any{true, false}}},
		{Reply: &transport.Reply{ID: 2, Value: []any{"a", "id"}}},
		{Reply: &transport.Reply{ID: 3, Err: drovertype.NewTaskError(drovertype.TaskFailed, "NameError", "name 'x' is not defined")}},
		{Reply: &transport.Reply{ID: 4, Value: values(), Props: &transport.Props{Properties: map[string]any{}}}},
		{Props: &transport.Props{Properties: values()}},
		{Bye: &transport.Bye{Reason: "shutdown", Unstarted: []transport.AttemptID{8, 9}}},
	}
	to := []transport.ToEngine{
		{Registered: &transport.Registered{EngineID: 2}},
		{Assign: &transport.Assign{Attempt: 1, TaskID: 3, Task: task, StepBudget: 1000}},
		{Assign: &transport.Assign{Attempt: 2, TaskID: 4, Task: stask}},
		{Assign: &transport.Assign{Attempt: 3, TaskID: 5, Task: ctask}},
		{Cancel: &transport.Cancel{Attempt: 1, Kind: drovertype.TaskTimeout, Message: "too slow"}},
		{Call: &transport.Call{ID: 1, Op: transport.OpPush, Values: values()}},
		{Call: &transport.Call{ID: 2, Op: transport.OpPull, Names: []string{"a"}, Single: true}},
		{Call: &transport.Call{ID: 3, Op: transport.OpExecute, Code: "x = 1", StepBudget: 5}},
		{Call: &transport.Call{ID: 4, Op: transport.OpHasProperties, Names: []string{"a", "b"}}},
		{Shutdown: &transport.Shutdown{Reason: "bye"}},
	}
	if err := e.Send(ctx, from[0]); err != nil {
		t.Fatal(err)
	}
	got, _ := recvCtrl(t, ctx, ctrl, 1)
	if err := e.Send(ctx, from[1:]...); err != nil {
		t.Fatal(err)
	}
	rest, _ := recvCtrl(t, ctx, ctrl, len(from)-1)
	got = append(got, rest...)
	for i := range from {
		from[i].From = e.Addr()
	}
	opts := cmp.Options{cmpopts.EquateEmpty(), cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 }),
		cmpopts.IgnoreFields(drovertype.TaskError{}, "Cause")}
	if diff := cmp.Diff(from, got, opts); diff != "" {
		t.Errorf("engine → controller round trip (-sent +received):\n%s", diff)
	}
	if err := ctrl.Send(ctx, e.Addr(), to...); err != nil {
		t.Fatal(err)
	}
	gotTo, _ := recvEngine(t, ctx, e, len(to))
	if diff := cmp.Diff(to, gotTo, opts); diff != "" {
		t.Errorf("controller → engine round trip (-sent +received):\n%s", diff)
	}
}

// testManyEngines: engines come and go; the controller talks to each.
func testManyEngines(t *testing.T, f Factory) {
	ctrl, newEngine := open(t, f)
	ctx := ctxT(t)
	const n = 20
	ends := make([]transport.EngineEnd, n)
	seen := map[string]bool{}
	for i := range ends {
		ends[i] = newEngine()
		if seen[ends[i].Addr()] {
			t.Fatalf("address %q handed out twice", ends[i].Addr())
		}
		seen[ends[i].Addr()] = true
		hello(t, ctrl, ends[i])
	}
	for i, e := range ends {
		if err := ctrl.Send(ctx, e.Addr(), cancelMsg(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, e := range ends {
		if got, _ := recvEngine(t, ctx, e, 1); got[0].Cancel.Attempt != transport.AttemptID(i+1) {
			t.Fatalf("engine %d got %+v", i, got[0])
		}
		if i%2 == 0 {
			e.Close()
		}
	}
	lost, _ := recvCtrl(t, ctx, ctrl, n/2)
	for _, m := range lost {
		if m.Lost == nil {
			t.Fatalf("got %+v, want Lost", m)
		}
	}
	for i, e := range ends {
		err := ctrl.Send(ctx, e.Addr(), cancelMsg(0))
		if i%2 == 0 && !errors.Is(err, transport.ErrUnknownAddr) {
			t.Errorf("engine %d (closed): Send: %v, want ErrUnknownAddr", i, err)
		}
		if i%2 == 1 && err != nil {
			t.Errorf("engine %d (open): Send: %v", i, err)
		}
	}
}
