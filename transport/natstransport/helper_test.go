package natstransport_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/transport/natstransport"
)

// startServer starts an embedded nats-server: listening on a loopback
// port (port -1: any free one) unless inProcess, which only takes
// in-process connections. It is shut down at cleanup.
func startServer(t testing.TB, inProcess bool, port int) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: port, NoSigs: true, NoLog: true, DontListen: inProcess}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("new nats server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatalf("nats server not ready")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// serverPort returns the TCP port s listens on.
func serverPort(t testing.TB, s *server.Server) int {
	t.Helper()
	a, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("server address %v is not TCP", s.Addr())
	}
	return a.Port
}

// connect connects to s: in-process if s does not listen, else over
// loopback TCP. The connection reconnects fast and for ever, and is closed
// at cleanup.
func connect(t testing.TB, s *server.Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc := dial(t, s, opts...)
	t.Cleanup(nc.Close)
	return nc
}

// dial is connect without the cleanup.
func dial(t testing.TB, s *server.Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.ReconnectWait(20 * time.Millisecond), nats.MaxReconnects(-1),
		nats.ReconnectJitter(0, 0), nats.NoCallbacksAfterClientClose(),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})}, opts...)
	url := ""
	if s.Addr() == nil {
		opts = append(opts, nats.InProcessServer(s))
	} else {
		url = fmt.Sprintf("nats://127.0.0.1:%d", serverPort(t, s))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect to nats: %v", err)
	}
	return nc
}

var uniq atomic.Uint64

// unique returns a name no other call returns (prefixes, keys).
func unique(base string) string { return fmt.Sprintf("%s%d", base, uniq.Add(1)) }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newController returns a controller end on its own connection, closed at
// cleanup.
func newController(t testing.TB, s *server.Server, cfg *natstransport.Config) *natstransport.ControllerEnd {
	t.Helper()
	nc := connect(t, s)
	c, err := natstransport.NewControllerEnd(ctxT(t), nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newEngine returns an engine end with key on its own connection, closed
// at cleanup.
func newEngine(t testing.TB, s *server.Server, cfg natstransport.Config, key string) *natstransport.EngineEnd {
	t.Helper()
	nc := connect(t, s)
	cfg.Key = key
	e, err := natstransport.NewEngineEnd(ctxT(t), nc, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}
