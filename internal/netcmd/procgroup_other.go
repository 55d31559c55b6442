//go:build !unix

package netcmd

import "os/exec"

// ownProcessGroup does nothing on this system.
func ownProcessGroup(c *exec.Cmd) {}
