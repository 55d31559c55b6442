package journal_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/journal"
	"github.com/drover-dev/drover/transport/memtransport"
)

// life is one run of a durable controller (no engine) on a JetStream store
// in dir: it opens the journal, starts the controller (which recovers
// what the store holds) and returns a function that stops it all.
func life(ctx context.Context, dir string) (*controller.Controller, func(), error) {
	ns, err := server.NewServer(&server.Options{DontListen: true, NoSigs: true, NoLog: true, JetStream: true, StoreDir: dir})
	if err != nil {
		return nil, nil, err
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		return nil, nil, fmt.Errorf("nats server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		return nil, nil, err
	}
	j, err := journal.Open(ctx, nc, &journal.Config{Dir: dir})
	if err != nil {
		return nil, nil, err
	}
	hub, err := memtransport.New(nil)
	if err != nil {
		return nil, nil, err
	}
	c, err := controller.New(hub.Controller(), &controller.Config{Journal: j})
	if err != nil {
		return nil, nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, nil, err
	}
	return c, func() {
		_ = c.Stop(ctx)
		_ = j.Close(ctx)
		_ = hub.Controller().Close()
		nc.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
	}, nil
}

// A controller with a journal keeps its queue across a restart: the task
// queued before the restart is queued again after it, under the same id,
// and new ids never reuse old ones.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "drover-journal-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	c, stop, err := life(ctx, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	task, _ := drovertype.NewMapTask("inc", []any{int64(41)}, nil, drovertype.Options{})
	id, err := c.Run(ctx, task) // durable once Run returns
	fmt.Println("queued task", id, err)
	stop()

	c, stop, err = life(ctx, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	st, _ := c.QueueStatus(ctx)
	fmt.Println("queued after the restart:", st.Scheduled)
	next, _ := c.Run(ctx, task)
	fmt.Println("next id is new:", next > id)
	// Output:
	// queued task 0 <nil>
	// queued after the restart: [0]
	// next id is new: true
}
