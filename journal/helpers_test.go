package journal_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/journal"
	"github.com/drover-dev/drover/transport/wire"
)

// natsServer is a real nats-server with JetStream (file storage in dir),
// reachable in-process only.
type natsServer struct {
	t   testing.TB
	dir string
	ns  *server.Server
	nc  *nats.Conn
}

// startNATS starts a server on dir; maxStore > 0 limits JetStream's file
// storage. It is shut down at cleanup (or by stop).
func startNATS(t testing.TB, dir string, maxStore int64) *natsServer {
	t.Helper()
	opts := &server.Options{
		ServerName:         "journal-test",
		DontListen:         true,
		NoSigs:             true,
		NoLog:              true,
		JetStream:          true,
		StoreDir:           dir,
		JetStreamMaxStore:  maxStore,
		JetStreamMaxMemory: 64 << 20,
		MaxPayload:         1 << 20,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("start nats server on %s: %v", dir, err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatalf("nats server on %s not ready", dir)
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.MaxReconnects(0))
	if err != nil {
		ns.Shutdown()
		t.Fatal(err)
	}
	s := &natsServer{t: t, dir: dir, ns: ns, nc: nc}
	t.Cleanup(s.stop)
	return s
}

// stop closes the connection and shuts the server down.
func (s *natsServer) stop() {
	s.nc.Close()
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// open opens a journal on s and closes it (hard) at cleanup.
func (s *natsServer) open(t testing.TB, cfg *journal.Config) *journal.Journal {
	t.Helper()
	j, err := journal.Open(t.Context(), s.nc, cfg)
	if err != nil {
		t.Fatalf("open journal on %s: %v", s.dir, err)
	}
	t.Cleanup(func() { closeNow(j) })
	return j
}

// closeNow closes j without waiting for its writes.
func closeNow(j *journal.Journal) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = j.Close(ctx)
}

func newCodec(t testing.TB) *wire.Codec {
	t.Helper()
	c, err := wire.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startNATSTCP is startNATS listening on a loopback port (for clients
// that dial, as engine processes do).
func startNATSTCP(t testing.TB, dir string) *natsServer {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		ServerName: "journal-test-tcp", Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: dir, JetStreamMaxMemory: 64 << 20, MaxPayload: 8 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatal("nats server not ready")
	}
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(0))
	if err != nil {
		ns.Shutdown()
		t.Fatal(err)
	}
	s := &natsServer{t: t, dir: dir, ns: ns, nc: nc}
	t.Cleanup(s.stop)
	return s
}

// reserveIDs reserves task ids as a controller does before its first task
// (a journal with results or tasks but no reservation is damaged).
func reserveIDs(t testing.TB, j *journal.Journal) {
	t.Helper()
	if _, err := j.ReserveIDs(t.Context(), 1000); err != nil {
		t.Fatal(err)
	}
}
