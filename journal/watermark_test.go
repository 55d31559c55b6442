package journal_test

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/journal"
)

// taskRecord returns the stored task message of first (as the store would
// bring it back after a kill -9: the file store rebuilds from its block
// files, where the record replaced by its tombstone may still be).
func taskRecord(t testing.TB, s *natsServer, first drovertype.TaskID) []byte {
	t.Helper()
	js, err := jetstream.New(s.nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), "drover_tasks")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(t.Context(), "drover.j.t."+itoa(first))
	if err != nil {
		t.Fatalf("task record %d: %v", first, err)
	}
	return m.Data
}

func itoa(id drovertype.TaskID) string { return strconv.FormatInt(int64(id), 10) }

// TestResurrectedRecord: after a kill -9 the file store may bring back the
// records of finished tasks (their tombstones and removals were not
// durable). A task whose result was cleared, or dropped by retention, must
// not run again: the watermark written when it was settled says so.
func TestResurrectedRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startNATS(t, dir, 0)
	cfg := &journal.Config{Dir: dir, MaxResults: 2}
	j := s.open(t, cfg)
	recoverIDs(t, j)
	reserveIDs(t, j)
	recs := make(map[drovertype.TaskID][]byte)
	for id := range drovertype.TaskID(5) {
		appendTask(t, j, id, mapTask(t, "f", int64(id)))
		recs[id] = taskRecord(t, s, id)
	}
	// 0: cleared; 1: dropped by MaxResults (2); 2, 3: kept; 4: unfinished.
	for id := range drovertype.TaskID(4) {
		j.Finished(id, int64(id), nil, false)
		flush(t, j)
	}
	if _, _, err := j.Clear(t.Context(), []drovertype.TaskID{0}); err != nil {
		t.Fatal(err)
	}
	if _, _, found, _ := j.Result(t.Context(), 1); found {
		t.Fatal("result 1 kept; want it dropped by MaxResults")
	}
	if err := j.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The store brings the finished tasks' records back.
	js, err := jetstream.New(s.nc)
	if err != nil {
		t.Fatal(err)
	}
	for id := range drovertype.TaskID(4) {
		if _, err := js.Publish(t.Context(), "drover.j.t."+itoa(id), recs[id]); err != nil {
			t.Fatal(err)
		}
	}
	s.stop()

	s2 := startNATS(t, dir, 0)
	j2 := s2.open(t, cfg)
	rec, ids := recoverIDs(t, j2)
	if diff := cmp.Diff([]drovertype.TaskID{4}, ids); diff != "" {
		t.Errorf("unfinished tasks (-want +got):\n%s", diff)
	}
	if rec.Succeeded != 2 {
		t.Errorf("recovered %d succeeded, want 2", rec.Succeeded)
	}
	// Everything settled: the watermark is past the last task message.
	j2.Finished(4, int64(4), nil, false)
	flush(t, j2)
	if err := j2.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	js2, err := jetstream.New(s2.nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js2.Publish(t.Context(), "drover.j.t.4", recs[4]); err != nil {
		t.Fatal(err)
	}
	s2.stop()
	s3 := startNATS(t, dir, 0)
	j3 := s3.open(t, cfg)
	if rec, ids := recoverIDs(t, j3); ids != nil || rec.Succeeded != 2 || rec.NextID != 1000+journal.DefaultIDBlock {
		t.Errorf("recovered %v, %+v; want no task, 2 succeeded, next id %d", ids, rec, 1000+journal.DefaultIDBlock)
	}
}

// TestLostIDRecord: a store whose task stream lost its first block (the id
// reservation with it) while results are kept is refused, not taken for a
// fresh journal that would hand out the same ids again.
func TestLostIDRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startNATS(t, dir, 0)
	cfg := &journal.Config{Dir: dir}
	j := s.open(t, cfg)
	recoverIDs(t, j)
	reserveIDs(t, j)
	appendTask(t, j, 0, mapTask(t, "f"))
	j.Finished(0, "zero", nil, false)
	flush(t, j)
	if err := j.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.stop()
	blk := filepath.Join(dir, "jetstream", "$G", "streams", "drover_tasks", "msgs", "1.blk")
	f, err := os.OpenFile(blk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 4096)
	_, _ = rand.Read(junk)
	if _, err := f.WriteAt(junk, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := startNATS(t, dir, 0)
	j2, err := journal.Open(t.Context(), s2.nc, cfg)
	if err == nil {
		defer closeNow(j2)
		var rec any
		rec, err = j2.Recover(t.Context())
		if err == nil {
			t.Fatalf("recovered %+v from a store that lost its id reservation; want ErrCorrupt", rec)
		}
	}
	if !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "id reservation") {
		t.Errorf("error %v; want ErrCorrupt naming %s and the id reservation", err, dir)
	}
}
