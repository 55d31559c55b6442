package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport/wire"
)

// Defaults of Config's fields.
const (
	// DefaultPrefix is the subject prefix (fabric's default).
	DefaultPrefix = "drover"
	// DefaultIDBlock is how many task ids one durable id reservation
	// covers: a restart skips at most this many ids (one durable write per
	// 1,024 tasks costs nothing measurable).
	DefaultIDBlock = 1024
	// DefaultTombstoneTTL is how long the marker of a finished task stays
	// in the task stream (JetStream's minimum per-message TTL is 1 s).
	DefaultTombstoneTTL = time.Second
	// DefaultMaxPending is how many asynchronous writes may wait for
	// JetStream's acknowledgement at once.
	DefaultMaxPending = 1 << 15
	// DefaultWriteTimeout bounds the wait for one write's acknowledgement.
	DefaultWriteTimeout = 30 * time.Second
)

// dupWindow is the streams' duplicate window: the journal does not use
// message ids, and a server (re)starting loads every message of the window
// to rebuild its duplicate table (2 minutes by default: millions of
// messages after a crash under load), so the smallest JetStream allows.
const dupWindow = 100 * time.Millisecond

// Header names and values of the journal's records.
const (
	hdrTomb = "Drover-Tomb"
	hdrTTL  = "Nats-TTL"
)

// Config configures a Journal. The zero value of each field means its
// documented default; Open copies it.
type Config struct {
	// Prefix is the subject prefix of the farm; the journal's subjects are
	// Prefix.j.> and its streams are named after it, so farms with
	// different prefixes on one NATS system do not clash. Defaults to
	// DefaultPrefix.
	Prefix string
	// Replicas is the streams' replica count: 1 on a single server (the
	// embedded one), 3 on a cluster. Defaults to 1.
	Replicas int
	// MaxAge drops results older than this (stream retention). Defaults to
	// 0: no age limit.
	MaxAge time.Duration
	// MaxResults keeps at most this many results (the oldest go first).
	// Defaults to 0: no limit.
	MaxResults int64
	// IDBlock is how many ids one durable reservation covers. Defaults to
	// DefaultIDBlock.
	IDBlock int64
	// TombstoneTTL is how long a finished task's marker stays in the task
	// stream (at least 1 s). Defaults to DefaultTombstoneTTL.
	TombstoneTTL time.Duration
	// MaxPending bounds the writes waiting for acknowledgement. Defaults to
	// DefaultMaxPending.
	MaxPending int
	// WriteTimeout bounds the wait for one write's acknowledgement.
	// Defaults to DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxObject is the largest encoded result the journal keeps in its
	// object store (results over the NATS payload limit go there); a
	// larger one is kept as a failure ResultTooLarge that says so.
	// Defaults to DefaultMaxObject.
	MaxObject int
	// Dir names where the journal lives (the JetStream store directory),
	// for messages and Where. Optional.
	Dir string
	// Logger receives the journal's diagnostics. Defaults to discarding.
	Logger *slog.Logger
}

