//go:build !linux

package netcmd

// hardLimitDoc says what --max-memory's hard limit is on this system.
const hardLimitDoc = "no hard limit on this system (only Linux has one): an engine that needs more memory than SIZE goes on"

// setHardMemoryLimit does nothing on this system: 0 means no limit set.
func setHardMemoryLimit(n int64) (int64, error) { return 0, nil }
