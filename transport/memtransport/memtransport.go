// Package memtransport is drover's in-memory transport: a controller and
// its engines in one process, exchanging transport messages as Go values
// (no encoding, no copying: see the ownership rule of package transport).
//
// A Hub connects one controller end with any number of engine ends. Every
// end has an inbox (a slice under a mutex plus a one-slot wake-up channel):
// Send appends and never blocks, Recv takes the whole inbox as one batch.
// No goroutine is started, neither per message nor per end.
package memtransport

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/drover-dev/drover/transport"
)

// Config configures a Hub. The zero value (or nil) is valid.
type Config struct {
	// Prefix starts every engine address: Prefix + "-" + a number from 1.
	// Default "mem".
	Prefix string
}

// Hub is an in-memory transport: one controller end, many engine ends. It
// is safe for concurrent use.
type Hub struct {
	prefix string
	ctrl   *controllerEnd
	next   atomic.Uint64

	mu      sync.RWMutex
	engines map[string]*engineEnd
}

// New returns a hub with its controller end open and no engines.
func New(cfg *Config) (*Hub, error) {
	prefix := "mem"
	if cfg != nil && cfg.Prefix != "" {
		prefix = cfg.Prefix
	}
	h := &Hub{prefix: prefix, engines: make(map[string]*engineEnd)}
	h.ctrl = &controllerEnd{hub: h, closed: make(chan struct{})}
	h.ctrl.in.init()
	return h, nil
}

// Controller returns the hub's controller end (the same one every time).
func (h *Hub) Controller() transport.ControllerEnd { return h.ctrl }

// NewEngine returns a new engine end with a fresh address. If the
// controller end is already closed, the engine end is closed too (its Recv
// and Send fail with transport.ErrClosed).
func (h *Hub) NewEngine() transport.EngineEnd {
	e := &engineEnd{hub: h, addr: h.prefix + "-" + strconv.FormatUint(h.next.Add(1), 10), closed: make(chan struct{})}
	e.in.init()
	h.mu.Lock()
	if h.ctrl.isClosed() {
		e.done = true
		close(e.closed)
	} else {
		h.engines[e.addr] = e
	}
	h.mu.Unlock()
	return e
}

// Engines returns the number of engine ends open.
func (h *Hub) Engines() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.engines)
}

// inbox is a queue of messages with a one-slot wake-up channel.
type inbox[T any] struct {
	mu   sync.Mutex
	msgs []T
	wake chan struct{}
}

func (in *inbox[T]) init() { in.wake = make(chan struct{}, 1) }

// signal wakes a waiting receiver (never blocks).
func (in *inbox[T]) signal() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// take returns every queued message, or nil.
func (in *inbox[T]) take() []T {
	in.mu.Lock()
	m := in.msgs
	in.msgs = nil
	in.mu.Unlock()
	return m
}

