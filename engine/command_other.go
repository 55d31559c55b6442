//go:build !unix

package engine

import "os/exec"

// setProcessGroup does nothing where there are no Unix process groups.
func setProcessGroup(*exec.Cmd) {}

// killGroup kills the command's process (its children survive).
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		cmd.Process.Kill()
	}
}

func exitCode(ee *exec.ExitError) int { return ee.ExitCode() }
