package netcmd

import (
	"context"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/fabric"
)

// startJSCluster starts a 3-node NATS cluster "drover-js" with
// JetStream in the test process, nodes n1, n2, n3: startNATSNode's token
// authentication and loopback listeners, JetStream with file storage in a
// directory of each node's own. A JetStream cluster needs its routes
// configured from the start, so the route ports are chosen first (free
// ports of 127.0.0.1) and each node routes to all three. The cleanups
// shut them down.
func startJSCluster(t testing.TB) []*natsNode {
	t.Helper()
	const size = 3
	ports := make([]int, size)
	routes := make([]*url.URL, size)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		routes[i] = &url.URL{Scheme: "nats-route", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[i]))}
	}
	nodes := make([]*natsNode, size)
	for i := range nodes {
		name := "n" + strconv.Itoa(i+1)
		s, err := server.NewServer(&server.Options{
			ServerName:    name,
			Host:          "127.0.0.1",
			Port:          -1,
			Authorization: testToken,
			NoLog:         true,
			NoSigs:        true,
			JetStream:     true,
			StoreDir:      t.TempDir(),
			Cluster:       server.ClusterOpts{Name: "drover-js", Host: "127.0.0.1", Port: ports[i]},
			Routes:        routes,
		})
		if err != nil {
			t.Fatalf("NATS server %s: %v", name, err)
		}
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			s.Shutdown()
			s.WaitForShutdown()
			t.Fatalf("NATS server %s is not ready", name)
		}
		nodes[i] = &natsNode{name: name, srv: s}
		t.Cleanup(nodes[i].stop)
	}
	return nodes
}

// jsReady waits until the JetStream cluster of nodes has a meta leader
// that knows every node as a peer, and every node is current with it.
// The server gives no notification of it: it is checked every 20 ms.
func jsReady(t testing.TB, ctx context.Context, nodes ...*natsNode) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		leader, current := "", 0
		for _, n := range nodes {
			if n.srv.JetStreamIsLeader() && len(n.srv.JetStreamClusterPeers()) == len(nodes) {
				leader = n.name
			}
			if n.srv.JetStreamIsCurrent() {
				current++
			}
		}
		if leader != "" && current == len(nodes) {
			t.Logf("JetStream meta leader: %s", leader)
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("JetStream cluster: no meta leader with %d peers: %v", len(nodes), ctx.Err())
		}
	}
}

// journalStreams are the streams a durable controller on prefix drover
// makes at least: the journal's and the lease's key-value bucket.
var journalStreams = []string{"drover_tasks", "drover_results", "KV_drover_lease"}

