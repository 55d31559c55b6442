//go:build !unix

package embedded

import "os"

// LockDataDir does not lock on this system: two controllers on one data
// directory are not detected.
func LockDataDir(dir string) (unlock func() error, err error) {
	return func() error { return nil }, nil
}

func lockFile(path string) (*os.File, error) { return nil, nil }

func unlockFile(f *os.File) error { return nil }
