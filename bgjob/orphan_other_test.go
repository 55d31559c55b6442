//go:build !linux

package bgjob_test

import "fmt"

// The orphan tests need a Linux child subreaper; see orphan_linux_test.go.

const helperEnv = "BGJOB_TEST_HELPER"

func helperMain(mode string) int {
	fmt.Println("helper mode", mode, "is Linux-only")
	return 2
}
