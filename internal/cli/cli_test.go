package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// waitTimeout bounds every wait for a child process or its output; it is a
// deadline for a hung test, never a delay the test relies on.
const waitTimeout = 20 * time.Second

// runDrover runs drover in-process with stdin and args.
func runDrover(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errw bytes.Buffer
	code = Main(t.Context(), args, IO{
		In:        strings.NewReader(stdin),
		Out:       &out,
		Err:       &errw,
		Getenv:    func(string) string { return "" },
		Interrupt: make(chan os.Signal),
	})
	return code, out.String(), errw.String()
}

// droverCmd returns the real drover program (this test binary in drover
// mode, see TestMain) with args.
func droverCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), droverModeEnv+"=1", "DROVER_STATE_DIR="+t.TempDir())
	return cmd
}

// exitCodeOf returns the exit status of a finished command.
func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("run drover: %v", err)
	return -1
}

func testdata(name string) string { return filepath.Join("testdata", name) }

// TestVersion: drover version and drover --version print the same line,
// "drover <version> (<go version> <os>/<arch>)".
func TestVersion(t *testing.T) {
	t.Parallel()
	line := regexp.MustCompile(`^drover \S+( \S+)? \(go1\.\S+ ` + runtime.GOOS + `/` + runtime.GOARCH + `\)\n$`)
	var outs []string
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errw := runDrover(t, "", args...)
		if code != ExitOK || errw != "" {
			t.Errorf("drover %v: status %d, stderr %q", args, code, errw)
		}
		if !line.MatchString(out) {
			t.Errorf("drover %v: %q, want %q", args, out, line)
		}
		outs = append(outs, out)
	}
	if outs[0] != outs[1] {
		t.Errorf("drover version %q and drover --version %q differ", outs[0], outs[1])
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	for _, sh := range []string{"bash", "zsh", "fish"} {
		code, out, errw := runDrover(t, "", "completion", sh)
		if code != ExitOK || errw != "" {
			t.Errorf("drover completion %s: status %d, stderr %q", sh, code, errw)
		}
		if !strings.Contains(out, "drover") || len(out) < 200 {
			t.Errorf("drover completion %s: %q does not look like a completion script", sh, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"--frobnicate"}, "unknown flag: --frobnicate"},
		{[]string{"run"}, "run: missing FILE.star"},
		{[]string{"run", "no/such/file.star"}, "no/such/file.star: no such file or directory"},
		{[]string{"run", dir}, dir + ": is a directory"},
		{[]string{"shell", "extra"}, `unknown command "extra" for "drover shell"`},
	}
	for _, tt := range tests {
		code, out, errw := runDrover(t, "", tt.args...)
		if code != ExitUsage {
			t.Errorf("drover %v: status %d, want %d", tt.args, code, ExitUsage)
		}
		if !strings.Contains(errw, tt.want) || !strings.HasPrefix(errw, "drover: ") {
			t.Errorf("drover %v: stderr %q, want %q", tt.args, errw, tt.want)
		}
		if out != "" {
			t.Errorf("drover %v: stdout %q, want nothing", tt.args, out)
		}
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		stdin    string
		args     []string
		code     int
		out      string
		errSubs  []string
		errEmpty bool
	}{
		{name: "ok", args: []string{"run", testdata("ok.star")}, out: "hello 42\n", errEmpty: true},
		{
			name: "error", args: []string{"run", testdata("error.star")}, code: ExitFailure, out: "before\n",
			errSubs: []string{
				"Traceback (most recent call last):",
				testdata("error.star") + ":8:6: in <toplevel>",
				testdata("error.star") + ":5:10: in outer",
				testdata("error.star") + ":2:9: in inner",
				"\nAssertionError: boom\n",
			},
		},
		{
			name: "args", args: []string{"run", testdata("args.star"), "a", "-b", "--c=d"},
			out: `["testdata/args.star", "a", "-b", "--c=d"]` + "\n", errEmpty: true,
		},
		{name: "stdin", stdin: "print(argv, 1+1)\n", args: []string{"run", "-", "x"}, out: `["-", "x"] 2` + "\n", errEmpty: true},
		{
			name: "status-new", args: []string{"run", "--status-new", testdata("statusnew.star")},
			out: "result 42\n", errSubs: []string{"[job 0 completed] 6*7\n"},
		},
		{name: "no status-new", args: []string{"run", testdata("statusnew.star")}, out: "result 42\n", errEmpty: true},
		{name: "syntax error", stdin: "x = (\n", args: []string{"run", "-"}, code: ExitFailure, errSubs: []string{"SyntaxError: -:2:1:"}},
		{name: "exit()", stdin: "print(1)\nexit()\nprint(2)\n", args: []string{"run", "-"}, out: "1\n", errEmpty: true},
		{name: "exit(code)", stdin: "def f():\n    quit(code=5)\nf()\n", args: []string{"run", "-"}, code: 5, errEmpty: true},
		{name: "exit(message)", stdin: "exit('bye')\n", args: []string{"run", "-"}, code: ExitFailure, errSubs: []string{"bye\n"}},
		{name: "dir() and help", stdin: "x = 1\nprint(dir()[-1], 'jobs.new(f' in str(help))\n", args: []string{"run", "-"}, out: "x True\n", errEmpty: true},
		{
			name: "kinds as Python names them", stdin: "print(catch(lambda: 1 // 0)[1].kind)\n{}['k']\n", args: []string{"run", "-"}, code: ExitFailure,
			out: "ZeroDivisionError\n", errSubs: []string{"Traceback (most recent call last):\n  -:2:3: in <toplevel>\nKeyError: key \"k\" not in dict\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errw := runDrover(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Errorf("status %d, want %d (stderr %q)", code, tt.code, errw)
			}
			if diff := cmp.Diff(tt.out, out); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			for _, sub := range tt.errSubs {
				if !strings.Contains(errw, sub) {
					t.Errorf("stderr %q does not contain %q", errw, sub)
				}
			}
			if tt.errEmpty && errw != "" {
				t.Errorf("stderr = %q, want nothing", errw)
			}
		})
	}
}

