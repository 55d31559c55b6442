//go:build unix

package bgjob_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// mkfifo creates a FIFO in a temporary directory and returns its name.
func mkfifo(t *testing.T) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(name, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// readFile reads a file (a FIFO: it returns once a writer has written and
// closed it).
func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
