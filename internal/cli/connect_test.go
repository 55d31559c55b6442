package cli

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/internal/netcmd"
)

// startDrover starts the real drover program with args in a child process
// and returns it with its standard output, read line by line.
func startDrover(t *testing.T, args ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := droverCmd(t, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = waitWithDeadline(t, cmd)
	})
	return cmd, bufio.NewScanner(stdout)
}

// TestConnect: drover run and drover shell with --connect use a controller
// (drover controller, a process of its own) and its engine processes
// instead of an in-process farm.
func TestConnect(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	_, out := startDrover(t, "controller", "--data", data, "--listen", "127.0.0.1:0", "--log-level", "error")
	ready := false
	for out.Scan() {
		if strings.HasPrefix(out.Text(), netcmd.ReadyLine) {
			ready = true
			break
		}
	}
	if !ready {
		t.Fatalf("the controller never said %q: %v", netcmd.ReadyLine, out.Err())
	}
	go func() { // keep reading, so that the controller never blocks on its output
		for out.Scan() {
		}
	}()
	clientFile := filepath.Join(data, fabric.FileName(fabric.RoleClient))
	engineFile := filepath.Join(data, fabric.FileName(fabric.RoleEngine))
	startDrover(t, "engine", "--connect", engineFile, "-n", "2", "--prop", "site=lab", "--log-level", "error")

	script := writeScript(t, `
print(tc.map("echo", range(5)))
print(tc.map(lambda x: x * x, range(4)))
r = tc.run(StringTask("y = x + 1", push={"x": 41}, pull=["y"], depend="properties['site'] == 'lab'"), block=True)
print(r.ns.y)
print(len(tc.engines()) >= 1)
`)
	code, stdout, stderr := runDrover(t, "", "run", "--connect", clientFile, script)
	if code != ExitOK || stderr != "" {
		t.Fatalf("run --connect: status %d, stderr %q", code, stderr)
	}
	if want := "[0, 1, 2, 3, 4]\n[0, 1, 4, 9]\n42\nTrue\n"; stdout != want {
		t.Errorf("run --connect printed %q, want %q", stdout, want)
	}

	// The shell, not interactive, on the same controller: the results of
	// the tasks run by the script are still there (the controller keeps
	// them), and new work runs.
	code, stdout, stderr = runDrover(t, "print(tc.run(MapTask('echo', args=['hi']), block=True))\n",
		"shell", "--connect", clientFile)
	if code != ExitOK || !strings.Contains(stdout, "hi") || stderr != "" {
		t.Errorf("shell --connect: status %d, output %q, stderr %q", code, stdout, stderr)
	}
}

// TestConnectErrors: --connect with flags of the in-process farm, --creds
// with a connection file, or no controller, are clear errors.
func TestConnectErrors(t *testing.T) {
	t.Parallel()
	script := writeScript(t, "print(1)\n")
	missing := filepath.Join(t.TempDir(), "drover-client.json")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "--connect", missing, "--engines", "2", script}, ExitUsage, "--engines is for the in-process farm"},
		{[]string{"run", "--connect", missing, "--creds", "x.creds", script}, ExitUsage, "--creds is for NATS URLs"},
		{[]string{"run", "--prefix", "p", script}, ExitUsage, "--prefix is for --connect"},
		{[]string{"shell", "--tls-ca", "ca.pem"}, ExitUsage, "--tls-ca is for --connect"},
		{[]string{"run", "--connect", missing, "--tls-cert", "c.pem", script}, ExitUsage, "--tls-cert and --tls-key go together"},
		{[]string{"run", "--connect", missing, script}, ExitFailure, missing},
		{[]string{"shell", "--connect", missing}, ExitFailure, "drover controller"},
	} {
		code, _, stderr := runDrover(t, "", tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("drover %s: status %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.want)
		}
	}
}
