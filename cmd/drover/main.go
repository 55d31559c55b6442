// Command drover runs background jobs from a Starlark shell or script; see
// package internal/cli and docs/shell.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/drover-dev/drover/internal/cli"
)

func main() {
	// SIGTERM and SIGHUP end the running command cleanly (its jobs are
	// killed, an engine hands back its tasks); more of them change nothing
	// (a process manager may send one to every process of a group, and
	// drover engine -n forwards its own). SIGINT is handled by the
	// commands themselves: a second Ctrl-C stops a controller or an engine
	// at once. A signal the process was started ignoring (nohup) stays
	// ignored.
	var sigs []os.Signal
	for _, s := range []os.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		if !signal.Ignored(s) {
			sigs = append(sigs, s)
		}
	}
	ctx, stop := context.Background(), func() {}
	if len(sigs) > 0 { // (no signals would mean all of them)
		ctx, stop = signal.NotifyContext(ctx, sigs...)
	}
	code := cli.Main(ctx, os.Args[1:], cli.IO{})
	stop()
	os.Exit(code)
}
