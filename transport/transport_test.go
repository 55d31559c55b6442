package transport_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/drover-dev/drover/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCallOpString(t *testing.T) {
	t.Parallel()
	for op, want := range map[transport.CallOp]string{
		transport.OpPush: "push", transport.OpPull: "pull", transport.OpExecute: "execute", transport.OpReset: "reset",
		transport.OpKeys: "keys", transport.OpSetProperties: "set_properties", transport.OpGetProperties: "get_properties",
		transport.OpDelProperties: "del_properties", transport.OpHasProperties: "has_properties",
		transport.OpClearProperties: "clear_properties", 0: "CallOp(0)", 200: "CallOp(200)",
	} {
		if got := op.String(); got != want {
			t.Errorf("CallOp(%d).String() = %q, want %q", uint8(op), got, want)
		}
	}
}
