//go:build unix

package bgjob_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover-dev/drover/bgjob"
)

func checkKilled(t *testing.T, j *bgjob.Job) {
	t.Helper()
	if j.State() != bgjob.Dead {
		t.Fatalf("state after Kill = %v, want Dead", j.State())
	}
	_, err := j.Value()
	if !errors.Is(err, bgjob.ErrKilled) {
		t.Errorf("error %v does not match ErrKilled", err)
	}
	if tb := j.Traceback(); !strings.HasPrefix(tb, "job killed") {
		t.Errorf("traceback %q does not say the job was killed", tb)
	}
	if j.Result() != "<BackgroundJob died, call jobs.traceback() for details>" {
		t.Errorf("Result() = %v", j.Result())
	}
	if err := j.Kill(); !errors.Is(err, bgjob.ErrNotRunning) {
		t.Errorf("second Kill after the end = %v, want ErrNotRunning", err)
	}
}

func TestKillFunction(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	started := make(chan struct{})
	j := mustNew(t, m, startedGate(started, nil))
	<-started
	if err := m.Kill(j.Num()); err != nil {
		t.Fatal(err)
	}
	if err := j.Kill(); err != nil { // again while it may still run: no-op
		t.Fatal(err)
	}
	wait(t, j)
	checkKilled(t, j)
	if _, err := j.Value(); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not carry what the function returned", err)
	}
	if tb := j.Traceback(); tb != "job killed\ncontext canceled" {
		t.Errorf("traceback %q", tb)
	}
}

// TestKillIgnoredStillDead: a function that ignores its context but whose
// Kill was accepted ends Dead too, its value dropped.
func TestKillIgnoredStillDead(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	started, release := make(chan struct{}), make(chan struct{})
	j := mustNew(t, m, func() int {
		close(started)
		<-release
		return 42
	})
	<-started
	if err := j.Kill(); err != nil {
		t.Fatal(err)
	}
	if j.State() != bgjob.Running {
		t.Fatalf("state %v: the uncooperative function should still run", j.State())
	}
	close(release)
	wait(t, j)
	checkKilled(t, j)
	if tb := j.Traceback(); tb != "job killed" {
		t.Errorf("traceback %q, want %q", tb, "job killed")
	}
}

func TestKillExpression(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	j := mustNew(t, m, "spin()")
	if err := j.Kill(); err != nil {
		t.Fatal(err)
	}
	wait(t, j)
	checkKilled(t, j)
}

func TestKillCommand(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	fifo := mkfifo(t)
	j := mustNew(t, m, bgjob.Cmd{Shell: `echo ready > "$FIFO"; exec sleep 1000`, Env: []string{"FIFO=" + fifo, "PATH=/usr/bin:/bin"}})
	readFile(t, fifo) // the command runs
	if err := j.Kill(); err != nil {
		t.Fatal(err)
	}
	wait(t, j)
	checkKilled(t, j)
	var ce *bgjob.CommandError
	if _, err := j.Value(); !errors.As(err, &ce) || ce.Signal != syscall.SIGTERM || ce.Code != -1 {
		t.Fatalf("error %#v, want a CommandError for SIGTERM", err)
	}
	if code, ok := j.ExitCode(); !ok || code != -1 {
		t.Errorf("ExitCode() = %d, %v; want -1, true", code, ok)
	}
	if tb := j.Traceback(); !strings.HasPrefix(tb, "job killed\ncommand terminated by signal: terminated") {
		t.Errorf("traceback %q", tb)
	}
}

// TestKillCommandEscalates: a command that ignores SIGTERM gets SIGKILL
// after KillGrace. The command tells the test through a FIFO that its trap is
// set.
func TestKillCommandEscalates(t *testing.T) {
	t.Parallel()
	const grace = 100 * time.Millisecond
	m := newManager(t, &bgjob.Config{KillGrace: grace})
	fifo := mkfifo(t)
	j := mustNew(t, m, bgjob.Cmd{Shell: `trap '' TERM; echo ready > "$FIFO"; exec sleep 1000`, Env: []string{"FIFO=" + fifo, "PATH=/usr/bin:/bin"}})
	readFile(t, fifo)
	if err := j.Kill(); err != nil {
		t.Fatal(err)
	}
	wait(t, j)
	checkKilled(t, j)
	var ce *bgjob.CommandError
	if _, err := j.Value(); !errors.As(err, &ce) || ce.Signal != syscall.SIGKILL {
		t.Fatalf("error %v, want a CommandError for SIGKILL", err)
	}
	if d := j.Duration(); d < grace {
		t.Errorf("SIGKILL after %v, before the %v grace", d, grace)
	}
}

