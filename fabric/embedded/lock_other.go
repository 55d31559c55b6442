//go:build !unix

package embedded

import "os"

// lockDir does not lock on this system: two controllers on one data
// directory are not detected.
func lockDir(path string) (*os.File, error) { return nil, nil }

func unlockDir(f *os.File) error { return nil }