// mkfifo makes a named pipe; a job `cat fifo` blocks until the test opens
// it for writing and ends when the test closes it.
func mkfifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunWaitsForJobs: drover run waits for the job `cat fifo` at the end of
// the script. Had it not waited, it would have killed cat, and the test's
// open of the fifo for writing would find no reader.
func TestRunWaitsForJobs(t *testing.T) {
	t.Parallel()
	fifo := mkfifo(t)
	cmd := droverCmd(t, "run", testdata("wait.star"), fifo)
	var out, errw bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f, err := openWithDeadline(fifo, os.O_WRONLY)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	f.WriteString("data\n")
	f.Close()
	if code := exitCodeOf(t, waitWithDeadline(t, cmd)); code != ExitOK {
		t.Errorf("status %d, want 0 (stderr %q)", code, errw.String())
	}
	if out.String() != "started\n" {
		t.Errorf("stdout %q, want %q", out.String(), "started\n")
	}
}

// TestRunNoWait: with --no-wait, drover run kills the job instead of
// waiting: afterwards the fifo has no reader.
func TestRunNoWait(t *testing.T) {
	t.Parallel()
	fifo := mkfifo(t)
	code, out, errw := runDrover(t, "", "run", "--no-wait", testdata("wait.star"), fifo)
	if code != ExitOK {
		t.Errorf("status %d, want 0 (stderr %q)", code, errw)
	}
	if out != "started\n" {
		t.Errorf("stdout %q, want %q", out, "started\n")
	}
	// No reader left: a non-blocking open for writing fails with ENXIO.
	if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		f.Close()
		t.Error("the job still reads the fifo after drover run --no-wait returned")
	} else if !errors.Is(err, syscall.ENXIO) {
		t.Errorf("open fifo: %v, want ENXIO", err)
	}
}

// TestRunExitStatus runs the real program: os.Exit gets Main's status.
func TestRunExitStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"run", testdata("ok.star")}, ExitOK, ""},
		{[]string{"run", testdata("error.star")}, ExitFailure, "Traceback (most recent call last):"},
		{[]string{"run", "missing.star"}, ExitUsage, "drover: run: missing.star: no such file or directory\n"},
	}
	for _, tt := range tests {
		cmd := droverCmd(t, tt.args...)
		var errw bytes.Buffer
		cmd.Stderr = &errw
		code := exitCodeOf(t, cmd.Run())
		if code != tt.code {
			t.Errorf("drover %v: status %d, want %d", tt.args, code, tt.code)
		}
		if !strings.Contains(errw.String(), tt.err) {
			t.Errorf("drover %v: stderr %q, want %q", tt.args, errw.String(), tt.err)
		}
	}
}

// TestRunInterrupt: Ctrl-C (SIGINT) stops a busy script; status 130.
func TestRunInterrupt(t *testing.T) {
	t.Parallel()
	cmd := droverCmd(t, "run", testdata("spin.star"))
	out := newWatchedBuffer()
	var errw bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &errw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !out.waitContains("spinning") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the script did not start: stdout %q", out.String())
	}
	cmd.Process.Signal(os.Interrupt)
	if code := exitCodeOf(t, waitWithDeadline(t, cmd)); code != ExitInterrupted {
		t.Errorf("status %d, want %d", code, ExitInterrupted)
	}
	want := regexp.MustCompile(`^Traceback \(most recent call last\):\n  testdata/spin.star:\d+:\d+: in <toplevel>\nKeyboardInterrupt\n$`)
	if !want.MatchString(errw.String()) {
		t.Errorf("stderr %q, want Python's KeyboardInterrupt report %q", errw.String(), want)
	}
}

