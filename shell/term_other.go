//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package shell

import (
	"io"
	"os"
)

// IsTerminal reports whether f is a terminal. On this platform it always
// reports false, so the shell runs without line editing.
func IsTerminal(f *os.File) bool { return false }

// resizeSignals: none on this platform.
func resizeSignals() []os.Signal { return nil }

// TermWidth returns 0: terminal sizes are not known on this platform.
func TermWidth(w io.Writer) int { return 0 }
