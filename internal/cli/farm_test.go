package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeScript writes a Starlark script in a temporary directory.
func writeScript(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script.star")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunEngines runs a script on the in-process farm of drover run.
func TestRunEngines(t *testing.T) {
	t.Parallel()
	script := writeScript(t, `
print(len(tc.engines()))
print(tc.map(lambda x: x * x, range(5)))
print(tc.map("echo", [1, "a"]))
tc.run(MapTask("noop"), block=True)
tc.run(MapTask("sleep", args=[0]), block=True)
v, err = catch(tc.run, MapTask("fail", args=["no", 1]), block=True)
print(err)
tc.run(StringTask("print('from engine', id)", depend="properties.get('x', True)"), block=True)
print(tc.run(CommandTask(["echo", "hi"]), block=True).stdout.strip())
`)
	code, out, errw := runDrover(t, "", "run", "--engines", "2", "--scheduler", "lifo",
		"--failure-penalty", "0", "--idle-timeout", "2s", script)
	if code != ExitOK || errw != "" {
		t.Fatalf("status %d, stderr %q", code, errw)
	}
	want := "2\n[0, 1, 4, 9, 16]\n[1, \"a\"]\nError: no 1\n[engine "
	if !strings.HasPrefix(out, want) || !strings.Contains(out, "] from engine ") || !strings.HasSuffix(out, "\nhi\n") {
		t.Errorf("output %q, want it to start with %q", out, want)
	}
}

// TestRunNoEngines: with --engines 0 there is no tc (the task constructors
// are there).
func TestRunNoEngines(t *testing.T) {
	t.Parallel()
	script := writeScript(t, "print(MapTask(\"noop\"))\nprint(tc)\n")
	code, out, errw := runDrover(t, "", "run", "--engines", "0", script)
	if code != ExitFailure || !strings.Contains(errw, "undefined: tc") {
		t.Errorf("status %d, stderr %q; want 1 and undefined: tc", code, errw)
	}
	if out != "" {
		t.Errorf("output %q", out)
	}
	script = writeScript(t, "print(MapTask(\"noop\"))\n")
	code, out, errw = runDrover(t, "", "run", "--engines", "0", script)
	if code != ExitOK || out != "MapTask(\"noop\")\n" || errw != "" {
		t.Errorf("status %d, output %q, stderr %q", code, out, errw)
	}
}

// TestFarmFlagErrors: bad farm flags are usage errors naming the flag.
func TestFarmFlagErrors(t *testing.T) {
	t.Parallel()
	script := writeScript(t, "print(1)\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--scheduler", "random", script}, `drover: run: --scheduler "random": want fifo or lifo`},
		{[]string{"run", "--engines", "-1", script}, "drover: run: --engines -1: must not be negative"},
		{[]string{"run", "--idle-timeout", "-1s", script}, "drover: run: --idle-timeout -1s: must not be negative"},
		{[]string{"run", "--failure-penalty", "-1s", script}, "drover: run: --failure-penalty -1s: must not be negative"},
		{[]string{"run", "--engines", "x", script}, `invalid argument "x" for "--engines"`},
		{[]string{"run", "--window", "0", script}, "drover: run: --window 0: must be at least 1"},
		{[]string{"shell", "--scheduler", "LIFO"}, `drover: shell: --scheduler "LIFO": want fifo or lifo`},
		{[]string{"--scheduler", "x"}, `drover: shell: --scheduler "x": want fifo or lifo`},
	}
	for _, tt := range tests {
		code, out, errw := runDrover(t, "", tt.args...)
		if code != ExitUsage || !strings.Contains(errw, tt.want) || out != "" {
			t.Errorf("drover %v: status %d, stdout %q, stderr %q; want %d and %q", tt.args, code, out, errw, ExitUsage, tt.want)
		}
	}
}

// TestRunLIFO: with one engine and a window of 1, --scheduler lifo hands
// out the newest queued task first.
func TestRunLIFO(t *testing.T) {
	t.Parallel()
	script := writeScript(t, `
e = tc.engines()[0]
e.push({"order": []})
first = tc.run(MapTask("sleep", args=[60]))
ids = [tc.run(StringTask("order.append(%d)" % i)) for i in range(4)]
print(tc.queue_status(verbose=True)["scheduled"] == list(reversed(ids)))
tc.abort(first)
tc.barrier(ids)
print(e.pull("order"))
`)
	for _, tt := range []struct{ scheduler, want string }{
		{"lifo", "True\n[3, 2, 1, 0]\n"},
		{"fifo", "False\n[0, 1, 2, 3]\n"},
	} {
		code, out, errw := runDrover(t, "", "run", "--engines", "1", "--window", "1", "--scheduler", tt.scheduler, script)
		if code != ExitOK || errw != "" || out != tt.want {
			t.Errorf("--scheduler %s: status %d, stdout %q, stderr %q; want %q", tt.scheduler, code, out, errw, tt.want)
		}
	}
}

// TestShellTasksNotInteractive: the shell reading a pipe has tc, and prints
// no progress bar.
func TestShellTasksNotInteractive(t *testing.T) {
	t.Parallel()
	code, out, errw := runDrover(t, "tc.map(lambda x: -x, [1, 2, 3])\nlen(tc.engines())\n", "shell", "--engines", "3")
	if code != ExitOK || errw != "" || out != "[-1, -2, -3]\n3\n" {
		t.Errorf("status %d, stdout %q, stderr %q", code, out, errw)
	}
}

// TestShellProgressBar runs the interactive shell on a pty: a short tc.map
// shows no progress bar (nothing but its result); one that takes longer
// than the progress delay shows a bar, which is erased when it ends.
func TestShellProgressBar(t *testing.T) {
	t.Parallel()
	// The delay is long enough that the short map below never reaches it,
	// even on a loaded machine, and the long map (8 × 0.5 s on 2 engines,
	// 2 s) always does.
	p := startPTY(t, "shell", "--engines", "2", "--no-history", "--progress-delay", "700ms")
	p.waitFor(`>>> $`)
	p.send("tc.map(lambda x: x + 1, range(50))[-1]\r")
	p.waitFor(`\r\n50\r\n>>> $`)
	if raw := p.rawText(); strings.Contains(raw, "tc.map [") || strings.Contains(raw, "\r\x1b[K") {
		t.Errorf("a short map drew a progress bar: %q", raw)
	}
	p.send(`tc.map("sleep", [0.5] * 8)` + "\r")
	p.waitFor(`\[None(, None){7}\]\r\n>>> $`)
	raw := p.rawText()
	if !strings.Contains(raw, "tc.map [") || !strings.Contains(raw, "/8") {
		t.Errorf("a long map drew no progress bar: %q", raw)
	}
	// The bar's line is erased before the result is printed.
	i := strings.LastIndex(raw, "tc.map [")
	if j := strings.Index(raw[i:], "\r\x1b[K"); j < 0 || !strings.Contains(raw[i+j:], "[None, None, None, None, None, None, None, None]") {
		t.Errorf("the bar was not erased before the result: %q", raw[i:])
	}
	if code := p.exit(); code != ExitOK {
		t.Errorf("status %d, want 0; output %q", code, p.text())
	}
}
