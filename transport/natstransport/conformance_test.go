package natstransport_test

import (
	"testing"

	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/natstransport"
	"github.com/drover-dev/drover/transport/transporttest"
)

// TestConformance runs the transport conformance suite over an embedded
// server, with in-process connections and over loopback TCP.
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name      string
		inProcess bool
	}{{"InProcess", true}, {"TCP", false}} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.inProcess, -1)
			transporttest.Run(t, func(t *testing.T) (transport.ControllerEnd, func(t *testing.T) transport.EngineEnd) {
				cfg := natstransport.Config{Prefix: unique("conf")}
				ctrl := newController(t, s, &cfg)
				return ctrl, func(t *testing.T) transport.EngineEnd {
					return newEngine(t, s, cfg, unique("e"))
				}
			})
		})
	}
}
