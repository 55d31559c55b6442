package controller

import (
	"context"
	"testing"
)

// TestAppendWaiterPrunes: waiters whose caller gave up do not pile up on a
// task that never finishes.
func TestAppendWaiterPrunes(t *testing.T) {
	live := &barrier{ctx: context.Background()}
	ws := []*barrier{live}
	for range 1000 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ws = appendWaiter(ws, &barrier{ctx: ctx})
	}
	if len(ws) > 16 {
		t.Fatalf("%d waiters kept", len(ws))
	}
	if ws[0] != live || live.done {
		t.Fatal("the live waiter was dropped")
	}
}