// Journal is drover's durable controller state in JetStream: it
// implements controller.Journal. Two streams and an object store, named
// after the prefix P (dots become underscores):
//
//   - P_tasks, subjects P.j.t.<id> (one record per subject): the accepted
//     task's definition (CBOR, as the wire codec encodes tasks), replaced
//     by a tombstone with a per-message TTL once the task's result is
//     durable, so a restart reads only the unfinished tasks and the recent
//     tombstones; and P.j.m.meta (format version, prefix), P.j.m.ids
//     (the id reservation) and P.j.m.done (the low watermark: the tasks
//     below it are settled, their records ignored by Recover).
//   - P_results, subjects P.j.r.s.<id> (succeeded) and P.j.r.f.<id>
//     (failed), direct get allowed: one result per task, written with an
//     expected last sequence of 0 over P.j.r.*.<id>, so a second result for
//     the same id is refused (the first one wins). Retention: Config.MaxAge
//     and MaxResults.
//   - the object store P_objects: results over the NATS payload limit,
//     pointed to by their result record (see the package documentation).
//
// A Journal is safe for concurrent use. Open it, hand it to
// controller.Config.Journal, and Close it after the controller stopped.
type Journal struct {
	cfg     Config
	log     *slog.Logger
	nc      *nats.Conn
	js      jetstream.JetStream
	codec   *wire.Codec
	tasks   jetstream.Stream
	results jetstream.Stream
	where   string // for messages: "journal at DIR" or "journal for prefix P"

	subjTask    string // P.j.t.
	subjMeta    string // P.j.m.meta
	subjIDs     string // P.j.m.ids
	subjMark    string // P.j.m.done (the watermark)
	subjOK      string // P.j.r.s.
	subjFail    string // P.j.r.f.
	subjRes     string // P.j.r.*.
	subjBarrier string // P.j.r.b.barrier (never P.j.r.*.<id>)
	tombTTL     string
	maxResult   int // largest encoded result kept as is

	rcodec    *wire.Codec           // results: limit max(MaxObject, maxResult)
	bucket    string                // the object store of large results
	objects   jetstream.ObjectStore // bucket
	objStream jetstream.Stream      // bucket's stream (purges)

	bmu     sync.Mutex
	batches []*batch          // task messages with unsettled tasks, by id
	hiID    drovertype.TaskID // the id after the last task message appended
	floor   uint64            // task stream sequence at or below every unsettled task message

	// The watermark record (see markLoop), guarded by markMu.
	markMu    sync.Mutex
	markW     drovertype.TaskID // last written: every task below is settled
	markStart uint64            // last written: scan start in the task stream
	markSeq   uint64            // stream sequence of the last record (0: none)
	markWake  chan struct{}     // the watermark may have advanced
	ackDone   chan struct{}     // closed when the acker returned

	lastResultSeq uint64 // the result stream's last sequence at Open

	idMu  sync.Mutex
	idSeq uint64 // stream sequence of the last id record (0: none)

	mu          sync.Mutex
	pend        []finished // results handed over, not yet written
	outstanding int        // results handed over and not settled
	zero        chan struct{}
	closed      bool
	writeErr    error // the last write failure, reported by Flush

	notify func([]drovertype.TaskID) // set by Notify; guarded by mu

	wake   chan struct{}
	stop   chan struct{}
	hard   chan struct{}
	acks   chan group
	closeO sync.Once
	hardO  sync.Once
	// life is cancelled by a hard close: it bounds the look-ups of the
	// acker.
	life    context.Context
	endLife context.CancelFunc
	wg      sync.WaitGroup
}

// finished is a result waiting to be written.
type finished struct {
	id     drovertype.TaskID
	value  any
	err    *drovertype.TaskError
	failed bool
}

var _ controller.Journal = (*Journal)(nil)

