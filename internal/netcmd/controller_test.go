package netcmd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/fabric"
)

// TestControllerCommand: the controller starts an embedded server, writes
// private connection files, says where they are (and that --data makes it
// durable), serves the control API
// (a client dials it), refuses a second controller on its data directory,
// and stops when its ctx ends.
func TestControllerCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := waitCtx(t, 30*time.Second)
	p := startInProc(t, "controller", "--data", dir, "--log-level", "warn")
	line := p.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	id, urls := readyInfo(line)
	if id == "" || !strings.HasPrefix(urls, "nats://127.0.0.1:") {
		t.Fatalf("ready line %q", line)
	}
	for _, r := range []fabric.Role{fabric.RoleEngine, fabric.RoleClient, fabric.RoleController} {
		path := filepath.Join(dir, fabric.FileName(r))
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
		}
	}
	p.out.wait(t, ctx, "results line", prefixed("  results: ")) // the last of the ready lines
	out := p.out.String()
	for _, want := range []string{filepath.Join(dir, "drover-engine.json"), filepath.Join(dir, "drover-client.json"),
		"results: durable: journal at " + filepath.Join(dir, "jetstream")} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
	r, err := drover.Dial(ctx, filepath.Join(dir, fabric.FileName(fabric.RoleClient)))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Info().ControllerID; got != id {
		t.Errorf("Info().ControllerID = %q, want %q", got, id)
	}
	infos, err := r.Engines(ctx)
	if err != nil || len(infos) != 0 {
		t.Errorf("Engines = %v, %v; want none", infos, err)
	}
	_ = r.Close(context.Background())

	// A second controller on the same data directory is refused.
	p2 := startInProc(t, "controller", "--data", dir, "--log-level", "warn")
	err = p2.wait(t)
	if ExitCode(err) != ExitFailure || !strings.Contains(err.Error(), "in use by another drover controller") {
		t.Errorf("second controller: %v (exit %d), want a clear in-use error", err, ExitCode(err))
	}

	if err := p.stop(t); err != nil {
		t.Fatalf("controller: %v; stderr:\n%s", err, p.err.String())
	}
	if !strings.Contains(p.out.String(), "stopped") {
		t.Errorf("no stop line:\n%s", p.out.String())
	}
}

// TestControllerUsage: bad flags are usage errors that name the flag.
func TestControllerUsage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--scheduler", "random"}, "--scheduler"},
		{[]string{"--window", "0"}, "--window"},
		{[]string{"--failure-penalty", "-1s"}, "--failure-penalty"},
		{[]string{"--idle-timeout", "-1s"}, "--idle-timeout"},
		{[]string{"--tls-cert", "x.pem"}, "--tls-key"},
		{[]string{"--tls-verify-clients"}, "--tls-ca"},
		{[]string{"--creds", "x"}, "--nats"},
		{[]string{"--nats", "localhost:4222"}, "--nats"},
		{[]string{"--nats", "nats://localhost:4222", "--listen", ":0"}, "--listen"},
		{[]string{"--prefix", "a b"}, "--prefix"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--results-max-age", "-1s"}, "--results-max-age"},
		{[]string{"--results-max", "-1"}, "--results-max"},
		{[]string{"--durable=false", "--results-max", "10"}, "--results-max"},
		{[]string{"--replicas", "3"}, "--replicas"},
		{[]string{"--nats", "nats://localhost:4222", "--replicas", "3"}, "--replicas"},
		{[]string{"--lease-ttl", "5s"}, "--lease-ttl is for --nats --durable"},
		{[]string{"--nats", "nats://localhost:4222", "--durable", "--lease-ttl", "500ms"}, "--lease-ttl 500ms"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			p := startInProc(t, append([]string{"controller", "--data", t.TempDir()}, tt.args...)...)
			err := p.wait(t)
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Code != ExitUsage || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a usage error naming %s", err, tt.want)
			}
		})
	}
}
