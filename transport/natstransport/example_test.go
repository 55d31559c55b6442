package natstransport_test

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
	"github.com/drover-dev/drover/transport/natstransport"
)

// An engine registers with the controller over an embedded NATS server and
// receives a task; the controller gets its outcome.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := server.NewServer(&server.Options{DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		panic(err)
	}
	s.Start()
	defer s.WaitForShutdown()
	defer s.Shutdown()
	if !s.ReadyForConnections(5 * time.Second) {
		panic("server not ready")
	}
	cnc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		panic(err)
	}
	defer cnc.Close()
	enc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		panic(err)
	}
	defer enc.Close()

	ctrl, err := natstransport.NewControllerEnd(ctx, cnc, nil)
	if err != nil {
		panic(err)
	}
	defer ctrl.Close()
	eng, err := natstransport.NewEngineEnd(ctx, enc, &natstransport.Config{Key: "worker-1"})
	if err != nil {
		panic(err)
	}
	defer eng.Close()

	// The engine says hello; the controller learns its address.
	_ = eng.Send(ctx, transport.FromEngine{Register: &transport.Register{Name: "example", Window: 1}})
	msgs, _ := ctrl.Recv(ctx)
	fmt.Printf("%s registered (window %d)\n", msgs[0].From, msgs[0].Register.Window)

	// The controller assigns a task; the engine answers.
	task, _ := drovertype.NewMapTask("double", []any{int64(21)}, nil, drovertype.Options{})
	_ = ctrl.Send(ctx, msgs[0].From, transport.ToEngine{Assign: &transport.Assign{Attempt: 1, TaskID: 0, Task: task}})
	in, _ := eng.Recv(ctx)
	a := in[0].Assign
	fmt.Printf("engine runs %s%v\n", a.Task.FuncName, a.Task.Args)
	_ = eng.Send(ctx, transport.FromEngine{Outcome: &transport.Outcome{Attempt: a.Attempt, TaskID: a.TaskID, Value: int64(42)}})
	msgs, _ = ctrl.Recv(ctx)
	fmt.Printf("outcome of task %d from %s: %v\n", msgs[0].Outcome.TaskID, msgs[0].From, msgs[0].Outcome.Value)

	// The engine leaves: the controller sees it lost.
	eng.Close()
	msgs, _ = ctrl.Recv(ctx)
	fmt.Printf("%s lost: %s\n", msgs[0].From, msgs[0].Lost.Reason)
	// Output:
	// worker-1 registered (window 1)
	// engine runs double[21]
	// outcome of task 0 from worker-1: 42
	// worker-1 lost: engine end closed
}