// Open opens (creating if needed) the journal of cfg.Prefix on nc's
// JetStream, checks that what is there is a drover journal of this prefix
// and format (refusing it otherwise, with an error matching ErrForeign),
// and starts its writers. The caller keeps nc, and closes it after Close.
func Open(ctx context.Context, nc *nats.Conn, cfg *Config) (*Journal, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if nc == nil {
		return nil, fmt.Errorf("open journal: nil NATS connection")
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(c.Prefix, "*> \t\r\n") || strings.HasPrefix(c.Prefix, ".") || strings.HasSuffix(c.Prefix, ".") || strings.Contains(c.Prefix, "..") {
		return nil, fmt.Errorf("open journal: Config.Prefix %q is not a valid subject prefix", c.Prefix)
	}
	switch {
	case c.Replicas < 0 || c.Replicas > 5:
		return nil, fmt.Errorf("open journal: Config.Replicas is %d, want 0 (default 1) to 5", c.Replicas)
	case c.Replicas == 0:
		c.Replicas = 1
	}
	if c.MaxAge < 0 {
		return nil, fmt.Errorf("open journal: Config.MaxAge is %v, want >= 0", c.MaxAge)
	}
	if c.MaxResults < 0 {
		return nil, fmt.Errorf("open journal: Config.MaxResults is %d, want >= 0", c.MaxResults)
	}
	switch {
	case c.IDBlock < 0:
		return nil, fmt.Errorf("open journal: Config.IDBlock is %d, want >= 0", c.IDBlock)
	case c.IDBlock == 0:
		c.IDBlock = DefaultIDBlock
	}
	switch {
	case c.TombstoneTTL == 0:
		c.TombstoneTTL = DefaultTombstoneTTL
	case c.TombstoneTTL < time.Second:
		return nil, fmt.Errorf("open journal: Config.TombstoneTTL is %v, want 0 (default) or >= 1s", c.TombstoneTTL)
	}
	switch {
	case c.MaxPending < 0:
		return nil, fmt.Errorf("open journal: Config.MaxPending is %d, want >= 0", c.MaxPending)
	case c.MaxPending == 0:
		c.MaxPending = DefaultMaxPending
	}
	switch {
	case c.WriteTimeout < 0:
		return nil, fmt.Errorf("open journal: Config.WriteTimeout is %v, want >= 0", c.WriteTimeout)
	case c.WriteTimeout == 0:
		c.WriteTimeout = DefaultWriteTimeout
	}
	switch {
	case c.MaxObject < 0:
		return nil, fmt.Errorf("open journal: Config.MaxObject is %d, want >= 0", c.MaxObject)
	case c.MaxObject == 0:
		c.MaxObject = DefaultMaxObject
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	j := &Journal{
		cfg:         c,
		log:         c.Logger,
		nc:          nc,
		subjTask:    c.Prefix + ".j.t.",
		subjMeta:    c.Prefix + ".j.m.meta",
		subjIDs:     c.Prefix + ".j.m.ids",
		subjMark:    c.Prefix + ".j.m.done",
		subjOK:      c.Prefix + ".j.r.s.",
		subjFail:    c.Prefix + ".j.r.f.",
		subjRes:     c.Prefix + ".j.r.*.",
		subjBarrier: c.Prefix + ".j.r.b.barrier",
		tombTTL:     c.TombstoneTTL.String(),
		wake:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
		hard:        make(chan struct{}),
		acks:        make(chan group, 64),
		markWake:    make(chan struct{}, 1),
		ackDone:     make(chan struct{}),
	}
	j.where = "journal for prefix " + c.Prefix
	if c.Dir != "" {
		j.where = "journal at " + c.Dir
	}
	inline := int(nc.MaxPayload()) - 1024 // room for the headers
	if inline < 1024 {
		inline = wire.DefaultMaxSize
	}
	j.maxResult = inline
	var err error
	if j.codec, err = wire.New(&wire.Limits{MaxSize: inline}); err != nil {
		return nil, fmt.Errorf("open %s: %w", j.where, err)
	}
	if j.rcodec, err = wire.New(&wire.Limits{MaxSize: max(c.MaxObject, inline)}); err != nil {
		return nil, fmt.Errorf("open %s: %w", j.where, err)
	}
	j.js, err = jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(c.MaxPending),
		jetstream.WithPublishAsyncTimeout(c.WriteTimeout),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			j.log.Debug("journal: write failed", "subject", m.Subject, "err", err)
		}))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", j.where, err)
	}
	if err := j.setup(ctx); err != nil {
		return nil, fmt.Errorf("open %s: %w", j.where, err)
	}
	j.life, j.endLife = context.WithCancel(context.Background())
	j.wg.Add(3)
	go j.writer()
	go j.acker()
	go j.markLoop()
	return j, nil
}

// streamName derives a stream name from the prefix.
func streamName(prefix, what string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, prefix) + "_" + what
}

