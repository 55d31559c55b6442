// Package drovertest starts in-process task farms for tests.
//
//	func TestSomething(t *testing.T) {
//		farm := drovertest.NewFarm(t, &drover.Config{
//			Registry: drovertest.Registry(t, map[string]drover.Func{"double": double}),
//		})
//		task, _ := drover.NewMapTask("double", []any{int64(2)}, nil, drover.Options{})
//		id, _ := farm.Run(t.Context(), task)
//		...
//	}
//
// The farm's controller and engines are real (the same code as drover.Open
// in production), connected by the in-memory transport.
package drovertest

import (
	"context"
	"testing"
	"time"

	"github.com/drover-dev/drover"
)

// DefaultEngines is the number of engines NewFarm starts when cfg.Engines
// is zero: small and the same on every machine, unlike drover.Open's
// default (the number of CPUs).
const DefaultEngines = 2

// CloseTimeout bounds the graceful close of a farm at the end of a test;
// past it, the farm is stopped at once and the test fails.
const CloseTimeout = 10 * time.Second

// NewFarm opens an in-process farm configured by cfg (nil: defaults, with
// DefaultEngines engines), fails the test if it cannot, and closes it when
// the test and its subtests have finished. It can be called inside a
// testing/synctest bubble (the farm's timers then use the bubble's clock).
func NewFarm(t testing.TB, cfg *drover.Config) *drover.Farm {
	t.Helper()
	var c drover.Config
	if cfg != nil {
		c = *cfg
	}
	if c.Engines == 0 {
		c.Engines = DefaultEngines
	}
	ctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
	defer cancel()
	f, err := drover.Open(ctx, &c)
	if err != nil {
		t.Fatalf("drovertest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
		defer cancel()
		if err := f.Close(ctx); err != nil {
			t.Errorf("drovertest: close farm: %v", err)
		}
	})
	return f
}

// Registry returns a registry holding fns, failing the test if a name is
// invalid.
func Registry(t testing.TB, fns map[string]drover.Func) *drover.Registry {
	t.Helper()
	reg := drover.NewRegistry()
	for name, fn := range fns {
		if err := reg.Register(name, fn); err != nil {
			t.Fatalf("drovertest: %v", err)
		}
	}
	return reg
}
