package cli

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ansiSeq matches the escape sequences readline writes.
var ansiSeq = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// ptyDrover is the real drover program running on a pseudo-terminal.
type ptyDrover struct {
	t    *testing.T
	cmd  *exec.Cmd
	f    *os.File
	done chan struct{} // closed when the reader has stopped

	mu      sync.Mutex
	raw     bytes.Buffer  // everything drover wrote
	changed chan struct{} // closed (and replaced) when raw grows
}

// startPTY starts drover with args on an 80x24 pty.
func startPTY(t *testing.T, args ...string) *ptyDrover {
	t.Helper()
	cmd := droverCmd(t, args...)
	cmd.Env = append(cmd.Env, "TERM=xterm")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyDrover{t: t, cmd: cmd, f: f, done: make(chan struct{}), changed: make(chan struct{})}
	go p.read()
	t.Cleanup(func() {
		// Kill drover first if it still runs (a failed test): the reader
		// returns when the pty's other side is closed, not when f is.
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		f.Close()
		<-p.done
	})
	return p
}

func (p *ptyDrover) read() {
	defer close(p.done)
	buf := make([]byte, 4096)
	for {
		n, err := p.f.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.raw.Write(buf[:n])
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
			// Answer readline's cursor position queries as a terminal
			// would (the position does not matter here).
			for range bytes.Count(buf[:n], []byte("\x1b[6n")) {
				p.f.Write([]byte("\x1b[1;1R"))
			}
		}
		if err != nil {
			return
		}
	}
}

// rawText returns everything drover wrote.
func (p *ptyDrover) rawText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

// text returns what drover wrote without escape sequences.
func (p *ptyDrover) text() string {
	s := ansiSeq.ReplaceAllString(p.rawText(), "")
	return strings.ReplaceAll(s, " \b", "") // readline's line-edge trick
}

// waitFor waits until text() matches re.
func (p *ptyDrover) waitFor(re string) {
	p.t.Helper()
	r := regexp.MustCompile(re)
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		ch := p.changed
		p.mu.Unlock()
		if r.MatchString(p.text()) {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			p.t.Fatalf("timed out waiting for %q in %q", re, p.text())
		}
	}
}

// send types s.
func (p *ptyDrover) send(s string) { p.f.Write([]byte(s)) }

// exit sends Ctrl-D and waits for drover to exit; it returns the status.
func (p *ptyDrover) exit() int {
	p.t.Helper()
	p.send("\x04")
	return exitCodeOf(p.t, waitWithDeadline(p.t, p.cmd))
}

// TestDroverStartsShell runs `drover` with no arguments on a pty: the
// interactive shell answers, and Ctrl-D leaves it. (The shell's behaviour
// is tested in depth in package shell.)
func TestDroverStartsShell(t *testing.T) {
	t.Parallel()
	p := startPTY(t)
	p.waitFor(`>>> $`)
	p.send("1+2\r")
	p.waitFor(`>>> 1\+2\r\n3\r\n>>> $`)
	if code := p.exit(); code != ExitOK {
		t.Errorf("status %d, want 0; output %q", code, p.text())
	}
}
