package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrStoreDir is wrapped by CheckDir's errors.
var ErrStoreDir = errors.New("unusable journal directory")

// CheckDir makes sure dir (a JetStream store directory, created with mode
// 0700 if missing) is a directory this process can write, by writing and
// removing a probe file. Call it before starting a server on dir: the
// nats-server's own failure on a bad store directory is a fatal log line
// that does not name it. The error names dir and what is wrong, and
// matches ErrStoreDir.
func CheckDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("journal directory: empty path: %w", ErrStoreDir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("journal directory %s: %w: %w", dir, ErrStoreDir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("journal directory %s: %w: %w", dir, ErrStoreDir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("journal directory %s: %w: not a directory", dir, ErrStoreDir)
	}
	f, err := os.CreateTemp(dir, ".drover-probe-*")
	if err != nil {
		return fmt.Errorf("journal directory %s: %w: not writable: %w", dir, ErrStoreDir, err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("drover"))
	cerr := f.Close()
	rerr := os.Remove(filepath.Clean(name))
	if err := errors.Join(werr, cerr, rerr); err != nil {
		return fmt.Errorf("journal directory %s: %w: not writable: %w", dir, ErrStoreDir, err)
	}
	return nil
}
