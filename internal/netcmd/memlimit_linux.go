//go:build linux

package netcmd

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// hardLimitDoc says what --max-memory's hard limit is on this system.
const hardLimitDoc = "on Linux, also a hard limit on the process's address space (RLIMIT_AS, set to SIZE above what the process has mapped when it starts, and inherited by command tasks): past it allocations fail and the engine process dies"

// setHardMemoryLimit limits the process's address space to what it has
// mapped now plus n bytes (RLIMIT_AS, soft and hard), and returns the
// limit set.
func setHardMemoryLimit(n int64) (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, fmt.Errorf("hard memory limit: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("hard memory limit: /proc/self/statm: empty")
	}
	pages, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("hard memory limit: /proc/self/statm: %w", err)
	}
	lim := pages*int64(os.Getpagesize()) + n
	if err := unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: uint64(lim), Max: uint64(lim)}); err != nil {
		return 0, fmt.Errorf("hard memory limit: setrlimit RLIMIT_AS %d: %w", lim, err)
	}
	return lim, nil
}
