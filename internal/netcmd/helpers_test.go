package netcmd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drover-dev/drover"
)

// lines is an io.Writer that keeps what is written and lets tests wait
// for a line. Safe for concurrent use.
type lines struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial string
	all     []string
	waiters []*lineWaiter
}

type lineWaiter struct {
	match func(string) bool
	ch    chan string
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	s := l.partial + string(p)
	parts := strings.Split(s, "\n")
	l.partial = parts[len(parts)-1]
	for _, line := range parts[:len(parts)-1] {
		l.all = append(l.all, line)
		kept := l.waiters[:0]
		for _, w := range l.waiters {
			if w.match(line) {
				w.ch <- line
				continue
			}
			kept = append(kept, w)
		}
		l.waiters = kept
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// wait returns the first line (already written or to come) for which
// match is true, or fails the test when ctx ends.
func (l *lines) wait(t testing.TB, ctx context.Context, what string, match func(string) bool) string {
	t.Helper()
	ch := make(chan string, 1)
	l.mu.Lock()
	for _, line := range l.all {
		if match(line) {
			l.mu.Unlock()
			return line
		}
	}
	l.waiters = append(l.waiters, &lineWaiter{match: match, ch: ch})
	l.mu.Unlock()
	select {
	case line := <-ch:
		return line
	case <-ctx.Done():
		t.Fatalf("waiting for %s: %v; output so far:\n%s", what, ctx.Err(), l.String())
		return ""
	}
}

func prefixed(p string) func(string) bool {
	return func(s string) bool { return strings.HasPrefix(s, p) }
}

func contains(p string) func(string) bool {
	return func(s string) bool { return strings.Contains(s, p) }
}

// waitCtx is a ctx for waits in tests: it ends with the test's deadline
// or after d.
func waitCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// inProc runs a command of testRoot in this process until stop is called
// (its ctx is cancelled); wait returns its error.
type inProc struct {
	out, err *lines
	cancel   context.CancelFunc
	done     chan error
	intr     chan os.Signal // its IO.Interrupt: send os.Interrupt for a Ctrl-C
}

func startInProc(t testing.TB, args ...string) *inProc {
	t.Helper()
	return startInProcFuncs(t, nil, args...)
}

// startInProcFuncs is startInProc with the engines' functions (nil: the
// built-in ones).
func startInProcFuncs(t testing.TB, funcs func() *drover.Registry, args ...string) *inProc {
	t.Helper()
	p := &inProc{out: &lines{}, err: &lines{}, done: make(chan error, 1), intr: make(chan os.Signal)}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	root := testRoot(IO{In: strings.NewReader(""), Out: p.out, Err: p.err, Getenv: noEnv, Interrupt: p.intr, Functions: funcs, MaxProcs: keepMaxProcs})
	root.SetArgs(args)
	go func() { p.done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// stop cancels the command and returns its error.
func (p *inProc) stop(t testing.TB) error {
	t.Helper()
	p.cancel()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-waitCtx(t, 30*time.Second).Done():
		t.Fatalf("command did not stop; stderr:\n%s", p.err.String())
		return nil
	}
}

// wait returns the command's error once it ends by itself.
func (p *inProc) wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-waitCtx(t, 30*time.Second).Done():
		t.Fatalf("command did not end; stderr:\n%s", p.err.String())
		return nil
	}
}

func noEnv(string) string { return "" }

// keepMaxProcs is the IO.MaxProcs of the commands a test runs in its own
// process: it leaves the test's GOMAXPROCS alone.
func keepMaxProcs(int) int { return runtime.GOMAXPROCS(0) }

// readyInfo parses the ready line: controller id and URLs.
func readyInfo(line string) (id, urls string) {
	f := strings.Fields(strings.TrimPrefix(line, ReadyLine))
	if len(f) < 2 {
		return "", ""
	}
	return f[0], f[1]
}

// proc is a drover command run in a child process (this test binary in
// drover mode).
type proc struct {
	cmd      *exec.Cmd
	out, err *lines
	done     chan struct{}
	waitErr  error
}

// startProc starts this test binary as drover with args; stateDir is its
// DROVER_STATE_DIR. The cleanup kills it if it still runs, and waits.
func startProc(t testing.TB, stateDir string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, stateDir, os.Environ(), args...)
}

// startProcEnv is startProc with the environment env (plus the test's
// own variables).
func startProcEnv(t testing.TB, stateDir string, env []string, args ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{out: &lines{}, err: &lines{}, done: make(chan struct{})}
	p.cmd = exec.Command(exe, args...)
	p.cmd.Env = append(slices.Clip(env), modeEnv+"=1", "DROVER_STATE_DIR="+stateDir)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.err
	// A process group of its own, so that the cleanup kills the engine
	// processes drover engine -n starts too (they hold its output pipes).
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.WaitDelay = 10 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
			if t.Failed() {
				t.Logf("%s (exited: %v): stdout:\n%s\nstderr:\n%s", strings.Join(args, " "), p.waitErr, p.out.String(), p.err.String())
			}
			return
		default:
		}
		if t.Failed() {
			// Go programs print their goroutines on SIGQUIT, and exit.
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGQUIT)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("%s: stdout:\n%s\nstderr:\n%s", strings.Join(args, " "), p.out.String(), p.err.String())
		}
	})
	return p
}

func (p *proc) signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to exit and returns its exit error.
func (p *proc) wait(t testing.TB, ctx context.Context) error {
	t.Helper()
	select {
	case <-p.done:
		return p.waitErr
	case <-ctx.Done():
		t.Fatalf("process %s did not exit: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(p.cmd.Args[1:], " "), ctx.Err(), p.out.String(), p.err.String())
		return nil
	}
}
