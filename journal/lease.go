package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultLeaseTTL is how long a leader's lease lasts without a refresh:
// longer than a JetStream cluster's leader election after a server crash
// (4-9 s with NATS's defaults), so that a leader rides one out.
const DefaultLeaseTTL = 10 * time.Second

// leaseKey is the key of the leader's lease in the lease bucket.
const leaseKey = "leader"

// ErrLeaseLost is the cause of Lease.Context's cancellation when the lease
// was lost (not refreshed in time, or taken by another holder).
var ErrLeaseLost = errors.New("controller lease lost")

// LeaseConfig configures a Lease. Zero fields take their defaults.
type LeaseConfig struct {
	// Prefix is the farm's subject prefix: the bucket is named after it
	// (P_lease), so one leader per prefix. Defaults to DefaultPrefix.
	Prefix string
	// Holder identifies this controller (its controller id, host and pid):
	// required.
	Holder string
	// TTL is how long the lease lasts without a refresh (at least 1 s); the
	// holder refreshes it every TTL/3, and a standby takes over at most
	// about TTL after the holder died. Defaults to DefaultLeaseTTL.
	TTL time.Duration
	// Replicas is the bucket's replica count (3 on a cluster). Defaults to 1.
	Replicas int
	// Logger receives the lease's diagnostics. Defaults to discarding.
	Logger *slog.Logger
}

// Lease is the leadership of one controller among those started on the
// same prefix against the same NATS system: a key in a JetStream key-value
// bucket whose entries expire after TTL (with expiry markers, so standbys
// see the expiry at once). The leader refreshes it (a compare-and-set on
// its revision) every TTL/3; a standby waits in Acquire. A controller
// serves its control API only while it holds the lease, and stops (fail
// stop) when Context is cancelled.
//
// A Lease is safe for concurrent use.
type Lease struct {
	cfg LeaseConfig
	log *slog.Logger
	kv  jetstream.KeyValue

	mu     sync.Mutex
	rev    uint64 // revision of our entry; 0 when not held
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   chan struct{}
	wg     sync.WaitGroup
}

// OpenLease opens (creating if needed) the lease bucket of cfg.Prefix.
func OpenLease(ctx context.Context, nc *nats.Conn, cfg *LeaseConfig) (*Lease, error) {
	var c LeaseConfig
	if cfg != nil {
		c = *cfg
	}
	if nc == nil {
		return nil, fmt.Errorf("open lease: nil NATS connection")
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Holder == "" {
		return nil, fmt.Errorf("open lease: LeaseConfig.Holder is empty")
	}
	switch {
	case c.TTL == 0:
		c.TTL = DefaultLeaseTTL
	case c.TTL < time.Second:
		return nil, fmt.Errorf("open lease: LeaseConfig.TTL is %v, want 0 (default) or >= 1s", c.TTL)
	}
	switch {
	case c.Replicas < 0 || c.Replicas > 5:
		return nil, fmt.Errorf("open lease: LeaseConfig.Replicas is %d, want 0 (default 1) to 5", c.Replicas)
	case c.Replicas == 0:
		c.Replicas = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open lease: %w", err)
	}
	bucket := streamName(c.Prefix, "lease")
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         bucket,
		Description:    "drover controller lease",
		History:        1,
		TTL:            c.TTL,
		LimitMarkerTTL: c.TTL,
		Storage:        jetstream.FileStorage,
		Replicas:       c.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open lease bucket %s: %w", bucket, err)
	}
	return &Lease{cfg: c, log: c.Logger, kv: kv}, nil
}

// Holder returns who holds the lease now ("" if nobody).
func (l *Lease) Holder(ctx context.Context) (string, error) {
	e, err := l.kv.Get(ctx, leaseKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("lease holder: %w", err)
	}
	return string(e.Value()), nil
}

