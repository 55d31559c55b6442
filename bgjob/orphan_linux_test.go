package bgjob_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover-dev/drover/bgjob"
)

// The orphan tests re-execute the test binary as a helper process (as
// os/exec's own tests do). The helper makes itself a child subreaper, so
// that a grandchild of a command job whose parent died is reparented to it
// and can be waited for: that wait is the proof that the grandchild has
// ended (and how), with no polling.

const helperEnv = "BGJOB_TEST_HELPER"

var helperScripts = map[string]string{
	// A shell that waits for a background grandchild; the job is killed.
	"kill": `sleep 1000 & echo $! > "$FIFO"; wait`,
	// The same, but the shell and the grandchild ignore SIGTERM, so only
	// the SIGKILL after KillGrace ends them.
	"kill-ignoring-term": `trap '' TERM; sleep 1000 & echo $! > "$FIFO"; wait`,
	// The shell exits 0 at once, leaving a background grandchild behind.
	"straggler": `sleep 1000 & echo $! > "$FIFO"`,
}

func helperMain(mode string) int {
	fail := func(format string, a ...any) int {
		fmt.Printf("helper error: "+format+"\n", a...)
		return 2
	}
	script, ok := helperScripts[mode]
	if !ok {
		return fail("unknown mode %q", mode)
	}
	const prSetChildSubreaper = 36
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		return fail("prctl: %v", e)
	}
	dir, err := os.MkdirTemp("", "bgjob-orphan")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(dir)
	fifo := filepath.Join(dir, "pid")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		return fail("mkfifo: %v", err)
	}
	m, err := bgjob.New(&bgjob.Config{KillGrace: 300 * time.Millisecond})
	if err != nil {
		return fail("%v", err)
	}
	defer m.Close(context.Background())
	j, err := m.New(bgjob.Cmd{Shell: script, Env: append(os.Environ(), "FIFO="+fifo)})
	if err != nil {
		return fail("new: %v", err)
	}
	data, err := os.ReadFile(fifo) // returns once the shell wrote the pid
	if err != nil {
		return fail("read fifo: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return fail("pid %q: %v", data, err)
	}
	if mode != "straggler" {
		if err := j.Kill(); err != nil {
			return fail("kill: %v", err)
		}
	}
	if err := j.Wait(context.Background()); err != nil {
		return fail("wait: %v", err)
	}
	_, jerr := j.Value()
	var ce *bgjob.CommandError
	sig := "none"
	if errors.As(jerr, &ce) && ce.Signal != 0 {
		sig = ce.Signal.String()
	}
	fmt.Printf("state=%s killed=%v signal=%s\n", j.State(), errors.Is(jerr, bgjob.ErrKilled), sig)

	res := make(chan string, 1)
	go func() {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		switch {
		case errors.Is(err, syscall.ECHILD):
			// Not our child: its parent, the shell, reaped it before dying
			// (the shell is dead, else the job would not have ended).
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				res <- "still alive (not our child)"
			} else {
				res <- "gone (reaped by the shell)"
			}
		case err != nil:
			res <- "wait4: " + err.Error()
		case ws.Signaled():
			res <- "gone (" + ws.Signal().String() + ")"
		default:
			res <- fmt.Sprintf("gone (exit status %d)", ws.ExitStatus())
		}
	}()
	watchdog := time.NewTimer(20 * time.Second)
	defer watchdog.Stop()
	select {
	case r := <-res:
		fmt.Println("grandchild:", r)
	case <-watchdog.C:
		fmt.Println("grandchild: still alive after 20s")
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-res
		return 1
	}
	return 0
}

func runHelper(t *testing.T, mode string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper %s: %v\n%s", mode, err, out)
	}
	return string(out)
}

func TestCommandKillLeavesNoOrphan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode        string
		wantJob     string
		grandchilds []string // acceptable grandchild outcomes
	}{
		{"kill", "state=Dead (Exception), call jobs.traceback() for details killed=true signal=terminated",
			[]string{"gone (terminated)", "gone (killed)", "gone (reaped by the shell)"}},
		{"kill-ignoring-term", "state=Dead (Exception), call jobs.traceback() for details killed=true signal=killed",
			[]string{"gone (killed)"}},
		{"straggler", "state=Completed killed=false signal=none",
			[]string{"gone (killed)"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			out := runHelper(t, tt.mode)
			if !strings.Contains(out, tt.wantJob+"\n") {
				t.Errorf("helper output %q lacks %q", out, tt.wantJob)
			}
			ok := false
			for _, g := range tt.grandchilds {
				ok = ok || strings.Contains(out, "grandchild: "+g+"\n")
			}
			if !ok {
				t.Errorf("helper output %q: grandchild outcome not one of %q", out, tt.grandchilds)
			}
		})
	}
}
