package controlapi

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/engine"
	"github.com/drover-dev/drover/fabric/embedded"
	"github.com/drover-dev/drover/transport/memtransport"
)

// FuzzHandlers feeds arbitrary request bodies to every handler of a server
// over a real controller with one engine: no panic, and every answer
// encodes as JSON.
func FuzzHandlers(f *testing.F) {
	seeds := map[int][]string{
		0: {`{"tasks":[{"kind":"string","code":"x=1","pull":["x"]}]}`, `{"tasks":[{"kind":"map","func_name":"nope","args":"gQE="}]}`,
			`{"proto":{"kind":"map","func_name":"nope"},"rows":"goEBgQI="}`},
		1:  {`{"ids":[0,1,2],"wait_ms":5}`, `{"ids":[0,1,2],"wait_ms":5,"packed":true}`},
		2:  {`{"id":0}`},
		3:  {`{"id":1}`},
		4:  {`{"ids":[0]}`},
		5:  {`{}`},
		6:  {`{"verbose":true}`},
		7:  {`{"ids":[0,1]}`, `{"all":true}`},
		8:  {`{}`},
		9:  {`{"engine":0,"op":"execute","code":"y = 2"}`, `{"engine":0,"op":"push","values":"oWFhAQ=="}`, `{"engine":0,"op":"pull","names":["y"],"single":true}`},
		10: {`{}`},
	}
	for op, bodies := range seeds {
		for _, b := range bodies {
			f.Add(uint8(op), []byte(b))
		}
	}
	var once sync.Once
	var s *Server
	var handlers []handler
	var cleanup func()
	f.Cleanup(func() {
		if cleanup != nil {
			cleanup()
		}
	})
	f.Fuzz(func(t *testing.T, op uint8, data []byte) {
		once.Do(func() { s, handlers, cleanup = fuzzServer(t) })
		h := handlers[int(op)%len(handlers)]
		resp, err := h(context.Background(), data)
		if err != nil {
			resp.setError(WireError(err))
		}
		if raw, ok := resp.(*rawResponse); ok && raw.err == nil {
			if !json.Valid(raw.b) {
				t.Fatalf("invalid JSON response %q", raw.b)
			}
			return
		}
		if _, err := json.Marshal(resp); err != nil {
			t.Fatalf("response does not encode: %v", err)
		}
	})
	_ = s
}

// fuzzServer starts what FuzzHandlers needs and returns the handlers and
// a function that stops everything.
func fuzzServer(t *testing.T) (*Server, []handler, func()) {
	ctx, stop := context.WithCancel(context.Background())
	srv, err := embedded.Start(ctx, &embedded.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	hub, _ := memtransport.New(nil)
	ctl, err := controller.New(hub.Controller(), &controller.Config{IdleTimeout: 10 * time.Millisecond, FailurePenalty: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(&engine.Config{StepBudget: 100000})
	if err != nil {
		t.Fatal(err)
	}
	end := hub.NewEngine()
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Serve(ctx, end) }()
	s, err := New(srv.Conn().Conn, ctl, &Config{MaxWait: 10 * time.Millisecond, MaxCallWait: 50 * time.Millisecond, MaxIDs: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	hs := []handler{s.submit, s.result, s.poll, s.abort, s.barrier, s.spin, s.queueStatus, s.clear, s.engines, s.engineCall, s.info}
	return s, hs, func() {
		_ = s.Stop(context.Background())
		stop()
		_ = ctl.Stop(context.Background())
		_ = end.Close()
		<-done
		_ = hub.Controller().Close()
		_ = srv.Shutdown(context.Background())
	}
}
