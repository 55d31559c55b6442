package transporttest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/memtransport"
	"github.com/drover-dev/drover/transport/transporttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the suite against the in-memory transport (the reference
// implementation), with several hub prefixes.
func TestRun(t *testing.T) {
	t.Parallel()
	transporttest.Run(t, func(t *testing.T) (transport.ControllerEnd, func(*testing.T) transport.EngineEnd) {
		hub, err := memtransport.New(&memtransport.Config{Prefix: "suite"})
		if err != nil {
			t.Fatal(err)
		}
		return hub.Controller(), func(*testing.T) transport.EngineEnd { return hub.NewEngine() }
	})
}
