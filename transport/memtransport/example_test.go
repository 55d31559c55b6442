package memtransport_test

import (
	"context"
	"fmt"

	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/memtransport"
)

func Example() {
	ctx := context.Background()
	hub, _ := memtransport.New(nil)
	ctrl := hub.Controller()
	defer ctrl.Close()
	eng := hub.NewEngine()

	eng.Send(ctx, transport.FromEngine{Register: &transport.Register{Window: 1}})
	msgs, _ := ctrl.Recv(ctx)
	fmt.Println(msgs[0].From, msgs[0].Register.Window)

	ctrl.Send(ctx, eng.Addr(), transport.ToEngine{Registered: &transport.Registered{EngineID: 0}},
		transport.ToEngine{Call: &transport.Call{ID: 1, Op: transport.OpKeys}})
	in, _ := eng.Recv(ctx)
	fmt.Println(len(in), in[1].Call.Op)

	eng.Close()
	msgs, _ = ctrl.Recv(ctx)
	fmt.Println(msgs[0].From, msgs[0].Lost != nil)
	// Output:
	// mem-1 1
	// 2 keys
	// mem-1 true
}
