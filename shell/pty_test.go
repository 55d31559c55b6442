package shell

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// waitTimeout bounds every wait for the shell's output; it is a deadline
// for a hung test, never a delay the test relies on.
const waitTimeout = 20 * time.Second

// ptyShell is a shell process (this test binary in shell mode, see
// TestMain) on a pseudo-terminal, with the screen the user would see.
type ptyShell struct {
	t   *testing.T
	cmd *exec.Cmd
	pty *os.File

	mu      sync.Mutex
	scr     *screen
	raw     bytes.Buffer
	changed chan struct{} // closed and replaced whenever the screen changes

	readDone chan struct{}
	exited   chan struct{}
	exitErr  error // set before exited is closed
}

const (
	termWidth  = 80
	termHeight = 24
)

// startPTYShell starts the shell on a new pty with the environment
// additions env (the history file goes in a temporary state directory unless
// env sets one).
func startPTYShell(t *testing.T, env ...string) *ptyShell {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), shellModeEnv+"=1", "TERM=xterm", StateDirEnv+"="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: termHeight, Cols: termWidth})
	if err != nil {
		t.Fatalf("start shell on a pty: %v", err)
	}
	p := &ptyShell{
		t:        t,
		cmd:      cmd,
		pty:      f,
		scr:      newScreen(termWidth, termHeight),
		changed:  make(chan struct{}),
		readDone: make(chan struct{}),
		exited:   make(chan struct{}),
	}
	go p.read()
	go func() {
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		_ = f.Close()
		<-p.readDone
		if t.Failed() {
			t.Logf("screen:\n%s", p.screenText())
		}
	})
	return p
}

// read copies the pty output into the screen, answering cursor position
// queries, until the pty is closed.
func (p *ptyShell) read() {
	defer close(p.readDone)
	buf := make([]byte, 4096)
	for {
		n, err := p.pty.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.raw.Write(buf[:n])
			reply := p.scr.write(buf[:n])
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
			if len(reply) > 0 {
				_, _ = p.pty.Write(reply)
			}
		}
		if err != nil {
			return
		}
	}
}

// send types s.
func (p *ptyShell) send(s string) {
	p.t.Helper()
	if _, err := p.pty.Write([]byte(s)); err != nil {
		p.t.Fatalf("type %q: %v", s, err)
	}
}

// waitFor waits until cond holds for the screen, failing the test after
// waitTimeout.
func (p *ptyShell) waitFor(what string, cond func(s *screen) bool) {
	p.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		ok := cond(p.scr)
		ch := p.changed
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			p.t.Fatalf("timed out waiting for %s; screen:\n%s", what, p.screenText())
		case <-p.readDone:
			p.mu.Lock()
			ok := cond(p.scr)
			p.mu.Unlock()
			if !ok {
				p.t.Fatalf("output ended while waiting for %s; screen:\n%s", what, p.screenText())
			}
			return
		}
	}
}

// waitPrompt waits until the cursor is right after prompt+typed at the end
// of the screen.
func (p *ptyShell) waitPrompt(prompt, typed string) {
	p.t.Helper()
	want := prompt + typed
	p.waitFor("prompt "+strings.TrimSpace(want), func(s *screen) bool {
		return s.cursorLine() == want && s.row == len(s.lines)-1
	})
}

// waitLine waits until some screen line equals line.
func (p *ptyShell) waitLine(line string) {
	p.t.Helper()
	p.waitFor("line "+line, func(s *screen) bool {
		for _, l := range s.text() {
			if l == line {
				return true
			}
		}
		return false
	})
}

// waitContains waits until some screen line contains sub.
func (p *ptyShell) waitContains(sub string) {
	p.t.Helper()
	p.waitFor("text "+sub, func(s *screen) bool {
		for _, l := range s.text() {
			if strings.Contains(l, sub) {
				return true
			}
		}
		return false
	})
}

// lines returns the screen's lines.
func (p *ptyShell) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.scr.text()
}

func (p *ptyShell) screenText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.scr.String()
}

// waitExit waits for the shell to exit and returns its exit code.
func (p *ptyShell) waitExit() int {
	p.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		p.t.Fatalf("timed out waiting for the shell to exit; screen:\n%s", p.screenText())
	}
	var ee *exec.ExitError
	switch {
	case p.exitErr == nil:
		return 0
	case errors.As(p.exitErr, &ee):
		return ee.ExitCode()
	default:
		p.t.Fatalf("wait for shell: %v", p.exitErr)
		return -1
	}
}