// TestProcessJetStreamClusterFailover is issue 5's replicated journal: a
// 3-node NATS cluster with JetStream (token authentication, as an
// operator would run it); durable controller A joins node 1 (drover
// controller --nats --durable), and the journal's streams and the lease
// bucket are created with 3 replicas. Controller B joins node 2 and waits
// as a standby; two engine processes join node 3; the client joins node 2.
// The client submits 1,500 tasks; once the first results are in,
// controller A is killed with SIGKILL. B takes the lease over, recovers
// the queue, the engines register with it, and the client (the same
// Remote, waiting all along) gets every result; 500 more tasks submitted
// to B get ids after all of A's. Every task has exactly one result, its
// own tag, in the results stream too, and the lease names B. Then one
// NATS node stops (not node 2: of nodes 1 and 3, the one that leads more
// of the three streams; node 3 takes the engines' connections with it):
// the replicated streams and lease go on with two nodes, B keeps its
// lease, both engines stay, and 300 new tasks complete.
func TestProcessJetStreamClusterFailover(t *testing.T) {
	t.Parallel()
	began := time.Now()
	ctx := waitCtx(t, 120*time.Second)
	cluster := startJSCluster(t)
	n1, n2, n3 := cluster[0], cluster[1], cluster[2]
	nodes := map[string]*natsNode{"n1": n1, "n2": n2, "n3": n3}
	meshed(t, ctx, n1, n2, n3)
	jsReady(t, ctx, n1, n2, n3)
	t.Logf("cluster ready after %v", time.Since(began).Round(time.Millisecond))
	creds := tokenFile(t)
	js, err := jetstream.New(natsClient(t, n2))
	if err != nil {
		t.Fatal(err)
	}

	dA, dB, dE := t.TempDir(), t.TempDir(), t.TempDir()
	ctlArgs := func(node *natsNode, dir string) []string {
		return []string{"controller", "--nats", node.url(), "--creds", creds, "--data", dir, "--durable", "--lease-ttl", "5s",
			"--failure-penalty", "0", "--log-level", "info"}
	}
	ctlA := startProc(t, dA, ctlArgs(n1, dA)...)
	ctlA.out.wait(t, ctx, "results line of A", prefixed("  results: "))
	if want := "(prefix drover, 3 replicas)"; !strings.Contains(ctlA.out.String(), want) {
		t.Errorf("controller A on a cluster does not say %q:\n%s", want, ctlA.out.String())
	}
	// Every stream the controller made (the journal's, the lease's, and
	// any other, such as an object store bucket) has 3 replicas.
	var streams []string
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		streams = append(streams, name)
	}
	if err := names.Err(); err != nil {
		t.Fatalf("stream names: %v", err)
	}
	for _, want := range journalStreams {
		if !slices.Contains(streams, want) {
			t.Errorf("no stream %s among %q", want, streams)
		}
	}
	for _, name := range streams {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		info := s.CachedInfo()
		if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			t.Errorf("stream %s: %d replicas (cluster %+v), want 3", name, info.Config.Replicas, info.Cluster)
		}
	}
	t.Logf("streams, 3 replicas each: %q", streams)
	ctlB := startProc(t, dB, ctlArgs(n2, dB)...)
	ctlB.out.wait(t, ctx, "standby line of B", prefixed(StandbyLine))

	engs := []*proc{
		startProc(t, dE, "engine", "--connect", n3.url(), "--creds", creds, "--name", "e1", "--log-level", "info"),
		startProc(t, dE, "engine", "--connect", n3.url(), "--creds", creds, "--name", "e2", "--log-level", "info"),
	}
	for _, e := range engs {
		e.out.wait(t, ctx, "engine connected", prefixed(EngineReadyLine))
	}
	ctlA.err.count(t, ctx, "engines registered with A", 2, contains("controller: engine registered"))

	// The client stays on node 2 all along; its waits span the failover
	// (it asks again while no controller answers, for RequestTimeout).
	r, err := drover.Dial(ctx, n2.url(), drover.WithConnectOptions(fabric.ConnectOptions{CredentialsFile: creds}),
		drover.WithPollWait(time.Second), drover.WithRequestTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())

	tags := map[drover.TaskID]string{}
	var all []drover.TaskID
	last := drover.TaskID(-1)
	proto, _ := drover.NewMapTask("slowecho", nil, nil, drover.Options{})
	submit := func(what string, n int) []drover.TaskID {
		t.Helper()
		xs, ms := make([]any, n), make([]any, n)
		for i := range xs {
			xs[i], ms[i] = what+"-"+strconv.Itoa(i), 0.002
		}
		ids, err := r.MapAsync(ctx, proto, xs, ms)
		if err != nil {
			t.Fatalf("submit %s: %v", what, err)
		}
		for i, id := range ids {
			if id <= last {
				t.Fatalf("%s: id %d after id %d: ids must strictly increase (never reused)", what, id, last)
			}
			last = id
			tags[id] = xs[i].(string)
		}
		all = append(all, ids...)
		return ids
	}

	// Phase 1: kill -9 of controller A in the middle.
	first := submit("a", 1500)
	checkResults(t, ctx, r, first[:300], tags)
	if err := ctlA.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := ctlA.wait(t, ctx); err == nil {
		t.Fatal("controller A exited 0 after SIGKILL")
	}
	ctlB.out.wait(t, ctx, "results line of B", prefixed("  results: "))
	idB, _ := readyInfo(ctlB.out.wait(t, ctx, "ready line of B", prefixed(ReadyLine)))
	lease, err := js.KeyValue(ctx, "drover_lease")
	if err != nil {
		t.Fatal(err)
	}
	holder := func() string {
		t.Helper()
		e, err := lease.Get(ctx, "leader")
		if err != nil {
			t.Fatalf("the lease: %v", err)
		}
		return string(e.Value())
	}
	if h := holder(); !strings.HasPrefix(h, idB+"@") {
		t.Errorf("after the take-over, the lease is held by %q, want controller B (%s)", h, idB)
	}
	line := ctlB.err.wait(t, ctx, "recovery line of B", contains(RecoveredLine))
	_, after, _ := strings.Cut(line, " unfinished=")
	unfinished, err := strconv.Atoi(strings.Fields(after + " x")[0])
	if err != nil {
		t.Fatalf("recovery line %q: %v", line, err)
	}
	t.Logf("B took over %v after the kill -9, with %d tasks unfinished", time.Since(killed).Round(time.Millisecond), unfinished)
	if unfinished == 0 {
		t.Errorf("no task was unfinished at the kill -9: the test proves nothing")
	}
	if !strings.Contains(ctlB.out.String(), "(prefix drover, 3 replicas)") {
		t.Errorf("controller B does not say it has 3 replicas:\n%s", ctlB.out.String())
	}

	second := submit("b", 500)
	checkResults(t, ctx, r, all, tags)
	counts, err := r.QueueCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts.Succeeded != len(all) || counts.Failed != 0 || counts.Pending+counts.Scheduled != 0 {
		t.Errorf("QueueCounts = %+v, want %d succeeded and nothing else (one result per task)", counts, len(all))
	}
	// One result per task in the journal itself: a success for each id,
	// no failure.
	res, err := js.Stream(ctx, "drover_results")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		filter string
		want   int
	}{{"drover.j.r.s.*", len(all)}, {"drover.j.r.f.*", 0}} {
		info, err := res.Info(ctx, jetstream.WithSubjectFilter(c.filter))
		if err != nil {
			t.Fatal(err)
		}
		if len(info.State.Subjects) != c.want {
			t.Errorf("results stream: %d subjects match %s, want %d", len(info.State.Subjects), c.filter, c.want)
		}
		for subj, k := range info.State.Subjects {
			if id, err := strconv.Atoi(subj[strings.LastIndexByte(subj, '.')+1:]); err != nil || k != 1 || tags[drover.TaskID(id)] == "" {
				t.Errorf("results stream: %d× %s, want one result per submitted task", k, subj)
			}
		}
	}
	t.Logf("phase 1 (%d + %d tasks, kill -9 of A) done after %v", len(first), len(second), time.Since(began).Round(time.Millisecond))

	// Phase 2: one NATS node stops; not node 2 (B's and the client's):
	// the one that leads most of the journal's streams and the lease.
	leads := map[string][]string{}
	for _, name := range streams {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if c := s.CachedInfo().Cluster; c != nil {
			leads[c.Leader] = append(leads[c.Leader], name)
		}
	}
	victim := "n1"
	if len(leads["n3"]) > len(leads["n1"]) {
		victim = "n3"
	}
	t.Logf("stream leaders: %v; stopping node %s", leads, victim)
	nodes[victim].stop()
	stopped := time.Now()
	third := submit("c", 300)
	checkResults(t, ctx, r, third, tags)
	t.Logf("300 tasks done %v after node %s stopped", time.Since(stopped).Round(time.Millisecond), victim)
	for _, name := range streams {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s after node %s stopped: %v", name, victim, err)
		}
		if info := s.CachedInfo(); info.Cluster == nil || info.Cluster.Leader == "" || info.Cluster.Leader == victim {
			t.Errorf("stream %s after node %s stopped: cluster %+v, want a leader on another node", name, victim, info.Cluster)
		}
	}
	if h := holder(); !strings.HasPrefix(h, idB+"@") {
		t.Errorf("after node %s stopped, the lease is held by %q, want controller B (%s)", victim, h, idB)
	}
	if s := ctlB.err.String(); strings.Contains(s, "lost the lease") {
		t.Errorf("controller B lost its lease when node %s stopped:\n%s", victim, s)
	}
	infos, err := r.Engines(ctx)
	if err != nil || len(infos) != 2 {
		t.Errorf("engines after node %s stopped: %+v, %v; want 2", victim, infos, err)
	}
	counts, err = r.QueueCounts(ctx)
	if err != nil || counts.Succeeded != len(all) || counts.Failed != 0 {
		t.Errorf("QueueCounts = %+v, %v; want %d succeeded", counts, err, len(all))
	}

	for _, e := range engs {
		e.signal(t, syscall.SIGTERM)
	}
	for _, e := range engs {
		if err := e.wait(t, ctx); err != nil {
			t.Errorf("engine exit: %v", err)
		}
	}
	ctlB.signal(t, syscall.SIGTERM)
	if err := ctlB.wait(t, ctx); err != nil {
		t.Errorf("controller B exit: %v", err)
	}
	t.Logf("%v in all", time.Since(began).Round(time.Millisecond))
}