// recv waits for messages: it returns them, or ctx's error, or errClosed
// once closed is closed and nothing is queued.
func (in *inbox[T]) recv(ctx context.Context, closed <-chan struct{}, errClosed func() error) ([]T, error) {
	for {
		if m := in.take(); len(m) > 0 {
			return m, nil
		}
		select {
		case <-closed:
			if m := in.take(); len(m) > 0 {
				return m, nil
			}
			return nil, errClosed()
		default:
		}
		select {
		case <-in.wake:
		case <-closed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// controllerEnd is the hub's controller side.
type controllerEnd struct {
	hub    *Hub
	in     inbox[transport.FromEngine]
	once   sync.Once
	closed chan struct{}
}

func (c *controllerEnd) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *controllerEnd) Recv(ctx context.Context) ([]transport.FromEngine, error) {
	if c.isClosed() {
		return nil, fmt.Errorf("memtransport: controller recv: %w", transport.ErrClosed)
	}
	return c.in.recv(ctx, c.closed, func() error {
		return fmt.Errorf("memtransport: controller recv: %w", transport.ErrClosed)
	})
}

func (c *controllerEnd) Send(ctx context.Context, addr string, msgs ...transport.ToEngine) error {
	if len(msgs) == 0 {
		return fmt.Errorf("memtransport: send to %q: %w", addr, transport.ErrEmptySend)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memtransport: send to %q: %w", addr, err)
	}
	for i := range msgs {
		if n := countTo(&msgs[i]); n != 1 {
			return fmt.Errorf("memtransport: send to %q: message %d has %d fields set, want exactly 1", addr, i, n)
		}
	}
	if c.isClosed() {
		return fmt.Errorf("memtransport: send to %q: %w", addr, transport.ErrClosed)
	}
	c.hub.mu.RLock()
	e := c.hub.engines[addr]
	c.hub.mu.RUnlock()
	if e == nil {
		return fmt.Errorf("memtransport: send to %q: %w", addr, transport.ErrUnknownAddr)
	}
	e.in.mu.Lock()
	if e.done {
		e.in.mu.Unlock()
		if c.isClosed() {
			return fmt.Errorf("memtransport: send to %q: %w", addr, transport.ErrClosed)
		}
		return fmt.Errorf("memtransport: send to %q: %w", addr, transport.ErrUnknownAddr)
	}
	e.in.msgs = append(e.in.msgs, msgs...)
	e.in.mu.Unlock()
	e.in.signal()
	return nil
}

func (c *controllerEnd) Close() error {
	c.once.Do(func() {
		h := c.hub
		h.mu.Lock()
		close(c.closed)
		engines := h.engines
		h.engines = make(map[string]*engineEnd)
		h.mu.Unlock()
		for _, e := range engines {
			e.in.mu.Lock()
			e.done = true
			e.in.msgs = nil
			e.in.mu.Unlock()
		}
		c.in.mu.Lock()
		c.in.msgs = nil
		c.in.mu.Unlock()
	})
	return nil
}

// engineEnd is one engine's side.
type engineEnd struct {
	hub  *Hub
	addr string
	in   inbox[transport.ToEngine]
	// done (guarded by in.mu) is set by Close of either end.
	done   bool
	once   sync.Once
	closed chan struct{}
}

func (e *engineEnd) Addr() string { return e.addr }

func (e *engineEnd) errClosed(op string) error {
	return fmt.Errorf("memtransport: engine %s %s: %w", e.addr, op, transport.ErrClosed)
}

func (e *engineEnd) Recv(ctx context.Context) ([]transport.ToEngine, error) {
	e.in.mu.Lock()
	done := e.done
	e.in.mu.Unlock()
	if done {
		return nil, e.errClosed("recv")
	}
	// Closing either end closes this engine end's connection.
	ctrl := e.hub.ctrl.closed
	for {
		if m := e.in.take(); len(m) > 0 {
			return m, nil
		}
		select {
		case <-e.closed:
			return nil, e.errClosed("recv")
		case <-ctrl:
			return nil, e.errClosed("recv")
		default:
		}
		select {
		case <-e.in.wake:
		case <-e.closed:
		case <-ctrl:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (e *engineEnd) Send(ctx context.Context, msgs ...transport.FromEngine) error {
	if len(msgs) == 0 {
		return fmt.Errorf("memtransport: engine %s send: %w", e.addr, transport.ErrEmptySend)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memtransport: engine %s send: %w", e.addr, err)
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Lost != nil {
			return fmt.Errorf("memtransport: engine %s send: message %d: Lost is reserved to the transport", e.addr, i)
		}
		if n := countFrom(m); n != 1 {
			return fmt.Errorf("memtransport: engine %s send: message %d has %d fields set, want exactly 1", e.addr, i, n)
		}
	}
	c := e.hub.ctrl
	// e.in.mu orders this Send before a concurrent Close's Lost.
	e.in.mu.Lock()
	defer e.in.mu.Unlock()
	if e.done || c.isClosed() {
		return e.errClosed("send")
	}
	c.in.mu.Lock()
	n := len(c.in.msgs)
	c.in.msgs = append(c.in.msgs, msgs...)
	for i := n; i < len(c.in.msgs); i++ {
		c.in.msgs[i].From = e.addr
	}
	c.in.mu.Unlock()
	c.in.signal()
	return nil
}

func (e *engineEnd) Close() error {
	e.once.Do(func() {
		h := e.hub
		h.mu.Lock()
		delete(h.engines, e.addr)
		h.mu.Unlock()
		e.in.mu.Lock()
		wasOpen := !e.done
		e.done = true
		e.in.msgs = nil
		close(e.closed)
		if wasOpen {
			c := h.ctrl
			c.in.mu.Lock()
			if !c.isClosed() {
				c.in.msgs = append(c.in.msgs, transport.FromEngine{From: e.addr, Lost: &transport.Lost{Reason: "engine end closed"}})
			}
			c.in.mu.Unlock()
			c.in.signal()
		}
		e.in.mu.Unlock()
	})
	return nil
}

func countTo(m *transport.ToEngine) int {
	n := 0
	for _, set := range [...]bool{m.Registered != nil, m.Assign != nil, m.Cancel != nil, m.Call != nil, m.Shutdown != nil} {
		if set {
			n++
		}
	}
	return n
}

func countFrom(m *transport.FromEngine) int {
	n := 0
	for _, set := range [...]bool{m.Register != nil, m.Outcome != nil, m.Reply != nil, m.Props != nil, m.Bye != nil, m.Lost != nil} {
		if set {
			n++
		}
	}
	return n
}

var (
	_ transport.ControllerEnd = (*controllerEnd)(nil)
	_ transport.EngineEnd     = (*engineEnd)(nil)
)