func TestCommandResults(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	ok := mustNew(t, m, bgjob.Cmd{Argv: []string{"sh", "-c", "echo out; echo err >&2"}})
	bad := mustNew(t, m, bgjob.Cmd{Shell: "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line$i; done; exit 3"})
	dir := mustNew(t, m, bgjob.Cmd{Shell: "pwd; echo $FOO", Dir: "/", Env: []string{"FOO=bar"}})
	for _, j := range []*bgjob.Job{ok, bad, dir} {
		wait(t, j)
	}
	if ok.State() != bgjob.Completed || ok.Result() != 0 {
		t.Errorf("ok: state %v result %v", ok.State(), ok.Result())
	}
	if code, isSet := ok.ExitCode(); !isSet || code != 0 {
		t.Errorf("ok: ExitCode() = %d, %v", code, isSet)
	}
	if out, n := ok.Output(); out != "out\nerr\n" || n != 0 {
		t.Errorf("ok: Output() = %q, %d", out, n)
	}
	if bad.State() != bgjob.Dead {
		t.Fatalf("bad: state %v", bad.State())
	}
	if code, isSet := bad.ExitCode(); !isSet || code != 3 {
		t.Errorf("bad: ExitCode() = %d, %v", code, isSet)
	}
	wantTB := "command exited with status 3\n--- last lines of output ---\nline3\nline4\nline5\nline6\nline7\nline8\nline9\nline10\nline11\nline12"
	if tb := bad.Traceback(); tb != wantTB {
		t.Errorf("bad: traceback %q, want %q", tb, wantTB)
	}
	var ce *bgjob.CommandError
	if _, err := bad.Value(); !errors.As(err, &ce) || ce.Code != 3 || ce.Signal != 0 || errors.Is(err, bgjob.ErrKilled) {
		t.Errorf("bad: error %v", err)
	}
	if out, _ := dir.Output(); out != "/\nbar\n" {
		t.Errorf("dir: Output() = %q", out)
	}
	if _, isSet := mustNewWait(t, m, sleeper, 1).ExitCode(); isSet {
		t.Error("ExitCode set for a function job")
	}
}

func TestCommandStartFailure(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// The error is about the directory, not (as os/exec words a failed
	// chdir) about the executable.
	tests := []struct {
		dir  string
		want string
		is   error
	}{
		{"/no/such/dir", "start command true: directory /no/such/dir: no such file or directory", fs.ErrNotExist},
		{file, "start command true: directory " + file + ": not a directory", syscall.ENOTDIR},
	}
	m := newManager(t, nil)
	for _, tt := range tests {
		j := mustNewWait(t, m, bgjob.Cmd{Argv: []string{"true"}, Dir: tt.dir})
		_, err := j.Value()
		if j.State() != bgjob.Dead || !errors.Is(err, tt.is) || err.Error() != tt.want {
			t.Errorf("state %v error %q, want Dead with %q matching %v", j.State(), err, tt.want, tt.is)
		}
		if _, ok := j.ExitCode(); ok {
			t.Error("ExitCode set for a command that never started")
		}
	}
}

// TestCloseKillsCommand: Close returns only once a running command's process
// has been killed and reaped.
func TestCloseKillsCommand(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	fifo := mkfifo(t)
	c := mustNew(t, m, bgjob.Cmd{Shell: `echo x > "$FIFO"; exec sleep 1000`, Env: []string{"FIFO=" + fifo, "PATH=/usr/bin:/bin"}})
	readFile(t, fifo)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close = %v, want context.Canceled", err)
	}
	if code, ok := c.ExitCode(); !ok || code != -1 {
		t.Errorf("ExitCode() = %d, %v: the process should have been killed and reaped", code, ok)
	}
	if _, err := c.Value(); !errors.Is(err, bgjob.ErrKilled) {
		t.Errorf("error %v, want ErrKilled", err)
	}
}

// TestCommandPathFromEnv: with Cmd.Env setting PATH, an Argv command is
// looked up in that PATH (as /bin/sh -c does for a Shell command), not in
// drover's own.
func TestCommandPathFromEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tool := filepath.Join(dir, "bgjob-test-tool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\necho tool ran\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, nil)
	j, err := m.New(bgjob.Cmd{Argv: []string{"bgjob-test-tool"}, Env: []string{"PATH=/nonexistent", "PATH=" + dir + ":/usr/bin:/bin"}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	wait(t, j)
	if out, _ := j.Output(); j.State() != bgjob.Completed || out != "tool ran\n" {
		t.Errorf("state %v output %q: %s", j.State(), out, j.Traceback())
	}
	// Not found in the job's PATH: New fails, naming the command.
	_, err = m.New(bgjob.Cmd{Argv: []string{"sh"}, Env: []string{"PATH=" + dir}})
	if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), `"sh"`) {
		t.Errorf("New of a command missing from the job's PATH = %v, want exec.ErrNotFound", err)
	}
}
