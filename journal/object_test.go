package journal_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/journal"
)

// objBucket and objStream are the object store of the default prefix's
// journal and its stream.
const (
	objBucket = "drover_objects"
	objStream = "OBJ_drover_objects"
)

// large is the size of the large results of most tests: over the test
// server's payload limit (1 MiB), small enough to keep -race runs short.
const large = 3 << 19

// bigValue is n bytes that are not all alike (so that a result read back
// wrong, reordered or truncated, does not compare equal): a pseudo-random
// run of a prime length (no chunk size is a multiple of it), repeated.
func bigValue(n int, seed byte) []byte {
	run := make([]byte, 4093)
	x := uint32(seed) + 1
	for i := range run {
		x = x*1664525 + 1013904223
		run[i] = byte(x >> 24)
	}
	return bytes.Repeat(run, n/len(run)+1)[:n]
}

// checkBig checks that task id's durable result is want, without printing
// megabytes when it is not.
func checkBig(t *testing.T, j *journal.Journal, id drovertype.TaskID, want []byte) {
	t.Helper()
	v, te, found, err := j.Result(t.Context(), id)
	if err != nil || !found || te != nil {
		t.Fatalf("Result(%d): found %v, error %v, task error %v", id, found, err, te)
	}
	got, ok := v.([]byte)
	if !ok {
		t.Fatalf("Result(%d) is a %T, want []byte", id, v)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Result(%d): %d bytes, not the %d bytes written", id, len(got), len(want))
	}
}

// objects returns the number of messages and bytes in the journal's
// object store (an object is chunks and a metadata message).
func objects(t *testing.T, s *natsServer) (msgs, size uint64) {
	t.Helper()
	js, err := jetstream.New(s.nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), objStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs, info.State.Bytes
}

// objectNames lists the objects of the journal's object store.
func objectNames(t *testing.T, s *natsServer) []string {
	t.Helper()
	js, err := jetstream.New(s.nc)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := js.ObjectStore(t.Context(), objBucket)
	if err != nil {
		t.Fatal(err)
	}
	list, err := obs.List(t.Context())
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range list {
		names = append(names, o.Name)
	}
	return names
}

