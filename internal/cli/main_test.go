package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

// droverModeEnv switches the test binary into the drover command (as
// cmd/drover wires it), so that tests can run the real program in a child
// process, as os/exec's tests re-execute themselves.
const droverModeEnv = "DROVER_CLI_TEST_DROVER"

func TestMain(m *testing.M) {
	if os.Getenv(droverModeEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGHUP)
		code := Main(ctx, os.Args[1:], IO{})
		stop()
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}
