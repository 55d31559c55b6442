//go:build !linux

package netcmd

import "os/exec"

// dieWithParent does nothing on this system: an engine process whose
// drover engine -n was killed runs on until stopped.
func dieWithParent(c *exec.Cmd) {}
