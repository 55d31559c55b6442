//go:build unix

package bgjob

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcessGroup makes the command the leader of a new process group.
func setProcessGroup(c *exec.Cmd) {
	if c.SysProcAttr == nil {
		c.SysProcAttr = &syscall.SysProcAttr{}
	}
	c.SysProcAttr.Setpgid = true
}

// terminateGroup sends SIGTERM to the process group led by p, then SIGCONT
// (as a shell's kill does), so that a stopped process (SIGSTOP, or SIGTTIN
// for reading the terminal from a background group) handles it now rather
// than being killed by the SIGKILL after the grace period.
func terminateGroup(p *os.Process) {
	signalGroup(p, syscall.SIGTERM)
	signalGroup(p, syscall.SIGCONT)
}

// signalGroup sends sig to the process group led by p.
func signalGroup(p *os.Process, sig syscall.Signal) {
	_ = syscall.Kill(-p.Pid, sig)
}
