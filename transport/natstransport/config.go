package natstransport

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport/wire"
)

// Defaults of Config.
const (
	// DefaultPrefix starts every subject of the transport.
	DefaultPrefix = "drover"
	// DefaultHeartbeatInterval is how often an engine end says it is alive.
	DefaultHeartbeatInterval = time.Second
	// DefaultMissedHeartbeats is how many heartbeat intervals the controller
	// end waits without hearing from an engine before it reports it lost.
	DefaultMissedHeartbeats = 3
	// DefaultMaxBacklog is how many received messages a controller end
	// holds for Recv before it sheds load (see the package doc).
	DefaultMaxBacklog = 1 << 16
	// fallbackMaxPayload is the message limit when the connection does not
	// know the server's (not connected yet): NATS's default max_payload.
	fallbackMaxPayload = 1 << 20
	// DefaultResendFrames is how many data frames an end keeps, sent and
	// not acknowledged yet, to send them again if they were lost.
	DefaultResendFrames = 1024
	// DefaultResendBytes is how many bytes of such frames an end keeps.
	DefaultResendBytes = 4 << 20
	// maxKeyLen bounds an engine key.
	maxKeyLen = 256
)

// Config configures a transport end. The zero value (or nil) is valid for
// a controller end; an engine end needs Key. Zero fields take their
// documented defaults. Both ends of one transport must agree on Prefix and
// HeartbeatInterval.
type Config struct {
	// Prefix starts every subject: Prefix.eng.<key>.in (controller →
	// engine) and Prefix.ctl.eng.<key> (engine → controller). One
	// controller per prefix. Default DefaultPrefix.
	Prefix string
	// Key is the engine's identity (engine end only): one subject token
	// (no '.', '*', '>', spaces or control characters), at most 256 bytes.
	// It is the engine end's address and what the controller end reports
	// in FromEngine.From. The fabric gives each engine connection its own
	// key and permissions that confine it to its subjects.
	Key string
	// HeartbeatInterval is how often an engine end sends a heartbeat.
	// Default DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// MissedHeartbeats is how many intervals the controller end waits
	// without a frame from an engine before it reports the engine lost.
	// Default DefaultMissedHeartbeats.
	MissedHeartbeats int
	// MaxMessageSize bounds one NATS message (a frame) in bytes. Default
	// (and maximum): the server's max_payload as the connection knows it.
	MaxMessageSize int
	// MaxBacklog bounds the messages a controller end holds for Recv.
	// Default DefaultMaxBacklog.
	MaxBacklog int
	// ResendFrames and ResendBytes bound the data frames each end keeps
	// per session, sent but not acknowledged by the other side yet, so as
	// to send them again when the other side asks (see the package doc):
	// past either bound the oldest are dropped, and a loss among those
	// ends the session. A frame larger than ResendBytes alone is not kept.
	// Defaults DefaultResendFrames and DefaultResendBytes.
	ResendFrames int
	ResendBytes  int
	// Logger receives diagnostics: frames dropped (malformed, from an
	// unknown engine, out of sequence), sessions reset, engines lost.
	// Default: discard.
	Logger *slog.Logger
}

// config is a Config with defaults applied.
type config struct {
	prefix   string
	key      string
	interval time.Duration
	missed   int
	maxSize  int
	backlog  int
	// resendFrames, resendBytes bound the resend buffer of a session.
	resendFrames, resendBytes int
	// nackEvery is the least time between two resend requests for the
	// same frame (and, halved, between two resends of it).
	nackEvery time.Duration
	// gapLimit is how long a receiver waits for missing frames before it
	// gives the session up.
	gapLimit time.Duration
	log      *slog.Logger
	codec    *wire.Codec
}

func resolve(op string, nc *nats.Conn, cfg *Config, engine bool) (*config, error) {
	if nc == nil {
		return nil, fmt.Errorf("natstransport: %s: nil NATS connection", op)
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	r := &config{prefix: c.Prefix, key: c.Key, interval: c.HeartbeatInterval, missed: c.MissedHeartbeats,
		maxSize: c.MaxMessageSize, backlog: c.MaxBacklog, log: c.Logger,
		resendFrames: c.ResendFrames, resendBytes: c.ResendBytes}
	if r.prefix == "" {
		r.prefix = DefaultPrefix
	}
	if err := checkPrefix(r.prefix); err != nil {
		return nil, fmt.Errorf("natstransport: %s: Config.Prefix %q: %w", op, r.prefix, err)
	}
	if engine {
		if err := checkKey(r.key); err != nil {
			return nil, fmt.Errorf("natstransport: %s: Config.Key %q: %w", op, r.key, err)
		}
	}
	switch {
	case r.interval == 0:
		r.interval = DefaultHeartbeatInterval
	case r.interval < time.Millisecond:
		return nil, fmt.Errorf("natstransport: %s: Config.HeartbeatInterval is %v, want 0 (default) or >= 1ms", op, r.interval)
	}
	switch {
	case r.missed < 0:
		return nil, fmt.Errorf("natstransport: %s: Config.MissedHeartbeats is %d, want >= 0", op, r.missed)
	case r.missed == 0:
		r.missed = DefaultMissedHeartbeats
	}
	serverMax := int(nc.MaxPayload())
	if serverMax <= 0 {
		serverMax = fallbackMaxPayload
	}
	switch {
	case r.maxSize < 0:
		return nil, fmt.Errorf("natstransport: %s: Config.MaxMessageSize is %d, want >= 0", op, r.maxSize)
	case r.maxSize == 0:
		r.maxSize = serverMax
	case r.maxSize > serverMax:
		return nil, fmt.Errorf("natstransport: %s: Config.MaxMessageSize is %d, over the server's max_payload of %d", op, r.maxSize, serverMax)
	case r.maxSize < 1024:
		return nil, fmt.Errorf("natstransport: %s: Config.MaxMessageSize is %d, want >= 1024", op, r.maxSize)
	}
	switch {
	case r.backlog < 0:
		return nil, fmt.Errorf("natstransport: %s: Config.MaxBacklog is %d, want >= 0", op, r.backlog)
	case r.backlog == 0:
		r.backlog = DefaultMaxBacklog
	}
	switch {
	case r.resendFrames < 0:
		return nil, fmt.Errorf("natstransport: %s: Config.ResendFrames is %d, want >= 0", op, r.resendFrames)
	case r.resendFrames == 0:
		r.resendFrames = DefaultResendFrames
	}
	switch {
	case r.resendBytes < 0:
		return nil, fmt.Errorf("natstransport: %s: Config.ResendBytes is %d, want >= 0", op, r.resendBytes)
	case r.resendBytes == 0:
		r.resendBytes = DefaultResendBytes
	}
	r.nackEvery = max(r.interval/4, time.Millisecond)
	r.gapLimit = 2 * time.Duration(r.missed) * r.interval
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	codec, err := wire.New(&wire.Limits{MaxSize: r.maxSize})
	if err != nil {
		return nil, fmt.Errorf("natstransport: %s: %w", op, err)
	}
	r.codec = codec
	return r, nil
}

// checkKey reports whether k can be an engine key: one subject token.
func checkKey(k string) error {
	switch {
	case k == "":
		return fmt.Errorf("empty (an engine end needs its key)")
	case len(k) > maxKeyLen:
		return fmt.Errorf("%d bytes, over %d", len(k), maxKeyLen)
	}
	for _, r := range k {
		if r == '.' || r == '*' || r == '>' || unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("holds %q: a key is one NATS subject token", r)
		}
	}
	return nil
}

