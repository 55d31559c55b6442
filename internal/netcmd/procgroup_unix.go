//go:build unix

package netcmd

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup starts c's process in a process group of its own: a
// Ctrl-C at the terminal (SIGINT to the foreground process group) does not
// reach it directly, only as drover engine -n passes it on.
func ownProcessGroup(c *exec.Cmd) {
	if c.SysProcAttr == nil {
		c.SysProcAttr = &syscall.SysProcAttr{}
	}
	c.SysProcAttr.Setpgid = true
}
