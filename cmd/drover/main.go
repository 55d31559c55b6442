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
	// killed); SIGINT is handled by the commands themselves.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGHUP)
	code := cli.Main(ctx, os.Args[1:], cli.IO{})
	stop()
	os.Exit(code)
}
