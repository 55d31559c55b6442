package bgjob_test

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/drover-dev/drover/bgjob"
)

// waitStopped blocks until the child process pid has stopped (waitid with
// WSTOPPED|WNOWAIT: the stop stays reportable, nothing is reaped).
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	const pPID = 1
	var info [128]byte // siginfo_t
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WSTOPPED|syscall.WNOWAIT, 0, 0)
		if e == 0 {
			return
		}
		if e != syscall.EINTR {
			t.Fatalf("waitid(%d, WSTOPPED): %v", pid, e)
		}
	}
}

// TestKillStoppedCommand: a command that is stopped (by SIGSTOP, or SIGTTIN
// when it reads the terminal from its background process group) still gets
// SIGTERM at once when killed, as a shell's kill does (SIGTERM then
// SIGCONT), not only the SIGKILL after the grace period.
func TestKillStoppedCommand(t *testing.T) {
	t.Parallel()
	m := newManager(t, &bgjob.Config{KillGrace: 20 * time.Second})
	j := mustNew(t, m, bgjob.Cmd{Shell: `trap 'echo got TERM; exit 3' TERM; echo $$; kill -STOP $$; echo continued`})
	var pid int
	for {
		ch := j.OutputChanged()
		out, _ := j.Output()
		if line, ok := strings.CutSuffix(out, "\n"); ok {
			var err error
			if pid, err = strconv.Atoi(line); err != nil {
				t.Fatalf("output %q: %v", out, err)
			}
			break
		}
		select {
		case <-ch:
		case <-j.Done():
			t.Fatalf("the command ended early: %s", j.Traceback())
		}
	}
	waitStopped(t, pid)
	if err := j.Kill(); err != nil {
		t.Fatal(err)
	}
	wait(t, j)
	if out, _ := j.Output(); !strings.Contains(out, "got TERM") {
		t.Errorf("output %q: the stopped command never handled SIGTERM", out)
	}
	if code, ok := j.ExitCode(); !ok || code != 3 {
		t.Errorf("ExitCode() = %d, %v; want 3 from the TERM trap", code, ok)
	}
}