func flush(t *testing.T, j *journal.Journal) {
	t.Helper()
	if err := j.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestLargeResultRestart: results of 3 MiB (the NATS payload limit is 1
// MiB) are kept in the object store: after a restart they are returned
// intact, counted by outcome, and their tasks are not queued again.
func TestLargeResultRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startNATS(t, dir, 0) // max payload 1 MiB
	j := s.open(t, &journal.Config{Dir: dir})
	reserveIDs(t, j)
	recoverIDs(t, j)
	for id := range drovertype.TaskID(3) {
		appendTask(t, j, id, mapTask(t, "f"))
	}
	big := bigValue(3<<20, 1)
	j.Finished(0, big, nil, false)
	j.Finished(1, nil, drovertype.NewTaskError(drovertype.TaskFailed, "ValueError", strings.Repeat("long traceback ", 100_000)), true)
	flush(t, j)
	checkBig(t, j, 0, big)
	if err := j.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.stop()

	s2 := startNATS(t, dir, 0)
	j2 := s2.open(t, &journal.Config{Dir: dir})
	rec, ids := recoverIDs(t, j2)
	if len(ids) != 1 || ids[0] != 2 || rec.Succeeded != 1 || rec.Failed != 1 {
		t.Errorf("recovered tasks %v, %d succeeded, %d failed; want [2], 1, 1", ids, rec.Succeeded, rec.Failed)
	}
	checkBig(t, j2, 0, big)
	_, te, found, err := j2.Result(t.Context(), 1)
	if err != nil || !found || te == nil || te.Type != "ValueError" || len(te.Message) != 100_000*len("long traceback ") {
		t.Errorf("Result(1): found %v, error %v, task error type %q", found, err, te.Type)
	}
	if n := len(objectNames(t, s2)); n != 2 {
		t.Errorf("%d objects in the store, want 2", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, _, err := j2.Result(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Result(0) with a cancelled context: %v", err)
	}
}

// TestLargeResultClear: Clear and ClearAll delete the objects (their
// space is freed: the object store is left empty).
func TestLargeResultClear(t *testing.T) {
	t.Parallel()
	s := startNATS(t, t.TempDir(), 0)
	j := s.open(t, nil)
	reserveIDs(t, j)
	recoverIDs(t, j)
	for id := range drovertype.TaskID(3) {
		j.Finished(id, bigValue(large, byte(id)), nil, false)
	}
	j.Finished(3, "small", nil, false)
	flush(t, j)
	if msgs, size := objects(t, s); msgs == 0 || size < 3*large {
		t.Fatalf("object store holds %d messages, %d bytes; want 3 objects of 1.5 MiB", msgs, size)
	}
	ok, failed, err := j.Clear(t.Context(), []drovertype.TaskID{0, 3})
	if ok != 2 || failed != 0 || err != nil {
		t.Errorf("Clear(0, 3) = %d, %d, %v; want 2, 0, nil", ok, failed, err)
	}
	if _, _, found, err := j.Result(t.Context(), 0); found || err != nil {
		t.Errorf("Result(0) after Clear: found %v, %v", found, err)
	}
	if names := objectNames(t, s); len(names) != 2 {
		t.Errorf("objects after clearing one of 3: %q", names)
	}
	checkBig(t, j, 1, bigValue(large, 1))
	if rec, _ := recoverIDs(t, j); rec.Succeeded != 2 {
		t.Errorf("after Clear: %d succeeded, want 2", rec.Succeeded)
	}
	if _, _, err := j.Clear(t.Context(), []drovertype.TaskID{1, 2}); err != nil {
		t.Fatal(err)
	}
	if msgs, size := objects(t, s); msgs != 0 || size != 0 {
		t.Errorf("after clearing every large result the object store holds %d messages, %d bytes", msgs, size)
	}

	j.Finished(4, bigValue(large, 4), nil, false)
	flush(t, j)
	if err := j.ClearAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if msgs, size := objects(t, s); msgs != 0 || size != 0 {
		t.Errorf("after ClearAll the object store holds %d messages, %d bytes", msgs, size)
	}
	if rec, _ := recoverIDs(t, j); rec.Succeeded != 0 || rec.Failed != 0 {
		t.Errorf("after ClearAll: %d succeeded, %d failed", rec.Succeeded, rec.Failed)
	}
}

// TestLargeResultFirstWins: with a large result involved, the first
// result of a task is kept and a losing large result's object is deleted.
func TestLargeResultFirstWins(t *testing.T) {
	t.Parallel()
	s := startNATS(t, t.TempDir(), 0)
	j := s.open(t, nil)
	reserveIDs(t, j)
	recoverIDs(t, j)
	// A small result first, then a large one.
	j.Finished(7, "first", nil, false)
	flush(t, j)
	j.Finished(7, bigValue(large, 7), nil, false)
	flush(t, j)
	if v, te, found, err := j.Result(t.Context(), 7); v != "first" || te != nil || !found || err != nil {
		t.Errorf("Result(7) = %.20v, %v, %v, %v; want first", v, te, found, err)
	}
	if msgs, _ := objects(t, s); msgs != 0 {
		t.Errorf("the losing result's object is still there (%d messages)", msgs)
	}
	// Two large results (the second one of the other outcome).
	first := bigValue(large, 8)
	j.Finished(8, first, nil, false)
	j.Finished(8, nil, drovertype.NewTaskError(drovertype.TaskFailed, "E", strings.Repeat("x", large)), true)
	flush(t, j)
	checkBig(t, j, 8, first)
	if names := objectNames(t, s); len(names) != 1 || !strings.HasPrefix(names[0], "r.8.") {
		t.Errorf("objects %q; want only the first result of task 8", names)
	}
	if rec, _ := recoverIDs(t, j); rec.Succeeded != 2 || rec.Failed != 0 {
		t.Errorf("%d succeeded, %d failed; want 2, 0", rec.Succeeded, rec.Failed)
	}
}

// TestLargeResultLimits: a result over Config.MaxObject, or one the object
// store cannot take (storage full), is kept as a failure that says so.
func TestLargeResultLimits(t *testing.T) {
	t.Parallel()
	t.Run("MaxObject", func(t *testing.T) {
		t.Parallel()
		s := startNATS(t, t.TempDir(), 0)
		j := s.open(t, &journal.Config{MaxObject: 1<<20 + 100<<10})
		reserveIDs(t, j)
		recoverIDs(t, j)
		j.Finished(3, bigValue(large, 3), nil, false)
		flush(t, j)
		v, te, found, err := j.Result(t.Context(), 3)
		if v != nil || !found || err != nil || te == nil || te.Type != "ResultTooLarge" ||
			!strings.Contains(te.Error(), "task 3") || !strings.Contains(te.Error(), "MaxObject") {
			t.Errorf("Result(3): found %v, error %v, task error %v; want a ResultTooLarge error", found, err, te)
		}
		if rec, _ := recoverIDs(t, j); rec.Failed != 1 || rec.Succeeded != 0 {
			t.Errorf("counted %d succeeded, %d failed; want 0, 1", rec.Succeeded, rec.Failed)
		}
		if msgs, _ := objects(t, s); msgs != 0 {
			t.Errorf("%d messages in the object store", msgs)
		}
	})
	t.Run("store full", func(t *testing.T) {
		t.Parallel()
		s := startNATS(t, t.TempDir(), 1<<20) // 1 MiB of storage for everything
		j := s.open(t, nil)
		reserveIDs(t, j)
		recoverIDs(t, j)
		j.Finished(4, bigValue(large, 4), nil, false)
		flush(t, j)
		v, te, found, err := j.Result(t.Context(), 4)
		if v != nil || !found || err != nil || te == nil || te.Type != "ResultNotStored" ||
			!strings.Contains(te.Error(), "task 4") || !strings.Contains(te.Error(), objBucket) {
			t.Errorf("Result(4): found %v, error %v, task error %v; want a ResultNotStored error", found, err, te)
		} else {
			t.Log(te)
		}
		if rec, _ := recoverIDs(t, j); rec.Failed != 1 || rec.Succeeded != 0 {
			t.Errorf("counted %d succeeded, %d failed; want 0, 1", rec.Succeeded, rec.Failed)
		}
		if msgs, _ := objects(t, s); msgs != 0 {
			t.Errorf("the partial object was left behind: %d messages", msgs)
		}
	})
}

// TestLargeResultRetention: the object store has the result stream's age
// limit (updated on reopening), and Recover deletes the objects no result
// points to: dropped by MaxResults, or left by a crash between an object
// and its record.
func TestLargeResultRetention(t *testing.T) {
	t.Parallel()
	s := startNATS(t, t.TempDir(), 0)
	js, err := jetstream.New(s.nc)
	if err != nil {
		t.Fatal(err)
	}
	ttl := func() time.Duration {
		t.Helper()
		obs, err := js.ObjectStore(t.Context(), objBucket)
		if err != nil {
			t.Fatal(err)
		}
		st, err := obs.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.Replicas() != 1 || st.Storage() != jetstream.FileStorage {
			t.Errorf("object store: %d replicas, storage %v; want 1, file", st.Replicas(), st.Storage())
		}
		return st.TTL()
	}
	j := s.open(t, &journal.Config{MaxAge: time.Hour, MaxResults: 1})
	reserveIDs(t, j)
	if got := ttl(); got != time.Hour {
		t.Errorf("object store TTL %v, want 1h", got)
	}
	recoverIDs(t, j)
	j.Finished(1, bigValue(large, 1), nil, false)
	flush(t, j)
	j.Finished(2, bigValue(large, 2), nil, false) // drops the record of 1
	flush(t, j)
	// A crash between an object and its record.
	obs, err := js.ObjectStore(t.Context(), objBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.PutBytes(t.Context(), "r.9.crashed", bigValue(large, 9)); err != nil {
		t.Fatal(err)
	}
	if n := len(objectNames(t, s)); n != 3 {
		t.Fatalf("%d objects before recovery, want 3", n)
	}
	closeNow(j)

	j2 := s.open(t, &journal.Config{MaxAge: 2 * time.Hour, MaxResults: 1})
	if got := ttl(); got != 2*time.Hour {
		t.Errorf("object store TTL after reopening %v, want 2h", got)
	}
	rec, _ := recoverIDs(t, j2)
	if rec.Succeeded != 1 {
		t.Errorf("%d results, want 1", rec.Succeeded)
	}
	if names := objectNames(t, s); len(names) != 1 || !strings.HasPrefix(names[0], "r.2.") {
		t.Errorf("objects after recovery %q; want only task 2's", names)
	}
	checkBig(t, j2, 2, bigValue(large, 2))
	if _, _, found, err := j2.Result(t.Context(), 1); found || err != nil {
		t.Errorf("Result(1) dropped by MaxResults: found %v, %v", found, err)
	}
}

// TestLargeResultObjectGone: a record whose object is gone gives an error
// that says so (not an empty result).
func TestLargeResultObjectGone(t *testing.T) {
	t.Parallel()
	s := startNATS(t, t.TempDir(), 0)
	j := s.open(t, nil)
	recoverIDs(t, j)
	j.Finished(5, bigValue(large, 5), nil, false)
	flush(t, j)
	js, err := jetstream.New(s.nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), objStream)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = j.Result(t.Context(), 5)
	if err == nil || !strings.Contains(err.Error(), "task 5") || !strings.Contains(err.Error(), "not in object store") {
		t.Errorf("Result(5) with its object gone: %v", err)
	}
}
