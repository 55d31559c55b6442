//go:build unix

package bgjob_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/drover-dev/drover/bgjob"
)

// TestOutputCap: a command's output beyond OutputLimit keeps the tail, with
// a note of what was dropped.
func TestOutputCap(t *testing.T) {
	t.Parallel()
	const limit = 100
	m := newManager(t, &bgjob.Config{OutputLimit: limit})
	j := mustNewWait(t, m, bgjob.Cmd{Shell: "i=1; while [ $i -le 1000 ]; do echo $i; i=$((i+1)); done"})
	var all strings.Builder
	for i := 1; i <= 1000; i++ {
		fmt.Fprintln(&all, i)
	}
	full := all.String()
	text, dropped := j.Output()
	wantDropped := int64(len(full) - limit)
	want := fmt.Sprintf("[%d bytes dropped]\n", wantDropped) + full[len(full)-limit:]
	if text != want || dropped != wantDropped {
		t.Errorf("Output() = %q, %d; want %q, %d", text, dropped, want, wantDropped)
	}
	if !strings.HasSuffix(text, "999\n1000\n") {
		t.Errorf("the tail is not kept: %q", text)
	}
}

// TestOutputStderrAndStdout: both streams go to the one buffer, in order of
// writing.
func TestOutputStderrAndStdout(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	j := mustNewWait(t, m, bgjob.Cmd{Shell: "echo 1; echo 2 >&2; echo 3"})
	if text, _ := j.Output(); text != "1\n2\n3\n" {
		t.Errorf("Output() = %q", text)
	}
}

// TestOutputWhileCommandRuns: a command's output is readable before it ends.
func TestOutputWhileCommandRuns(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	fifo := mkfifo(t)
	j := mustNew(t, m, bgjob.Cmd{Shell: `echo partial; echo x > "$FIFO"; exec sleep 1000`, Env: []string{"FIFO=" + fifo, "PATH=/usr/bin:/bin"}})
	readFile(t, fifo)
	// "partial" was written before the FIFO; the copy goroutine may not have
	// moved it into the job's output yet: follow the output.
	for {
		changed := j.OutputChanged()
		text, _ := j.Output()
		if text == "partial\n" {
			break
		}
		if text != "" {
			t.Fatalf("Output() = %q", text)
		}
		select {
		case <-changed:
		case <-j.Done():
			t.Fatal("the job ended")
		}
	}
	if j.State() != bgjob.Running {
		t.Errorf("state %v, want Running", j.State())
	}
	_ = j.Kill()
	wait(t, j)
}
