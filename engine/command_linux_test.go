package engine_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/transport"
)

// readPid opens the FIFO (waiting for the helper to open it) and reads the
// pid the helper writes.
func readPid(t *testing.T, fifo string) int {
	t.Helper()
	f, err := os.Open(fifo)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the pid from the helper: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitGone waits until process pid has exited (pidfd readable) or no
// longer exists.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return
	}
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 30_000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("poll pidfd: %v", err)
		}
		if n == 0 {
			t.Fatalf("process %d still runs 30 s after its task ended: orphan", pid)
		}
		return
	}
}

func fifo(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "pid")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCommandCancelKillsGroup: cancelling a command task kills its whole
// process group: the grandchild it started dies too.
func TestCommandCancelKillsGroup(t *testing.T) {
	t.Parallel()
	e := newEngine(t, &engine.Config{AllowCommands: true, Env: helperEnviron()})
	p := fifo(t)
	ctx, cancel := context.WithCancelCause(t.Context())
	done := make(chan *transport.Outcome, 1)
	go func() {
		done <- runCtx(ctx, e, &drovertype.Task{Kind: drovertype.CommandTask, Argv: helperArgv("spawn", p)})
	}()
	grandchild := readPid(t, p)
	cancel(drovertype.NewAborted(9))
	outErr(t, <-done, drovertype.TaskAborted, "TaskAborted", "")
	waitGone(t, grandchild)
}

// TestCommandLeavesNoOrphan: when a command exits, what it left running in
// its process group is killed.
func TestCommandLeavesNoOrphan(t *testing.T) {
	t.Parallel()
	e := newEngine(t, &engine.Config{AllowCommands: true, Env: helperEnviron()})
	p := fifo(t)
	done := make(chan *transport.Outcome, 1)
	go func() {
		done <- run(t, e, &drovertype.Task{Kind: drovertype.CommandTask, Argv: helperArgv("spawn-exit", p)})
	}()
	grandchild := readPid(t, p)
	out := <-done
	if out.Err != nil || out.Value.(*drovertype.CommandResult).ExitCode != 0 {
		t.Fatalf("spawn-exit: %+v, %v", out.Value, out.Err)
	}
	waitGone(t, grandchild)
}

// TestServeCancelCommand: Cancel of a running command task kills its
// process group.
func TestServeCancelCommand(t *testing.T) {
	t.Parallel()
	e := newEngine(t, &engine.Config{AllowCommands: true, Env: helperEnviron()})
	d := serve(t, e, 4)
	p := fifo(t)
	d.send(assign(5, 14, &drovertype.Task{Kind: drovertype.CommandTask, Argv: helperArgv("spawn", p)}))
	grandchild := readPid(t, p)
	d.send(transport.ToEngine{Cancel: &transport.Cancel{Attempt: 5}})
	if o := d.outcome(); o.Attempt != 5 || !errors.Is(o.Err, drovertype.ErrTaskAborted) {
		t.Fatalf("cancelled command: %+v", o)
	}
	waitGone(t, grandchild)
}