// setup creates or checks the streams and the metadata record.
func (j *Journal) setup(ctx context.Context) error {
	c := &j.cfg
	tcfg := jetstream.StreamConfig{
		Name:              streamName(c.Prefix, "tasks"),
		Description:       "drover journal: accepted tasks (format 1)",
		Subjects:          []string{j.subjTask + "*", c.Prefix + ".j.m.*"},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		AllowMsgTTL:       true,
		AllowDirect:       true,
		Duplicates:        dupWindow,
		Replicas:          c.Replicas,
	}
	rcfg := jetstream.StreamConfig{
		Name:              streamName(c.Prefix, "results"),
		Description:       "drover journal: task results (format 1)",
		Subjects:          []string{c.Prefix + ".j.r.*.*"},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		MaxAge:            c.MaxAge,
		MaxMsgs:           c.MaxResults + 1, // and the barrier
		AllowDirect:       true,
		Duplicates:        dupWindow,
		Replicas:          c.Replicas,
	}
	if c.MaxResults == 0 {
		rcfg.MaxMsgs = -1
	}
	var existed bool
	var err error
	if j.tasks, existed, err = j.stream(ctx, tcfg, false); err != nil {
		return err
	}
	if j.results, _, err = j.stream(ctx, rcfg, true); err != nil {
		return err
	}
	rinfo, err := j.results.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", rcfg.Name, err)
	}
	j.lastResultSeq = rinfo.State.LastSeq
	if err := j.setupObjects(ctx); err != nil {
		return err
	}
	m, err := j.tasks.GetLastMsgForSubject(ctx, j.subjMeta)
	switch {
	case err == nil:
		if _, err := decodeMeta(m.Data, c.Prefix); err != nil {
			return err
		}
		return nil
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		return fmt.Errorf("read metadata record: %w", err)
	}
	if existed {
		info, err := j.tasks.Info(ctx)
		if err != nil {
			return fmt.Errorf("stream %s: %w", tcfg.Name, err)
		}
		if info.State.Msgs > 0 {
			return fmt.Errorf("stream %s holds %d messages but no metadata record: %w", tcfg.Name, info.State.Msgs, ErrForeign)
		}
	}
	data := []byte(fmt.Sprintf(`{"kind":%q,"format":%d,"prefix":%q,"created":%q}`,
		metaKind, FormatVersion, c.Prefix, time.Now().UTC().Format(time.RFC3339)))
	if _, err := j.js.Publish(ctx, j.subjMeta, data, jetstream.WithExpectLastSequencePerSubject(0)); err != nil {
		return fmt.Errorf("write metadata record: %w", err)
	}
	return nil
}

// stream creates the stream of cfg, or checks the existing one (and, with
// update, applies cfg's limits to it). existed reports whether it was
// there.
func (j *Journal) stream(ctx context.Context, cfg jetstream.StreamConfig, update bool) (s jetstream.Stream, existed bool, err error) {
	s, err = j.js.Stream(ctx, cfg.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		s, err = j.js.CreateStream(ctx, cfg)
		if err != nil {
			return nil, false, fmt.Errorf("create stream %s: %w", cfg.Name, err)
		}
		return s, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("stream %s: %w", cfg.Name, err)
	}
	have := s.CachedInfo().Config
	if !slices.Equal(have.Subjects, cfg.Subjects) || have.MaxMsgsPerSubject != 1 || have.AllowMsgTTL != cfg.AllowMsgTTL {
		return nil, true, fmt.Errorf("stream %s exists with subjects %q (want %q): %w", cfg.Name, have.Subjects, cfg.Subjects, ErrForeign)
	}
	if (update && (have.MaxAge != cfg.MaxAge || have.MaxMsgs != cfg.MaxMsgs)) || have.Duplicates != cfg.Duplicates {
		if s, err = j.js.UpdateStream(ctx, cfg); err != nil {
			return nil, true, fmt.Errorf("update stream %s retention: %w", cfg.Name, err)
		}
	}
	return s, true, nil
}

// Where names the journal for messages and status lines: "journal at DIR"
// (Config.Dir) or "journal for prefix P".
func (j *Journal) Where() string { return j.where }

// Close writes what was handed over (waiting at most until ctx ends) and
// stops the journal's goroutines. It does not close the NATS connection.
// Closing twice is safe.
func (j *Journal) Close(ctx context.Context) error {
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()
	j.closeO.Do(func() { close(j.stop) })
	done := make(chan struct{})
	go func() {
		j.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		j.endLife()
		return nil
	case <-ctx.Done():
	}
	j.closeHard()
	<-done
	return fmt.Errorf("close %s: %w", j.where, ctx.Err())
}

func (j *Journal) closeHard() {
	j.hardO.Do(func() {
		close(j.hard)
		j.endLife()
	})
}

// ---- ids ----

// ReserveIDs implements controller.Journal: it writes limit = need +
// Config.IDBlock durably, with an expected last sequence, so two
// controllers on one journal cannot both reserve the same block.
func (j *Journal) ReserveIDs(ctx context.Context, need drovertype.TaskID) (drovertype.TaskID, error) {
	j.idMu.Lock()
	defer j.idMu.Unlock()
	limit := need + drovertype.TaskID(j.cfg.IDBlock)
	ack, err := j.js.Publish(ctx, j.subjIDs, encodeIDs(limit), jetstream.WithExpectLastSequencePerSubject(j.idSeq))
	if err != nil {
		return 0, fmt.Errorf("%s: reserve task ids up to %d: %w", j.where, limit, err)
	}
	j.idSeq = ack.Sequence
	return limit, nil
}

