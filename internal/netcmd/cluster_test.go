package netcmd

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/fabric"
)

// testToken is the NATS token of the external servers of these tests:
// the operator's credentials, as drover controller --creds reads them.
const testToken = "s3cret-operator-token"

// tokenFile writes testToken in a file of mode 0600 and returns its path.
func tokenFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nats.token")
	if err := os.WriteFile(p, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// natsNode is an external NATS server run in the test process (token
// authentication, loopback only), optionally a node of a cluster.
type natsNode struct {
	name string
	srv  *server.Server
}

// startNATSNode starts a NATS server named name on 127.0.0.1:port (-1:
// random). With cluster set, it is a node of the cluster "drover-test",
// with a route to each of routes. The cleanup shuts it down.
func startNATSNode(t testing.TB, name string, port int, cluster bool, routes ...*url.URL) *natsNode {
	t.Helper()
	opts := &server.Options{
		ServerName:    name,
		Host:          "127.0.0.1",
		Port:          port,
		Authorization: testToken,
		NoLog:         true,
		NoSigs:        true,
	}
	if cluster {
		opts.Cluster = server.ClusterOpts{Name: "drover-test", Host: "127.0.0.1", Port: -1}
		opts.Routes = routes
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("NATS server %s: %v", name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		t.Fatalf("NATS server %s is not ready", name)
	}
	n := &natsNode{name: name, srv: s}
	t.Cleanup(n.stop)
	return n
}

// url is the node's client URL (no credentials in it).
func (n *natsNode) url() string { return n.srv.ClientURL() }

// port is the node's client port.
func (n *natsNode) port() int { return n.srv.Addr().(*net.TCPAddr).Port }

// routeURL is the node's cluster (route) URL.
func (n *natsNode) routeURL(t testing.TB) *url.URL {
	t.Helper()
	u, err := url.Parse("nats-route://" + n.srv.ClusterAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// stop shuts the node down and waits for it (its clients are
// disconnected). Stopping twice is safe.
func (n *natsNode) stop() {
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}

// natsClient connects to node (with the token) for the test's own use.
func natsClient(t testing.TB, node *natsNode) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(node.url(), nats.Token(testToken), nats.IgnoreDiscoveredServers(), nats.NoReconnect())
	if err != nil {
		t.Fatalf("connect to %s: %v", node.name, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// meshed waits until a request published on each node reaches a
// subscriber on each other node: the cluster is a full mesh (NATS
// forwards a message one route hop only), and interest has propagated.
func meshed(t testing.TB, ctx context.Context, nodes ...*natsNode) {
	t.Helper()
	conns := make([]*nats.Conn, len(nodes))
	for i, n := range nodes {
		conns[i] = natsClient(t, n)
		sub, err := conns[i].Subscribe("mesh."+n.name, func(m *nats.Msg) { _ = m.Respond(nil) })
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := conns[i].Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range nodes {
		for j, to := range nodes {
			if i == j {
				continue
			}
			for {
				rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				_, err := conns[i].RequestWithContext(rctx, "mesh."+to.name, nil)
				cancel()
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("NATS cluster: no route from %s to %s: %v", nodes[i].name, to.name, err)
				}
			}
		}
	}
}

// TestProcessNATSCluster: drover on an external 3-node NATS cluster (token
// authentication, as an operator would configure it): a controller
// process joins node A (drover controller --nats --creds), an engine
// process joins A and another joins B (drover engine --connect URL
// --creds), and a client joins C. The client submits 10,000 tasks; in the
// middle, node A stops, under the controller and one engine. Every task
// completes exactly once with its own result: each task's result is its
// own tag, ids are distinct, and the engines' side channel (announce
// prints one line per execution) shows every task ran exactly once: the
// tasks have no retries, and the transport's sessions resend the frames
// lost in the failover, so no engine session is lost.
func TestProcessNATSCluster(t *testing.T) {
	t.Parallel()
	ctx := waitCtx(t, 60*time.Second)
	a := startNATSNode(t, "A", -1, true)
	b := startNATSNode(t, "B", -1, true, a.routeURL(t))
	c := startNATSNode(t, "C", -1, true, a.routeURL(t), b.routeURL(t))
	meshed(t, ctx, a, b, c)
	creds := tokenFile(t)

	dir := t.TempDir()
	ctl := startProc(t, dir, "controller", "--nats", a.url(), "--creds", creds, "--data", dir,
		"--failure-penalty", "0", "--log-level", "info")
	ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	engs := []*proc{
		startProc(t, dir, "engine", "--connect", a.url(), "--creds", creds, "--name", "on-A", "--log-level", "info"),
		startProc(t, dir, "engine", "--connect", b.url(), "--creds", creds, "--name", "on-B", "--log-level", "info"),
	}
	for _, e := range engs {
		e.out.wait(t, ctx, "engine connected", prefixed(EngineReadyLine))
	}
	ctl.err.count(t, ctx, "engine registered", 2, contains("controller: engine registered"))
	if !strings.Contains(engs[0].out.String(), a.url()) || !strings.Contains(engs[1].out.String(), b.url()) {
		t.Fatalf("engines not connected to their nodes:\n%s\n%s", engs[0].out.String(), engs[1].out.String())
	}

	r, err := drover.Dial(ctx, c.url(), drover.WithConnectOptions(fabric.ConnectOptions{CredentialsFile: creds}),
		drover.WithPollWait(time.Second), drover.WithRequestTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())

	const n = 10000
	tags, zeros := make([]any, n), make([]any, n)
	for i := range tags {
		tags[i], zeros[i] = "t"+strconv.Itoa(i), int64(0)
	}
	proto, _ := drover.NewMapTask("announce", nil, nil, drover.Options{})
	ids, err := r.MapAsync(ctx, proto, tags, zeros)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[drover.TaskID]bool, n)
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("task id %d given twice", id)
		}
		seen[id] = true
	}

	// In the middle: stop node A, under the controller and engine on-A.
	engs[0].out.count(t, ctx, "engine on-A's first tasks", n/10, prefixed(announceLine+" "))
	a.stop()
	before := 0
	for _, e := range engs {
		before += strings.Count(e.out.String(), announceLine+" ")
	}
	t.Logf("node A stopped after %d executions", before)

	outs, errs, err := r.Results(ctx, ids)
	if err != nil {
		t.Fatalf("results: %v\ncontroller stderr:\n%s", err, ctl.err.String())
	}
	for i, v := range outs {
		if errs[i] != nil || v != tags[i] {
			t.Fatalf("task %d (%s) = %v, %v; want %s", ids[i], tags[i], v, errs[i], tags[i])
		}
	}

	// The side channel: every task ran, and a second run only where a
	// session was lost.
	runs := make(map[string]int, n)
	for _, e := range engs {
		for _, line := range strings.Split(e.out.String(), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == announceLine {
				runs[f[1]]++
			}
		}
	}
	twice, total := 0, 0
	for _, tag := range tags {
		k := runs[tag.(string)]
		total += k
		switch {
		case k == 0:
			t.Errorf("task %s has a result but never ran", tag)
		case k > 1:
			twice++
		}
	}
	if len(runs) != n {
		t.Errorf("%d distinct tags ran, want %d", len(runs), n)
	}
	lost := strings.Count(ctl.err.String(), "controller: engine lost")
	t.Logf("%d executions for %d tasks (%d before node A stopped); %d tasks ran more than once; %d engine sessions lost",
		total, n, before, twice, lost)
	if before >= n {
		t.Errorf("every task ran before node A stopped: the test stopped nothing in the middle")
	}
	if twice > 0 || lost > 0 || total != n {
		t.Errorf("%d executions for %d tasks; %d ran more than once; %d engine sessions lost: want every task run exactly once and no session lost", total, n, twice, lost)
	}

	// The parts on node A came back on another node; tasks submitted now
	// run on both engines.
	engs[0].err.wait(t, ctx, "engine on-A reconnected", contains("nats: reconnected"))
	more, _ := drover.NewMapTask("echo", nil, nil, drover.Options{})
	xs := make([]any, 100)
	for i := range xs {
		xs[i] = int64(i)
	}
	got, err := r.Map(ctx, more, xs)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(xs) {
		t.Fatalf("map after the outage = %v, %v", got, err)
	}
	infos, err := r.Engines(ctx)
	if err != nil || len(infos) != 2 {
		t.Errorf("engines after the outage: %+v, %v; want 2", infos, err)
	}

	for _, e := range engs {
		e.signal(t, syscall.SIGTERM)
	}
	for _, e := range engs {
		if err := e.wait(t, ctx); err != nil {
			t.Errorf("engine exit: %v", err)
		}
	}
	ctl.signal(t, syscall.SIGTERM)
	if err := ctl.wait(t, ctx); err != nil {
		t.Errorf("controller exit: %v", err)
	}
}
