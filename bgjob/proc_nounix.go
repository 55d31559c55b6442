//go:build !unix

package bgjob

import (
	"os"
	"os/exec"
	"syscall"
)

func setProcessGroup(c *exec.Cmd) {}

// terminateGroup kills the process (there are no process groups, and no
// SIGTERM to send).
func terminateGroup(p *os.Process) { _ = p.Kill() }

// signalGroup kills the process (there are no process groups to signal).
func signalGroup(p *os.Process, sig syscall.Signal) { _ = p.Kill() }