// ---- tasks ----

// EncodeTask implements controller.Journal.
func (j *Journal) EncodeTask(t *drovertype.Task) ([]byte, error) {
	b, err := j.codec.MarshalTask(t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", j.where, err)
	}
	return b, nil
}

// AppendTasks implements controller.Journal: the records go in as few
// messages as the NATS payload limit allows (subject P.j.t.<first id of
// the message>), written asynchronously. Each message is a batch whose
// tombstone is written once every task in it has its result durable (or
// was forgotten).
func (j *Journal) AppendTasks(first drovertype.TaskID, recs [][]byte) (controller.Appended, error) {
	var futs appended
	futs.j = j
	for len(recs) > 0 {
		n, size := 0, 10
		for n < len(recs) && (n == 0 || size+len(recs[n])+10 <= j.maxResult) {
			size += len(recs[n]) + 10
			n++
		}
		data := encodeBatch(recs[:n])
		b := j.addBatch(first, n)
		f, err := j.js.PublishMsgAsync(&nats.Msg{Subject: j.taskSubject(first), Data: data},
			jetstream.WithStallWait(j.cfg.WriteTimeout))
		if err != nil {
			return nil, fmt.Errorf("%s: append tasks %d to %d: %w", j.where, first, first+drovertype.TaskID(n-1), err)
		}
		futs.parts = append(futs.parts, part{first: first, n: n, f: f, b: b})
		first += drovertype.TaskID(n)
		recs = recs[n:]
	}
	return &futs, nil
}

type part struct {
	first drovertype.TaskID
	n     int
	f     jetstream.PubAckFuture
	b     *batch
}

type appended struct {
	j     *Journal
	parts []part
}

func (a *appended) Wait(ctx context.Context) error {
	for _, p := range a.parts {
		select {
		case ack := <-p.f.Ok():
			a.j.bmu.Lock()
			p.b.seq = ack.Sequence
			a.j.bmu.Unlock()
		case err := <-p.f.Err():
			return fmt.Errorf("%s: append tasks %d to %d: %w", a.j.where, p.first, p.first+drovertype.TaskID(p.n-1), err)
		case <-ctx.Done():
			return fmt.Errorf("%s: append tasks %d to %d: %w", a.j.where, p.first, p.first+drovertype.TaskID(p.n-1), ctx.Err())
		}
	}
	return nil
}

// batch is a task message: tasks first .. first+n-1, left of them not
// settled yet; seq is its task stream sequence once known (0 before).
type batch struct {
	first drovertype.TaskID
	n     int
	left  int
	seq   uint64
}

// addBatch registers a batch (in increasing id order).
func (j *Journal) addBatch(first drovertype.TaskID, n int) *batch {
	b := &batch{first: first, n: n, left: n}
	j.bmu.Lock()
	j.batches = append(j.batches, b)
	j.hiID = max(j.hiID, first+drovertype.TaskID(n))
	j.bmu.Unlock()
	return b
}

// settleTask counts task id as settled in its batch, and tombstones the
// batch when it was the last.
func (j *Journal) settleTask(id drovertype.TaskID) {
	j.bmu.Lock()
	bs := j.batches
	i, _ := slices.BinarySearchFunc(bs, id, func(b *batch, id drovertype.TaskID) int {
		switch {
		case b.first+drovertype.TaskID(b.n) <= id:
			return -1
		case b.first > id:
			return 1
		}
		return 0
	})
	var done *batch
	if i < len(bs) && bs[i].first <= id && id < bs[i].first+drovertype.TaskID(bs[i].n) && bs[i].left > 0 {
		if bs[i].left--; bs[i].left == 0 {
			done = bs[i]
		}
	}
	// Drop the settled batches at the front.
	k := 0
	for k < len(bs) && bs[k].left == 0 {
		k++
	}
	if k > 0 {
		// Task messages are written in id order (the controller appends
		// under its id lock), so every message above a settled one has a
		// higher stream sequence.
		for _, b := range bs[:k] {
			if b.seq != 0 {
				j.floor = max(j.floor, b.seq+1)
			}
		}
		select {
		case j.markWake <- struct{}{}:
		default:
		}
		n := copy(bs, bs[k:])
		clear(bs[n:])
		j.batches = bs[:n]
	}
	j.bmu.Unlock()
	if done != nil {
		j.tombstone(done.first)
	}
}

