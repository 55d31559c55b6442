//go:build !linux

package bgjob

import "os/exec"

// waitLeader waits for the command in a goroutine; exited is closed once it
// has exited and been reaped, and reap returns exec.Cmd.Wait's error.
// Without waitid(WNOWAIT) the leader is reaped before the rest of its group
// is killed.
func waitLeader(c *exec.Cmd) (exited <-chan struct{}, reap func() error) {
	ch := make(chan struct{})
	var err error
	go func() {
		defer close(ch)
		err = c.Wait()
	}()
	return ch, func() error { <-ch; return err }
}
