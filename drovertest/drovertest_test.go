package drovertest_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/drovertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNewFarm(t *testing.T) {
	t.Parallel()
	double := func(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
		return args[0].(int64) * 2, nil
	}
	farm := drovertest.NewFarm(t, &drover.Config{Registry: drovertest.Registry(t, map[string]drover.Func{"double": double})})
	infos, err := farm.Engines(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != drovertest.DefaultEngines {
		t.Fatalf("%d engines, want %d", len(infos), drovertest.DefaultEngines)
	}
	task, err := drover.NewMapTask("double", []any{int64(21)}, nil, drover.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := farm.Run(t.Context(), task)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := farm.Result(t.Context(), id); v != int64(42) || err != nil {
		t.Fatalf("Result = %v, %v", v, err)
	}
}

// TestNewFarmInBubble: a farm in a synctest bubble runs on the bubble's
// clock: the 30-second idle timeout passes at once.
func TestNewFarmInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		farm := drovertest.NewFarm(t, &drover.Config{
			Engines: 1,
			Depend: func(*drover.Depend) (func(map[string]any) bool, error) {
				return func(map[string]any) bool { return false }, nil
			},
		})
		task, err := drover.NewStringTask("x = 1", nil, "x", drover.Options{Depend: &drover.Depend{Source: "never"}})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		id, err := farm.Run(t.Context(), task)
		if err != nil {
			t.Fatal(err)
		}
		_, err = farm.Result(t.Context(), id)
		if !errors.Is(err, drover.ErrTaskTimeout) || time.Since(start) != 30*time.Second {
			t.Fatalf("Result = %v after %v", err, time.Since(start))
		}
	})
}