func (j *Journal) taskSubject(id drovertype.TaskID) string {
	return j.subjTask + itoa(int64(id))
}

// tombstone replaces the task batch whose first id is first by a marker
// that expires. It is a plain NATS publish: JetStream stores it in order
// after the batch (same connection, same stream); a lost tombstone only
// means the batch's results are looked up again at recovery.
func (j *Journal) tombstone(first drovertype.TaskID) {
	m := &nats.Msg{Subject: j.taskSubject(first), Header: nats.Header{hdrTomb: {"1"}, hdrTTL: {j.tombTTL}}}
	if err := j.nc.PublishMsg(m); err != nil {
		j.log.Debug("journal: tombstone not written", "task", first, "err", err)
	}
}

// Forget implements controller.Journal. The task's record may be durable
// even though its Run failed (its write was acknowledged after Run gave up,
// or another part of the same RunBatch failed): a failure result "not
// accepted" is written for it, so that a restart does not run it. (It is
// counted as failed after a restart.)
func (j *Journal) Forget(id drovertype.TaskID) {
	te := drovertype.NewTaskError(drovertype.Internal, "NotAccepted",
		fmt.Sprintf("task %d was not accepted: the journal write of its run failed", id))
	j.Finished(id, nil, te, true)
}

// ---- results ----

// Finished implements controller.Journal: the result is queued for the
// writer goroutine.
func (j *Journal) Finished(id drovertype.TaskID, value any, terr *drovertype.TaskError, failed bool) {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		j.log.Warn("journal: result after close not written", "task", id)
		return
	}
	j.pend = append(j.pend, finished{id: id, value: value, err: terr, failed: failed})
	j.outstanding++
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// Notify implements controller.Journal.
func (j *Journal) Notify(fn func(ids []drovertype.TaskID)) {
	j.mu.Lock()
	j.notify = fn
	j.mu.Unlock()
}

// report calls the Notify function with ids.
func (j *Journal) report(ids []drovertype.TaskID) {
	j.mu.Lock()
	fn := j.notify
	j.mu.Unlock()
	if fn != nil && len(ids) > 0 {
		fn(ids)
	}
}

// settle marks n results settled (written and tombstoned, or failed).
func (j *Journal) settle(n int, err error) {
	j.mu.Lock()
	j.outstanding -= n
	if err != nil {
		j.writeErr = err
	}
	if j.outstanding == 0 && j.zero != nil {
		close(j.zero)
		j.zero = nil
	}
	j.mu.Unlock()
}

// writer encodes and writes the results handed over by Finished. Each
// turn writes the results it took as plain NATS publishes (JetStream
// stores them, checking the expected last sequence, without a reply each),
// then a barrier message with an acknowledgement, which the acker checks.
func (j *Journal) writer() {
	defer j.wg.Done()
	defer close(j.acks)
	var batch []finished
	stopping := false
	for {
		if !stopping {
			select {
			case <-j.wake:
			case <-j.stop:
				stopping = true
			case <-j.hard:
				return
			}
		}
		j.mu.Lock()
		batch, j.pend = j.pend, batch[:0]
		j.mu.Unlock()
		if stopping && len(batch) == 0 {
			return
		}
		for len(batch) > 0 {
			n := min(len(batch), maxGroup)
			j.writeGroup(batch[:n])
			clear(batch[:n])
			batch = batch[n:]
		}
		batch = batch[:0]
	}
}

// maxGroup is the most results written behind one barrier.
const maxGroup = 4096

