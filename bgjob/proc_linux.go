package bgjob

import (
	"os/exec"
	"syscall"
	"unsafe"
)

// waitLeader starts waiting for the command's process to exit without
// reaping it (waitid with WNOWAIT), so that while the caller kills the rest
// of its process group the group id cannot be reused. exited is closed once
// it has exited; reap then reaps it and returns exec.Cmd.Wait's error.
func waitLeader(c *exec.Cmd) (exited <-chan struct{}, reap func() error) {
	ch := make(chan struct{})
	pid := c.Process.Pid
	go func() {
		defer close(ch)
		const pPID = 1     // P_PID
		var info [128]byte // siginfo_t
		for {
			_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
				uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
			if e != syscall.EINTR {
				return // exited, or an error that Wait will report
			}
		}
	}()
	return ch, c.Wait
}
