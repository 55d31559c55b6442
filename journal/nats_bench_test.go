package journal_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/journal"
	"github.com/drover-dev/drover/transport/natstransport"
)

// BenchmarkFarmOverNATS: trivial Go-function tasks through a controller
// and 2 engines that talk over NATS (natstransport; each on its own
// loopback TCP connection, as engine processes would; the engines are
// goroutines of this process), with and without a journal on the same
// server's JetStream file store. Tasks are submitted with RunBatch in
// batches of 1,000 with about 5,000 in flight. One op = one task.
func BenchmarkFarmOverNATS(b *testing.B) {
	for _, durable := range []bool{false, true} {
		b.Run(fmt.Sprint("durable=", durable), func(b *testing.B) {
			dir := b.TempDir()
			s := startNATSTCP(b, dir)
			dial := func() *nats.Conn {
				nc, err := nats.Connect(s.ns.ClientURL(), nats.MaxReconnects(0))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(nc.Close)
				return nc
			}
			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			end, err := natstransport.NewControllerEnd(ctx, dial(), nil)
			if err != nil {
				b.Fatal(err)
			}
			cfg := &controller.Config{FailurePenalty: -1, IdleTimeout: -1}
			var j *journal.Journal
			if durable {
				if j, err = journal.Open(ctx, dial(), &journal.Config{Dir: dir}); err != nil {
					b.Fatal(err)
				}
				cfg.Journal = j
			}
			c, err := controller.New(end, cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Start(ctx); err != nil {
				b.Fatal(err)
			}
			reg := engine.NewRegistry()
			reg.MustRegister("inc", func(_ context.Context, args []any, _ map[string]any) (any, error) { return args[0].(int64) + 1, nil })
			for i := range 2 {
				key := fmt.Sprint("e", i)
				eend, err := natstransport.NewEngineEnd(ctx, dial(), &natstransport.Config{Key: key})
				if err != nil {
					b.Fatal(err)
				}
				e, err := engine.New(&engine.Config{Name: key, Registry: reg})
				if err != nil {
					b.Fatal(err)
				}
				wg.Go(func() {
					defer eend.Close()
					_ = e.Serve(ctx, eend)
				})
			}
			b.Cleanup(func() {
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = c.Stop(sctx)
				if j != nil {
					_ = j.Close(sctx)
				}
				stop()
				wg.Wait()
				_ = end.Close()
			})
			if err := c.WaitEngines(ctx, 2); err != nil {
				b.Fatal(err)
			}
			const batch = 1000
			tasks := make([]*drovertype.Task, batch)
			for i := range tasks {
				tasks[i], _ = drovertype.NewMapTask("inc", []any{int64(i)}, nil, drovertype.Options{})
			}
			var pending [][]drovertype.TaskID
			wait := func(ids []drovertype.TaskID) {
				_, errs, err := c.Results(ctx, ids)
				if err != nil || errors.Join(errs...) != nil {
					b.Fatal(err, errors.Join(errs...))
				}
			}
			n := 0
			for b.Loop() {
				if n%batch == 0 {
					ids, err := c.RunBatch(ctx, tasks)
					if err != nil {
						b.Fatal(err)
					}
					pending = append(pending, ids)
					if len(pending) > 4 {
						wait(pending[0])
						pending = slices.Delete(pending, 0, 1)
					}
				}
				n++
			}
			for _, ids := range pending {
				wait(ids)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tasks/s")
		})
	}
}