// writeGroup writes results and their barrier and hands the group to the
// acker.
func (j *Journal) writeGroup(fs []finished) {
	g := group{ids: make([]drovertype.TaskID, 0, len(fs))}
	var failed []drovertype.TaskID
	for i := range fs {
		f := &fs[i]
		if err := j.writeResult(f); err != nil {
			j.log.Warn("journal: result not written", "task", f.id, "err", err)
			j.settle(1, err)
			failed = append(failed, f.id)
			continue
		}
		g.ids = append(g.ids, f.id)
	}
	j.report(failed)
	if len(g.ids) == 0 {
		return
	}
	var err error
	g.f, err = j.js.PublishMsgAsync(&nats.Msg{Subject: j.subjBarrier, Data: []byte{}}, jetstream.WithStallWait(j.cfg.WriteTimeout))
	if err != nil {
		j.log.Warn("journal: barrier not written", "err", err)
		g.f = nil // the acker checks each result
	}
	select {
	case j.acks <- g:
	case <-j.hard:
		j.settle(len(g.ids), fmt.Errorf("%s: write results: journal closed", j.where))
	}
}

// writeResult publishes one result (no acknowledgement: the group's
// barrier checks it). A result over the NATS payload limit goes to the
// object store, with a record that points to it (writeObject).
func (j *Journal) writeResult(f *finished) error {
	data, err := j.rcodec.MarshalResult(f.value, f.err)
	if errors.Is(err, wire.ErrTooLarge) {
		// Kept in memory as is; on disk, an error that says so.
		te := drovertype.NewTaskError(drovertype.Internal, typeTooLarge,
			fmt.Sprintf("the result of task %d was too large to keep in the journal (Config.MaxObject %d bytes): %v", f.id, j.rcodec.MaxSize(), err))
		data, err = j.codec.MarshalResult(nil, te)
		f.failed = true
	}
	if err != nil {
		return fmt.Errorf("%s: encode result of task %d: %w", j.where, f.id, err)
	}
	if len(data) > j.maxResult {
		return j.writeObject(f, data)
	}
	return j.publishResult(f, data)
}

// publishResult publishes the encoded result data of task f.id, first
// result wins.
func (j *Journal) publishResult(f *finished, data []byte) error {
	subj := j.subjOK
	if f.failed {
		subj = j.subjFail
	}
	id := itoa(int64(f.id))
	// First result wins, whatever the outcome: refused if P.j.r.*.<id>
	// has a message.
	m := &nats.Msg{Subject: subj + id, Data: data, Header: nats.Header{
		jetstream.ExpectedLastSubjSeqHeader:     {"0"},
		jetstream.ExpectedLastSubjSeqSubjHeader: {j.subjRes + id},
	}}
	if err := j.nc.PublishMsg(m); err != nil {
		return fmt.Errorf("%s: write result of task %d: %w", j.where, f.id, err)
	}
	return nil
}

// group is results written behind one barrier.
type group struct {
	ids []drovertype.TaskID
	f   jetstream.PubAckFuture // the barrier's; nil if it was not written
}

// acker waits for the barriers, in order. JetStream numbers the messages
// it stores consecutively, and only this journal writes to the result
// stream: when the barrier's sequence is the previous barrier's plus the
// group's size plus one, every result of the group was stored. Otherwise
// (a result refused: a second result for a task, or a store error) each
// result of the group is looked up. A result found durable settles its
// task (its batch is tombstoned when it was the last one).
func (j *Journal) acker() {
	defer j.wg.Done()
	defer close(j.ackDone)
	prev, known := j.lastResultSeq, true
	for g := range j.acks {
		var seq uint64
		if g.f != nil {
			select {
			case ack := <-g.f.Ok():
				seq = ack.Sequence
			case err := <-g.f.Err():
				j.log.Warn("journal: barrier failed", "err", err)
			case <-j.hard:
				j.settle(len(g.ids), fmt.Errorf("%s: write results: journal closed", j.where))
				continue
			}
		}
		if seq != 0 && known && seq == prev+uint64(len(g.ids))+1 {
			for _, id := range g.ids {
				j.settleTask(id)
			}
			j.settle(len(g.ids), nil)
		} else {
			j.check(g.ids)
		}
		j.report(g.ids)
		prev, known = seq, seq != 0
	}
}

// check looks each result up and settles those found.
func (j *Journal) check(ids []drovertype.TaskID) {
	ctx, cancel := context.WithTimeout(j.life, j.cfg.WriteTimeout)
	defer cancel()
	for _, id := range ids {
		m, _, err := j.getResult(ctx, id)
		switch {
		case err != nil:
			j.settle(1, err)
		case m == nil:
			j.settle(1, fmt.Errorf("%s: result of task %d not stored", j.where, id))
		default:
			j.settleTask(id)
			j.settle(1, nil)
		}
	}
}

