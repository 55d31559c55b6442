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
const hardLimitDoc = `on Linux, also a hard limit on the process's
address space (RLIMIT_AS), set to SIZE above what the process has mapped
when it starts (a Go program reserves much address space it does not use:
the limit logged at start is several GiB). Past the hard limit an
allocation fails and the engine process dies abruptly ("fatal error: out of
memory"): no goodbye, its running task is not handed back; the controller
sees the engine lost and retries the task elsewhere if it has retries left.
Command tasks (--allow-commands) inherit that same limit, not SIZE: it
bounds a command only loosely (limit a command's memory in the command
itself, e.g. ulimit -v)`

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
