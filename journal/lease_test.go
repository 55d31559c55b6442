package journal_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/journal"
)

func openLease(t *testing.T, s *natsServer, holder string) *journal.Lease {
	t.Helper()
	l, err := journal.OpenLease(t.Context(), s.nc, &journal.LeaseConfig{Holder: holder, TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Release(context.Background()) })
	return l
}

// TestLeaseHandover: a standby waits while the leader holds the lease and
// takes it when the leader releases it.
func TestLeaseHandover(t *testing.T) {
	t.Parallel()
	s := startNATS(t, t.TempDir(), 0)
	a, b := openLease(t, s, "a"), openLease(t, s, "b")
	actx, err := a.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if h, err := b.Holder(t.Context()); h != "a" || err != nil {
		t.Fatalf("Holder = %q, %v; want a", h, err)
	}
	// The standby waits, across several of the leader's refreshes.
	short, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("standby Acquire = %v while the leader holds the lease", err)
	}
	if actx.Err() != nil {
		t.Fatalf("leader lost its lease while refreshing it: %v", context.Cause(actx))
	}
	got := make(chan error, 1)
	go func() {
		_, err := b.Acquire(t.Context())
		got <- err
	}()
	if err := a.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(context.Cause(actx), journal.ErrLeaseLost) {
		t.Errorf("after Release, the leader's context: %v", context.Cause(actx))
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if h, _ := a.Holder(t.Context()); h != "b" {
		t.Errorf("Holder = %q after the handover, want b", h)
	}
}

// TestLeaseExpiry: a leader that stops refreshing (a crash) loses the
// lease after its TTL, and the standby takes over; a leader whose lease
// was taken finds out at its next refresh.
func TestLeaseExpiry(t *testing.T) {
	t.Parallel()
	s := startNATS(t, t.TempDir(), 0)
	a, b, c := openLease(t, s, "a"), openLease(t, s, "b"), openLease(t, s, "c")
	if _, err := a.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	a.Abandon()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	bctx, err := b.Acquire(ctx)
	if err != nil {
		t.Fatalf("standby did not take over an abandoned lease: %v", err)
	}
	// Someone removes b's entry behind its back (as if it had expired
	// while b was paused) and c takes the lease: b's next refresh fails.
	js, err := jetstream.New(s.nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(t.Context(), "drover_lease")
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(t.Context(), "leader"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bctx.Done():
		if !errors.Is(context.Cause(bctx), journal.ErrLeaseLost) {
			t.Errorf("cause %v", context.Cause(bctx))
		}
	case <-ctx.Done():
		t.Fatal("the old leader did not notice it lost the lease")
	}
}
