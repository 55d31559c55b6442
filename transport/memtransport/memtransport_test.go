package memtransport_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/memtransport"
	"github.com/drover-dev/drover/transport/transporttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func factory(t *testing.T) (transport.ControllerEnd, func(t *testing.T) transport.EngineEnd) {
	hub, err := memtransport.New(nil)
	if err != nil {
		t.Fatalf("memtransport.New: %v", err)
	}
	return hub.Controller(), func(*testing.T) transport.EngineEnd { return hub.NewEngine() }
}

func TestConformance(t *testing.T) {
	t.Parallel()
	transporttest.Run(t, factory)
}

func TestHub(t *testing.T) {
	t.Parallel()
	hub, err := memtransport.New(&memtransport.Config{Prefix: "local"})
	if err != nil {
		t.Fatal(err)
	}
	if hub.Controller() != hub.Controller() {
		t.Errorf("Controller returns different ends")
	}
	a, b := hub.NewEngine(), hub.NewEngine()
	if a.Addr() != "local-1" || b.Addr() != "local-2" {
		t.Errorf("addresses %q, %q; want local-1, local-2", a.Addr(), b.Addr())
	}
	if n := hub.Engines(); n != 2 {
		t.Errorf("Engines() = %d, want 2", n)
	}
	a.Close()
	if n := hub.Engines(); n != 1 {
		t.Errorf("Engines() after a Close = %d, want 1", n)
	}
	hub.Controller().Close()
	c := hub.NewEngine()
	if _, err := c.Recv(context.Background()); err == nil {
		t.Errorf("Recv on an engine end made after the controller closed: no error")
	}
	if n := hub.Engines(); n != 0 {
		t.Errorf("Engines() after controller Close = %d, want 0", n)
	}
}

// BenchmarkRoundTrip measures one batch of n messages controller → engine
// and n back, per message.
func BenchmarkRoundTrip(b *testing.B) {
	for _, n := range []int{1, 16, 256} {
		b.Run(itoa(n), func(b *testing.B) {
			hub, _ := memtransport.New(nil)
			ctrl := hub.Controller()
			e := hub.NewEngine()
			defer ctrl.Close()
			ctx := context.Background()
			to := make([]transport.ToEngine, n)
			from := make([]transport.FromEngine, n)
			for i := range to {
				to[i] = transport.ToEngine{Cancel: &transport.Cancel{Attempt: transport.AttemptID(i + 1)}}
				from[i] = transport.FromEngine{Outcome: &transport.Outcome{Attempt: transport.AttemptID(i + 1)}}
			}
			for b.Loop() {
				if err := ctrl.Send(ctx, e.Addr(), to...); err != nil {
					b.Fatal(err)
				}
				for got := 0; got < n; {
					m, err := e.Recv(ctx)
					if err != nil {
						b.Fatal(err)
					}
					got += len(m)
				}
				if err := e.Send(ctx, from...); err != nil {
					b.Fatal(err)
				}
				for got := 0; got < n; {
					m, err := ctrl.Recv(ctx)
					if err != nil {
						b.Fatal(err)
					}
					got += len(m)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*2), "ns/msg")
		})
	}
}

// BenchmarkPingPong measures a round trip between two goroutines (a
// controller and an engine), one message each way.
func BenchmarkPingPong(b *testing.B) {
	hub, _ := memtransport.New(nil)
	ctrl := hub.Controller()
	e := hub.NewEngine()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		out := transport.FromEngine{Outcome: &transport.Outcome{}}
		for {
			m, err := e.Recv(ctx)
			if err != nil {
				return
			}
			for range m {
				e.Send(ctx, out)
			}
		}
	}()
	msg := transport.ToEngine{Cancel: &transport.Cancel{Attempt: 1}}
	for b.Loop() {
		if err := ctrl.Send(ctx, e.Addr(), msg); err != nil {
			b.Fatal(err)
		}
		if _, err := ctrl.Recv(ctx); err != nil {
			b.Fatal(err)
		}
	}
	cancel()
	<-done
	ctrl.Close()
}

func itoa(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		n /= 10
		if n == 0 {
			return s
		}
	}
}
