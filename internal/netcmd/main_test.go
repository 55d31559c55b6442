package netcmd

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"testing"

	"github.com/spf13/cobra"
	"go.uber.org/goleak"

	"github.com/drover-dev/drover"
)

// modeEnv switches the test binary into the drover command (a root with
// this package's commands, wired as cmd/drover wires drover), so that
// tests run the real commands in child processes, as os/exec's tests
// re-execute themselves.
const modeEnv = "DROVER_NETCMD_TEST_DROVER"

func TestMain(m *testing.M) {
	if os.Getenv(modeEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGHUP)
		root := testRoot(IO{Functions: testFunctions})
		root.SetArgs(os.Args[1:])
		err := root.ExecuteContext(ctx)
		stop()
		if err != nil {
			fmt.Fprintf(os.Stderr, "drover: %v\n", err)
		}
		os.Exit(ExitCode(err))
	}
	goleak.VerifyTestMain(m)
}

// testFunctions are the built-in functions plus, for process tests,
// announce(tag, seconds): it prints "ANNOUNCE <tag> <pid>" on standard
// output (so that a test knows which engine process runs the task), then
// sleeps (stopped by abort), and returns tag; and slowecho(x, seconds).
func testFunctions() *drover.Registry {
	reg := BuiltinFunctions()
	sleep, _ := reg.Lookup("sleep")
	reg.MustRegister("announce", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		if len(args) != 2 {
			return nil, fmt.Errorf("announce: want tag and seconds")
		}
		fmt.Printf("%s %v %d\n", announceLine, args[0], os.Getpid())
		if _, err := sleep(ctx, args[1:], nil); err != nil {
			return nil, err
		}
		return args[0], nil
	})
	// slowecho(x, seconds): sleeps, then returns x (durable_test.go: tasks
	// that are still queued or running when the controller is killed).
	reg.MustRegister("slowecho", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		if len(args) != 2 {
			return nil, fmt.Errorf("slowecho: want x and seconds")
		}
		if _, err := sleep(ctx, args[1:], nil); err != nil {
			return nil, err
		}
		return args[0], nil
	})
	// gomaxprocs(seconds): sleeps, then returns [pid, GOMAXPROCS] of the
	// engine process (gomaxprocs_test.go).
	reg.MustRegister("gomaxprocs", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		if _, err := sleep(ctx, args, nil); err != nil {
			return nil, err
		}
		return []any{int64(os.Getpid()), int64(runtime.GOMAXPROCS(0))}, nil
	})
	return reg
}

const announceLine = "ANNOUNCE"

// testRoot is a drover root command with this package's commands, as
// internal/cli will add them.
func testRoot(stdio IO) *cobra.Command {
	root := &cobra.Command{Use: "drover", SilenceErrors: true, SilenceUsage: true}
	if stdio.Out != nil {
		root.SetOut(stdio.Out)
		root.SetErr(stdio.Err)
	}
	root.AddCommand(Controller(stdio), Engine(stdio), Status(stdio), Engines(stdio), Bench(stdio))
	return root
}
