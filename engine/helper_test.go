package engine_test

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
)

// The test binary doubles as the child process of command tasks (as
// os/exec's tests do): with DROVER_ENGINE_HELPER=1 in its environment,
// TestMain runs helperMain instead of the tests. Modes (os.Args[1]):
//
//	echo OUT ERR CODE   print OUT to stdout, ERR to stderr, exit CODE
//	block               wait for SIGTERM (or to be killed)
//	spawn FIFO          start a "block" child in the same process group,
//	                    write its pid to FIFO, then block
//	spawn-exit FIFO     as spawn, but exit at once after writing the pid
const helperEnv = "DROVER_ENGINE_HELPER"

func helperMain() bool {
	if os.Getenv(helperEnv) != "1" {
		return false
	}
	args := os.Args[1:]
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "helper: no mode")
		os.Exit(2)
	}
	switch args[0] {
	case "echo":
		fmt.Fprint(os.Stdout, args[1])
		fmt.Fprint(os.Stderr, args[2])
		code, _ := strconv.Atoi(args[3])
		os.Exit(code)
	case "block":
		block()
	case "spawn", "spawn-exit":
		child := exec.Command(os.Args[0], "block")
		child.Env = os.Environ()
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "helper: spawn:", err)
			os.Exit(2)
		}
		f, err := os.OpenFile(args[1], os.O_WRONLY, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper: fifo:", err)
			os.Exit(2)
		}
		fmt.Fprintf(f, "%d\n", child.Process.Pid)
		f.Close()
		if args[0] == "spawn" {
			block()
		}
		os.Exit(0)
	}
	fmt.Fprintln(os.Stderr, "helper: unknown mode", args[0])
	os.Exit(2)
	return true
}

// block waits until the process gets SIGTERM (SIGKILL ends it anyway).
func block() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	<-c
	os.Exit(3)
}

// helperArgv returns the argv of a helper command.
func helperArgv(mode string, args ...string) []string {
	return append([]string{os.Args[0], mode}, args...)
}

// helperEnviron is the environment of engines that run helper commands.
func helperEnviron() []string { return append(os.Environ(), helperEnv+"=1") }