// checkPrefix reports whether p can start subjects: dot-separated tokens.
func checkPrefix(p string) error {
	for _, tok := range strings.Split(p, ".") {
		if err := checkKey(tok); err != nil {
			return fmt.Errorf("token %q: %w", tok, err)
		}
	}
	return nil
}

// flushTimeout bounds the flush of a new end's subscription when the ctx
// given has no deadline.
const flushTimeout = 10 * time.Second

// flush makes sure the server has processed what nc sent (the
// subscription of a new end).
func flush(ctx context.Context, nc *nats.Conn) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, flushTimeout)
		defer cancel()
	}
	return nc.FlushWithContext(ctx)
}

func engineSubject(prefix, key string) string { return prefix + ".eng." + key + ".in" }
func controllerSubject(prefix, key string) string {
	return prefix + ".ctl.eng." + key
}

// Stats counts what a transport end did. All counters only grow.
type Stats struct {
	FramesOut   uint64 // NATS messages published (data frames, not counting those sent again)
	MsgsOut     uint64 // transport messages in them
	FramesIn    uint64 // data frames accepted
	MsgsIn      uint64 // transport messages in them
	Heartbeats  uint64 // heartbeats sent (engine) or received (controller)
	Dropped     uint64 // frames dropped: malformed, unknown session, out of sequence, duplicate, backlog full, bogus nack
	Nacks       uint64 // resend requests sent (frames missing)
	Resent      uint64 // data frames sent again (asked for by the other side)
	Resets      uint64 // sessions reset (gap not repaired, unknown session, loss)
	Lost        uint64 // engines reported lost (controller)
	TooLarge    uint64 // messages refused or replaced because they were over MaxMessageSize
	SendErrors  uint64 // failed publishes
	Reconnected uint64 // reconnections of the NATS connection seen
}

type stats struct {
	framesOut, msgsOut, framesIn, msgsIn, heartbeats, dropped, nacks, resent, resets, lost, tooLarge, sendErrors, reconnected atomic.Uint64
}

func (s *stats) snapshot() Stats {
	return Stats{
		FramesOut: s.framesOut.Load(), MsgsOut: s.msgsOut.Load(), FramesIn: s.framesIn.Load(), MsgsIn: s.msgsIn.Load(),
		Heartbeats: s.heartbeats.Load(), Dropped: s.dropped.Load(), Nacks: s.nacks.Load(), Resent: s.resent.Load(),
		Resets: s.resets.Load(), Lost: s.lost.Load(),
		TooLarge: s.tooLarge.Load(), SendErrors: s.sendErrors.Load(), Reconnected: s.reconnected.Load(),
	}
}

// logLimit bounds the log lines about dropped frames (hostile input must
// not flood the log): at most logBurst per second, then one line saying
// how many were suppressed.
type logLimit struct {
	mu         sync.Mutex
	window     time.Time
	n          int
	suppressed int
}

const logBurst = 20

// drop logs a dropped frame, rate-limited.
func (l *logLimit) drop(log *slog.Logger, msg string, args ...any) {
	now := time.Now()
	l.mu.Lock()
	if now.Sub(l.window) >= time.Second {
		if l.suppressed > 0 {
			defer log.Warn("natstransport: more frames dropped (log lines suppressed)", "count", l.suppressed)
		}
		l.window, l.n, l.suppressed = now, 0, 0
	}
	if l.n >= logBurst {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.n++
	l.mu.Unlock()
	log.Warn(msg, args...)
}

// tooLargeError is the failure that replaces an Assign, Call, Outcome or
// Reply that does not fit in one NATS message.
func tooLargeError(what string, size, limit int) *drovertype.TaskError {
	return drovertype.NewTaskError(drovertype.InvalidArgument, "MessageTooLarge", fmt.Sprintf(
		"%s is %d bytes encoded, over the NATS message limit of %d bytes (the server's max_payload); "+
			"task data that large cannot go over NATS yet", what, size, limit))
}