// Acquire waits until this controller holds the lease (or ctx ends, or the
// lease is already held by this Lease: an error), then refreshes it in the
// background until Release or until it is lost. It returns a context that
// is cancelled, with cause ErrLeaseLost, when the lease is lost: the
// caller must stop serving then.
func (l *Lease) Acquire(ctx context.Context) (context.Context, error) {
	l.mu.Lock()
	held := l.rev != 0
	l.mu.Unlock()
	if held {
		return nil, fmt.Errorf("acquire lease: already held")
	}
	w, err := l.kv.Watch(ctx, leaseKey, jetstream.UpdatesOnly())
	if err != nil {
		return nil, fmt.Errorf("acquire lease: %w", err)
	}
	defer func() { _ = w.Stop() }()
	// A fallback in case an expiry marker is missed: try again every TTL.
	retry := time.NewTimer(l.cfg.TTL)
	defer retry.Stop()
	for {
		rev, err := l.kv.Create(ctx, leaseKey, []byte(l.cfg.Holder))
		if err == nil {
			return l.start(rev), nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("acquire lease: %w", err)
		}
		l.log.Debug("lease: held by another controller; waiting")
	wait:
		for {
			select {
			case e, ok := <-w.Updates():
				if !ok {
					return nil, fmt.Errorf("acquire lease: watcher stopped")
				}
				if e != nil && e.Operation() == jetstream.KeyValuePut {
					continue // refreshed by its holder
				}
				break wait
			case <-retry.C:
				retry.Reset(l.cfg.TTL)
				break wait
			case <-ctx.Done():
				return nil, fmt.Errorf("acquire lease: %w", ctx.Err())
			}
		}
	}
}

// start records the lease as held and starts its refresher.
func (l *Lease) start(rev uint64) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rev = rev
	l.ctx, l.cancel = context.WithCancelCause(context.Background())
	l.stop = make(chan struct{})
	stop, ctx := l.stop, l.ctx
	l.wg.Go(func() { l.refresh(stop) })
	return ctx
}

// refresh renews the lease every TTL/3 until stop is closed or the lease
// is lost: another holder has it (the renewal's revision check fails), or
// no renewal succeeded for nearly TTL. A renewal that fails for another
// reason (NATS unreachable for a moment, a stream leader being elected
// after a server died) is tried again, every TTL/12, while the last
// successful one still holds the lease: the holder gives it up (its
// context ends) a margin of TTL/10 before a standby could take it, so two
// controllers never serve one prefix.
func (l *Lease) refresh(stop <-chan struct{}) {
	every := l.cfg.TTL / 3
	retry := l.cfg.TTL / 12
	margin := l.cfg.TTL / 10
	lastOK := time.Now() // the lease was just taken or renewed
	t := time.NewTimer(every)
	defer t.Stop()
	lose := func(err error) {
		l.log.Warn("lease: lost", "holder", l.cfg.Holder, "err", err)
		l.mu.Lock()
		l.rev = 0
		l.cancel(fmt.Errorf("%w: %w", ErrLeaseLost, err))
		l.mu.Unlock()
	}
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		rev := l.rev
		l.mu.Unlock()
		sent := time.Now()
		deadline := lastOK.Add(l.cfg.TTL - margin)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		next, err := l.kv.Update(ctx, leaseKey, []byte(l.cfg.Holder), rev)
		cancel()
		switch {
		case err == nil:
			// The server stored it after sent: it expires no earlier
			// than sent + TTL.
			lastOK = sent
			l.mu.Lock()
			l.rev = next
			l.mu.Unlock()
			t.Reset(every)
		case isWrongLastSeq(err), errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyNotFound),
			errors.Is(err, jetstream.ErrKeyDeleted):
			lose(err) // another holder, or the entry expired
			return
		case time.Until(deadline) <= retry:
			lose(fmt.Errorf("no renewal for %v: %w", time.Since(lastOK).Round(time.Millisecond), err))
			return
		default:
			l.log.Warn("lease: renewal failed, trying again", "holder", l.cfg.Holder, "err", err, "held_for", time.Until(deadline).Round(time.Millisecond))
			t.Reset(retry)
		}
	}
}

// Release stops refreshing the lease and gives it up at once (a standby
// takes over without waiting for the TTL). Releasing a lease not held is
// a no-op.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	rev, stop, cancel := l.rev, l.stop, l.cancel
	l.rev, l.stop = 0, nil
	l.mu.Unlock()
	if stop != nil {
		close(stop)
	}
	l.wg.Wait()
	if cancel != nil {
		cancel(fmt.Errorf("%w: released", ErrLeaseLost))
	}
	if rev == 0 {
		return nil
	}
	if err := l.kv.Delete(ctx, leaseKey, jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}

// Abandon stops refreshing without giving the lease up, as a crashed
// holder would: a standby takes over when the TTL has passed. For tests
// and for a controller that must stop without touching NATS.
func (l *Lease) Abandon() {
	l.mu.Lock()
	stop, cancel := l.stop, l.cancel
	l.rev, l.stop = 0, nil
	l.mu.Unlock()
	if stop != nil {
		close(stop)
	}
	l.wg.Wait()
	if cancel != nil {
		cancel(fmt.Errorf("%w: abandoned", ErrLeaseLost))
	}
}