// TestRunInterruptWait: Ctrl-C while drover run waits for the jobs at the
// end of the script: KeyboardInterrupt, status 130, the jobs killed.
func TestRunInterruptWait(t *testing.T) {
	t.Parallel()
	fifo := mkfifo(t)
	cmd := droverCmd(t, "run", testdata("wait.star"), fifo)
	out := newWatchedBuffer()
	var errw bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &errw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !out.waitContains("started") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the script did not start: stdout %q", out.String())
	}
	cmd.Process.Signal(os.Interrupt)
	if code := exitCodeOf(t, waitWithDeadline(t, cmd)); code != ExitInterrupted {
		t.Errorf("status %d, want %d", code, ExitInterrupted)
	}
	// Ctrl-C in the wait at the end: KeyboardInterrupt alone. The signal
	// may also land in the instant between the last print's output and
	// the end of the script: then the traceback names that last line.
	atEnd := "Traceback (most recent call last):\n  testdata/wait.star:4:6: in <toplevel>\nKeyboardInterrupt\n"
	if e := errw.String(); e != "KeyboardInterrupt\n" && e != atEnd {
		t.Errorf("stderr %q, want %q", e, "KeyboardInterrupt\n")
	}
}

// TestRunExit: exit(code) ends the script; drover run waits for the jobs
// (the fifo still has its reader) and exits with the code.
func TestRunExit(t *testing.T) {
	t.Parallel()
	fifo := mkfifo(t)
	cmd := droverCmd(t, "run", testdata("exit.star"), fifo)
	var out, errw bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f, err := openWithDeadline(fifo, os.O_WRONLY)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	f.Close()
	if code := exitCodeOf(t, waitWithDeadline(t, cmd)); code != 4 {
		t.Errorf("status %d, want 4 (stderr %q)", code, errw.String())
	}
	if out.String() != "started\n" || errw.String() != "" {
		t.Errorf("stdout %q, stderr %q; want %q and nothing", out.String(), errw.String(), "started\n")
	}
}

func TestShellNotInteractive(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"shell"}} {
		code, out, errw := runDrover(t, "1+2\nprint(argv)\n%bg 6*7\n", args...)
		if code != ExitOK || errw != "" {
			t.Errorf("drover %v: status %d, stderr %q", args, code, errw)
		}
		if want := "3\n[]\n[job 0 started] 6*7\n"; out != want {
			t.Errorf("drover %v: stdout %q, want %q", args, out, want)
		}
	}
	code, out, errw := runDrover(t, "1/0\n2\n", "shell")
	if code != ExitFailure || out != "2\n" || !strings.Contains(errw, "division by zero") {
		t.Errorf("drover shell with an error: status %d, stdout %q, stderr %q", code, out, errw)
	}
}

// openWithDeadline opens path (a fifo), failing after waitTimeout if nobody
// opens the other end.
func openWithDeadline(path string, flag int) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := os.OpenFile(path, flag, 0)
		done <- result{f, err}
	}()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.f, r.err
	case <-timer.C:
		// Unblock the goroutine by opening the other end ourselves.
		if f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			defer f.Close()
		}
		if r := <-done; r.f != nil {
			r.f.Close()
		}
		return nil, errors.New("nobody opened " + path + " for reading")
	}
}

// waitWithDeadline waits for cmd, killing it after waitTimeout.
func waitWithDeadline(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		cmd.Process.Kill()
		<-done
		t.Fatalf("drover did not exit")
		return nil
	}
}

// watchedBuffer is a buffer safe for concurrent use that can be waited on.
type watchedBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newWatchedBuffer() *watchedBuffer { return &watchedBuffer{changed: make(chan struct{})} }

func (w *watchedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.changed)
	w.changed = make(chan struct{})
	return w.b.Write(p)
}

func (w *watchedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// waitContains waits, at most waitTimeout, until the buffer contains sub.
func (w *watchedBuffer) waitContains(sub string) bool {
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		w.mu.Lock()
		ok := strings.Contains(w.b.String(), sub)
		ch := w.changed
		w.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		}
	}
}

// TestShellTerminate: SIGTERM ends a shell (here reading a pipe) and kills
// its jobs.
func TestShellTerminate(t *testing.T) {
	t.Parallel()
	fifo := mkfifo(t)
	cmd := droverCmd(t, "shell")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := newWatchedBuffer()
	var errw bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &errw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("%bg !cat " + fifo + "\nprint('ready')\n"))
	if !out.waitContains("ready") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the shell did not start: stdout %q, stderr %q", out.String(), errw.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCodeOf(t, waitWithDeadline(t, cmd)); code != ExitFailure {
		t.Errorf("status %d, want %d", code, ExitFailure)
	}
	// (If the signal came while print('ready') was still returning, the
	// interruption of that statement is reported first.)
	if want := "drover: shell stopped: terminated signal received\n"; !strings.HasSuffix(errw.String(), want) {
		t.Errorf("stderr %q, want it to end with %q", errw.String(), want)
	}
	if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		f.Close()
		t.Error("the job still reads the fifo after the shell was terminated")
	}
}
