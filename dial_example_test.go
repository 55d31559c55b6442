package drover_test

import (
	"context"
	"fmt"
	"os"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/controlapi"
	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/fabric/embedded"
)

// Serve a farm over NATS and use it from another process with Dial: the
// controller side starts an embedded NATS server (authentication on; it
// writes the connection files) and serves the control API; a client dials
// the client connection file. Here both sides are in one process.
func ExampleDial() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "drover-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	// The controller's side.
	farm, err := drover.Open(ctx, &drover.Config{Engines: 2, Registry: squares()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer farm.Close(ctx)
	srv, err := embedded.Start(ctx, &embedded.Config{DataDir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(ctx)
	api, err := controlapi.New(srv.Conn().Conn, farm.Controller(), &controlapi.Config{ControllerID: srv.ID()})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := api.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer api.Stop(ctx)

	// A client's side: the connection file holds the URL and the client's
	// secret (mode 0600).
	client, err := drover.Dial(ctx, srv.File(fabric.RoleClient))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close(ctx)
	task, _ := drover.NewMapTask("square", []any{int64(7)}, nil, drover.Options{})
	id, err := client.Run(ctx, task)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := client.Result(ctx, id)
	fmt.Println(v, err)
	_, err = client.Result(ctx, 99)
	fmt.Println(err, drover.KindOf(err))
	// Output:
	// 49 <nil>
	// result: task ID not registered: 99 NotFound
}
