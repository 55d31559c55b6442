//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package shell

import (
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// resizeSignals are the signals that tell the terminal's size changed.
func resizeSignals() []os.Signal { return []os.Signal{syscall.SIGWINCH} }

// TermWidth returns the width in columns of the terminal w, or 0 when w is
// not a terminal (an *os.File) or its size is not known.
func TermWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return 0
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	cols := 0
	_ = rc.Control(func(fd uintptr) {
		if ws, err := unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ); err == nil {
			cols = int(ws.Col)
		}
	})
	return cols
}

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
