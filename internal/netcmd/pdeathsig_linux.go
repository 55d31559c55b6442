//go:build linux

package netcmd

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes c's process get SIGTERM when the process that
// starts it dies (Linux's parent-death signal): an engine process whose
// drover engine -n was killed leaves gracefully instead of running on
// unsupervised.
func dieWithParent(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
