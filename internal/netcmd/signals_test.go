package netcmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/fabric"
)

// TestControllerSecondInterrupt: the first Ctrl-C makes the controller wait
// (up to --stop-timeout, an hour here) for the attempt running on an
// engine; a second Ctrl-C stops it at once.
func TestControllerSecondInterrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := waitCtx(t, 60*time.Second)
	ctl := startInProc(t, "controller", "--data", dir, "--stop-timeout", "1h", "--log-level", "info")
	ctl.out.wait(t, ctx, "ready line", prefixed(ReadyLine))
	eng := startProc(t, dir, "engine", "--connect", filepath.Join(dir, fabric.FileName(fabric.RoleEngine)), "--log-level", "warn")
	r, err := drover.Dial(ctx, filepath.Join(dir, fabric.FileName(fabric.RoleClient)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	task, _ := drover.NewMapTask("announce", []any{"long", int64(3600)}, nil, drover.Options{})
	if _, err := r.Run(ctx, task); err != nil {
		t.Fatal(err)
	}
	eng.out.wait(t, ctx, "the task running", prefixed(announceLine))

	ctl.intr <- os.Interrupt
	ctl.err.wait(t, ctx, "stopping", contains("controller: stopping"))
	select {
	case err := <-ctl.done:
		t.Fatalf("the controller stopped at the first Ctrl-C (%v) with an attempt running", err)
	default:
	}
	ctl.intr <- os.Interrupt
	if err := ctl.wait(t); err != nil {
		t.Fatalf("controller: %v", err)
	}
	if !contains("controller: stopping at once")(ctl.err.String()) {
		t.Errorf("the controller does not say it stops at once:\n%s", ctl.err.String())
	}
}

// TestClientFlagErrors: client flags that cannot apply are usage errors.
func TestClientFlagErrors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "drover-client.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "--connect", file, "--timeout", "0s"}, "--timeout 0s: must be more than 0"},
		{[]string{"engines", "--connect", file, "--timeout", "-1s"}, "--timeout -1s: must be more than 0"},
		{[]string{"status", "--connect", file, "--prefix", "other"}, "--prefix is for NATS URLs"},
		{[]string{"status", "--connect", file, "--creds", file}, "--creds is for NATS URLs"},
	} {
		_, err := runCmd(t, tc.args...)
		if ExitCode(err) != ExitUsage || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (status %d); want a usage error with %q", tc.args, err, ExitCode(err), tc.want)
		}
	}
}
