//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package shell

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// resizeSignals are the signals that tell the terminal's size changed.
func resizeSignals() []os.Signal { return []os.Signal{syscall.SIGWINCH} }

// IsTerminal reports whether f is a terminal. A nil f is not.
func IsTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var terr error
	if err := rc.Control(func(fd uintptr) {
		_, terr = unix.IoctlGetTermios(int(fd), ioctlGetTermios)
	}); err != nil {
		return false
	}
	return terr == nil
}
