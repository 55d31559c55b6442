//go:build unix

package embedded

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockDataDir takes the exclusive, non-blocking lock of the data directory
// dir (its file LockFileName, created with mode 0600): one controller per
// data directory. A lock held by another process is an error that matches
// ErrDataDirInUse. unlock releases it (a lock is also released when the
// process ends, even by kill -9). The embedded server takes it itself;
// drover controller --nats, which embeds no server, takes it with this.
func LockDataDir(dir string) (unlock func() error, err error) {
	f, err := lockFile(filepath.Join(dir, LockFileName))
	if err != nil {
		return nil, err
	}
	return func() error { return unlockFile(f) }, nil
}

// lockFile takes an exclusive, non-blocking lock on path (created with
// mode 0600).
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked by another controller", ErrDataDirInUse, path)
		}
		return nil, err
	}
	return f, nil
}

func unlockFile(f *os.File) error {
	if f == nil {
		return nil
	}
	return f.Close() // releases the flock
}