func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}

// Flush implements controller.Journal: it waits until every result handed
// over is settled and every task record written, and reports the last
// write failure since the previous Flush.
func (j *Journal) Flush(ctx context.Context) error {
	j.mu.Lock()
	var wait chan struct{}
	if j.outstanding > 0 {
		if j.zero == nil {
			j.zero = make(chan struct{})
		}
		wait = j.zero
	}
	j.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return fmt.Errorf("flush %s: %w", j.where, ctx.Err())
		}
	}
	select {
	case <-j.js.PublishAsyncComplete():
	case <-ctx.Done():
		return fmt.Errorf("flush %s: %w", j.where, ctx.Err())
	}
	j.mu.Lock()
	err := j.writeErr
	j.writeErr = nil
	j.mu.Unlock()
	return err
}

// Result implements controller.Journal: a direct get of the result
// subjects.
func (j *Journal) Result(ctx context.Context, id drovertype.TaskID) (any, *drovertype.TaskError, bool, error) {
	m, _, err := j.getResult(ctx, id)
	if err != nil || m == nil {
		return nil, nil, false, err
	}
	data := m.Data
	if name := m.Header.Get(hdrObj); name != "" {
		if data, err = j.readObject(ctx, id, name); err != nil {
			return nil, nil, false, err
		}
	}
	v, te, err := j.rcodec.UnmarshalResult(data)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%s: result of task %d: %w: %w", j.where, id, ErrCorrupt, err)
	}
	return v, te, true, nil
}

// getResult returns task id's result message (nil if none) and whether it
// is a failure.
func (j *Journal) getResult(ctx context.Context, id drovertype.TaskID) (*jetstream.RawStreamMsg, bool, error) {
	s := itoa(int64(id))
	for _, failed := range []bool{false, true} {
		subj := j.subjOK + s
		if failed {
			subj = j.subjFail + s
		}
		m, err := j.results.GetLastMsgForSubject(ctx, subj)
		switch {
		case err == nil:
			return m, failed, nil
		case !errors.Is(err, jetstream.ErrMsgNotFound):
			return nil, false, fmt.Errorf("%s: result of task %d: %w", j.where, id, err)
		}
	}
	return nil, false, nil
}

// Clear implements controller.Journal: it first waits for the results
// being written (so that a result cleared now is not written after), then
// purges each id's result subject, and deletes the object of a large
// result (after its record: a crash in between leaves an object that
// Recover deletes).
func (j *Journal) Clear(ctx context.Context, ids []drovertype.TaskID) (succeeded, failed int, err error) {
	if err := j.Flush(ctx); err != nil {
		j.log.Warn("journal: clear: an earlier write failed", "err", err)
	}
	for _, id := range ids {
		m, f, err := j.getResult(ctx, id)
		if err != nil {
			return succeeded, failed, fmt.Errorf("clear: %w", err)
		}
		if m == nil {
			continue
		}
		if err := j.results.Purge(ctx, jetstream.WithPurgeSubject(m.Subject)); err != nil {
			return succeeded, failed, fmt.Errorf("clear: %s: result of task %d: %w", j.where, id, err)
		}
		if name := m.Header.Get(hdrObj); name != "" {
			if err := j.removeObject(ctx, name); err != nil {
				return succeeded, failed, fmt.Errorf("clear: %s: result of task %d: %w", j.where, id, err)
			}
		}
		if f {
			failed++
		} else {
			succeeded++
		}
	}
	return succeeded, failed, nil
}

// ClearAll implements controller.Journal: it purges the result stream and
// the object store of large results.
func (j *Journal) ClearAll(ctx context.Context) error {
	if err := j.Flush(ctx); err != nil {
		j.log.Warn("journal: clear: an earlier write failed", "err", err)
	}
	if err := j.results.Purge(ctx); err != nil {
		return fmt.Errorf("clear: %s: %w", j.where, err)
	}
	if err := j.objStream.Purge(ctx); err != nil {
		return fmt.Errorf("clear: %s: object store %s: %w", j.where, j.bucket, err)
	}
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
