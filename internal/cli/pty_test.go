package cli

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ansiSeq matches the escape sequences readline writes.
var ansiSeq = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// TestDroverStartsShell runs `drover` with no arguments on a pty: the
// interactive shell answers, and Ctrl-D leaves it. (The shell's behaviour
// is tested in depth in package shell.)
func TestDroverStartsShell(t *testing.T) {
	t.Parallel()
	cmd := droverCmd(t)
	cmd.Env = append(cmd.Env, "TERM=xterm")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var mu sync.Mutex
	var raw bytes.Buffer
	changed := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				mu.Lock()
				raw.Write(buf[:n])
				close(changed)
				changed = make(chan struct{})
				mu.Unlock()
				// Answer readline's cursor position queries as a
				// terminal would (the position does not matter here).
				for range bytes.Count(buf[:n], []byte("\x1b[6n")) {
					f.Write([]byte("\x1b[1;1R"))
				}
			}
			if err != nil {
				return
			}
		}
	}()
	text := func() string {
		mu.Lock()
		defer mu.Unlock()
		s := ansiSeq.ReplaceAllString(raw.String(), "")
		return strings.ReplaceAll(s, " \b", "") // readline's line-edge trick
	}
	waitFor := func(re string) {
		t.Helper()
		r := regexp.MustCompile(re)
		timer := time.NewTimer(waitTimeout)
		defer timer.Stop()
		for {
			mu.Lock()
			ch := changed
			mu.Unlock()
			if r.MatchString(text()) {
				return
			}
			select {
			case <-ch:
			case <-timer.C:
				t.Fatalf("timed out waiting for %q in %q", re, text())
			}
		}
	}

	waitFor(`>>> $`)
	f.Write([]byte("1+2\r"))
	waitFor(`>>> 1\+2\r\n3\r\n>>> $`)
	f.Write([]byte("\x04"))
	if code := exitCodeOf(t, waitWithDeadline(t, cmd)); code != ExitOK {
		t.Errorf("status %d, want 0; output %q", code, text())
	}
	f.Close()
	<-readDone
}
