package journal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/journal"
)

func mapTask(t testing.TB, fn string, args ...any) *drovertype.Task {
	t.Helper()
	task, err := drovertype.NewMapTask(fn, args, nil, drovertype.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// appendTask writes task id and waits for it to be durable.
func appendTask(t testing.TB, j *journal.Journal, id drovertype.TaskID, task *drovertype.Task) {
	t.Helper()
	rec, err := j.EncodeTask(task)
	if err != nil {
		t.Fatal(err)
	}
	a, err := j.AppendTasks(id, [][]byte{rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func recoverIDs(t testing.TB, j *journal.Journal) (*controller.Recovered, []drovertype.TaskID) {
	t.Helper()
	rec, err := j.Recover(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []drovertype.TaskID
	for _, rt := range rec.Tasks {
		ids = append(ids, rt.ID)
	}
	return rec, ids
}

// TestRestart writes tasks and results, restarts the server on the same
// store, and recovers the unfinished tasks, the id reservation, the
// counts and the results.
func TestRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startNATS(t, dir, 0)
	j := s.open(t, &journal.Config{Dir: dir, IDBlock: 100})
	rec, ids := recoverIDs(t, j)
	if rec.NextID != 0 || ids != nil || rec.Succeeded != 0 || rec.Failed != 0 {
		t.Fatalf("fresh journal recovered %+v", rec)
	}
	limit, err := j.ReserveIDs(t.Context(), 0)
	if err != nil || limit != 100 {
		t.Fatalf("ReserveIDs(0) = %d, %v; want 100", limit, err)
	}
	for id := range drovertype.TaskID(5) {
		appendTask(t, j, id, mapTask(t, "f", int64(id)))
	}
	j.Finished(1, "one", nil, false)
	j.Finished(3, nil, drovertype.NewAborted(3), true)
	if err := j.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.stop()

	s2 := startNATS(t, dir, 0)
	j2 := s2.open(t, &journal.Config{Dir: dir, IDBlock: 100})
	rec, ids = recoverIDs(t, j2)
	if diff := cmp.Diff([]drovertype.TaskID{0, 2, 4}, ids); diff != "" {
		t.Errorf("unfinished tasks (-want +got):\n%s", diff)
	}
	if rec.NextID != 100 || rec.Succeeded != 1 || rec.Failed != 1 {
		t.Errorf("recovered NextID %d, %d succeeded, %d failed; want 100, 1, 1", rec.NextID, rec.Succeeded, rec.Failed)
	}
	if got := rec.Tasks[1].Task; got.FuncName != "f" || !cmp.Equal(got.Args, []any{int64(2)}) {
		t.Errorf("task 2 recovered as %+v", got)
	}
	v, te, found, err := j2.Result(t.Context(), 1)
	if err != nil || !found || v != "one" || te != nil {
		t.Errorf("Result(1) = %v, %v, %v, %v; want one", v, te, found, err)
	}
	v, te, found, err = j2.Result(t.Context(), 3)
	if err != nil || !found || v != nil || !errors.Is(te, drovertype.ErrTaskAborted) {
		t.Errorf("Result(3) = %v, %v, %v, %v; want the abort", v, te, found, err)
	}
	if _, _, found, err := j2.Result(t.Context(), 2); found || err != nil {
		t.Errorf("Result(2) found %v, %v; want not found", found, err)
	}
	// The next reservation follows the recovered one.
	if limit, err := j2.ReserveIDs(t.Context(), rec.NextID); err != nil || limit != 200 {
		t.Errorf("ReserveIDs(100) = %d, %v; want 200", limit, err)
	}
}

// TestFirstResultWins: a second result for a task is refused.
func TestFirstResultWins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startNATS(t, dir, 0)
	j := s.open(t, nil)
	reserveIDs(t, j)
	appendTask(t, j, 7, mapTask(t, "f"))
	j.Finished(7, "first", nil, false)
	if err := j.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	j.Finished(7, nil, drovertype.NewAborted(7), true) // other outcome, other subject
	j.Finished(7, "second", nil, false)
	if err := j.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	v, te, found, err := j.Result(t.Context(), 7)
	if v != "first" || te != nil || !found || err != nil {
		t.Errorf("Result(7) = %v, %v, %v, %v; want first", v, te, found, err)
	}
	rec, ids := recoverIDs(t, j)
	if ids != nil || rec.Succeeded != 1 || rec.Failed != 0 {
		t.Errorf("recovered %v, %d succeeded, %d failed; want none, 1, 0", ids, rec.Succeeded, rec.Failed)
	}
}

// TestResultBeforeTombstone: a crash after a result was written but before
// the task's tombstone: Recover finds the result and does not queue the
// task again.
func TestResultBeforeTombstone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startNATS(t, dir, 0)
	j := s.open(t, nil)
	reserveIDs(t, j)
	appendTask(t, j, 0, mapTask(t, "f"))
	appendTask(t, j, 1, mapTask(t, "f"))
	js, err := jetstream.New(s.nc)
	if err != nil {
		t.Fatal(err)
	}
	// The result as the journal writes it, without the tombstone.
	if _, err := js.Publish(t.Context(), "drover.j.r.f.1", mustResult(t, drovertype.NewEngineLost(1, 0))); err != nil {
		t.Fatal(err)
	}
	rec, ids := recoverIDs(t, j)
	if diff := cmp.Diff([]drovertype.TaskID{0}, ids); diff != "" || rec.Failed != 1 {
		t.Errorf("recovered %v with %d failed; want [0], 1 (-want +got):\n%s", ids, rec.Failed, diff)
	}
}

func mustResult(t testing.TB, te *drovertype.TaskError) []byte {
	t.Helper()
	// The journal's codec is the wire codec; encode as it does.
	c := newCodec(t)
	b, err := c.MarshalResult(nil, te)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestClear deletes results by id and all at once.
func TestClear(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startNATS(t, dir, 0)
	j := s.open(t, nil)
	reserveIDs(t, j)
	for id := range drovertype.TaskID(4) {
		appendTask(t, j, id, mapTask(t, "f"))
		j.Finished(id, int64(id), nil, id == 3)
	}
	ok, failed, err := j.Clear(t.Context(), []drovertype.TaskID{0, 3, 9})
	if ok != 1 || failed != 1 || err != nil {
		t.Errorf("Clear(0, 3, 9) = %d, %d, %v; want 1, 1, nil", ok, failed, err)
	}
	if _, _, found, _ := j.Result(t.Context(), 0); found {
		t.Error("result 0 still there after Clear")
	}
	rec, _ := recoverIDs(t, j)
	if rec.Succeeded != 2 || rec.Failed != 0 {
		t.Errorf("after Clear: %d succeeded, %d failed; want 2, 0", rec.Succeeded, rec.Failed)
	}
	if err := j.ClearAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec, _ = recoverIDs(t, j)
	if rec.Succeeded != 0 || rec.Failed != 0 {
		t.Errorf("after ClearAll: %d succeeded, %d failed; want 0, 0", rec.Succeeded, rec.Failed)
	}
}

// TestRetention: MaxResults keeps the newest results.
func TestRetention(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startNATS(t, dir, 0)
	j := s.open(t, &journal.Config{MaxResults: 2})
	reserveIDs(t, j)
	for id := range drovertype.TaskID(3) {
		j.Finished(id, int64(id), nil, false)
	}
	if err := j.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got []bool
	for id := range drovertype.TaskID(3) {
		_, _, found, err := j.Result(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, found)
	}
	if diff := cmp.Diff([]bool{false, true, true}, got); diff != "" {
		t.Errorf("results kept (-want +got):\n%s", diff)
	}
	// Reopening with other limits updates the stream.
	closeNow(j)
	j2 := s.open(t, &journal.Config{MaxResults: 5})
	for id := drovertype.TaskID(3); id < 6; id++ {
		j2.Finished(id, int64(id), nil, false)
	}
	if err := j2.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if rec, _ := recoverIDs(t, j2); rec.Succeeded != 5 {
		t.Errorf("%d results kept, want 5", rec.Succeeded)
	}
}

// TestIDReservationRace: two journals on one store cannot reserve the same
// block (the second one's reservation is refused).
func TestIDReservationRace(t *testing.T) {
	t.Parallel()
	s := startNATS(t, t.TempDir(), 0)
	a := s.open(t, &journal.Config{IDBlock: 10})
	b := s.open(t, &journal.Config{IDBlock: 10})
	recoverIDs(t, a)
	recoverIDs(t, b)
	if _, err := a.ReserveIDs(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	if limit, err := b.ReserveIDs(t.Context(), 0); err == nil {
		t.Fatalf("second journal reserved up to %d after the first one", limit)
	}
}

// TestForeign: stores that are not this drover journal are refused with a
// message that says why.
func TestForeign(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, js jetstream.JetStream)
		want  string
	}{
		{"other subjects", func(t *testing.T, js jetstream.JetStream) {
			mustStream(t, js, jetstream.StreamConfig{Name: "drover_tasks", Subjects: []string{"other.>"}})
		}, `exists with subjects ["other.>"]`},
		{"no metadata", func(t *testing.T, js jetstream.JetStream) {
			mustStream(t, js, jetstream.StreamConfig{Name: "drover_tasks", Subjects: []string{"drover.j.t.*", "drover.j.m.*"},
				MaxMsgsPerSubject: 1, AllowMsgTTL: true})
			mustPublish(t, js, "drover.j.t.1", "not a task")
		}, "no metadata record"},
		{"newer format", func(t *testing.T, js jetstream.JetStream) {
			mustStream(t, js, jetstream.StreamConfig{Name: "drover_tasks", Subjects: []string{"drover.j.t.*", "drover.j.m.*"},
				MaxMsgsPerSubject: 1, AllowMsgTTL: true})
			mustPublish(t, js, "drover.j.m.meta", `{"kind":"drover-journal","format":99,"prefix":"drover"}`)
		}, "format version 99 is newer"},
		{"other kind", func(t *testing.T, js jetstream.JetStream) {
			mustStream(t, js, jetstream.StreamConfig{Name: "drover_tasks", Subjects: []string{"drover.j.t.*", "drover.j.m.*"},
				MaxMsgsPerSubject: 1, AllowMsgTTL: true})
			mustPublish(t, js, "drover.j.m.meta", `{"kind":"something else"}`)
		}, `kind "something else"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := startNATS(t, dir, 0)
			js, err := jetstream.New(s.nc)
			if err != nil {
				t.Fatal(err)
			}
			tc.setup(t, js)
			j, err := journal.Open(t.Context(), s.nc, &journal.Config{Dir: dir})
			if err == nil {
				closeNow(j)
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, journal.ErrForeign) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("Open: %v\nwant ErrForeign naming %s and saying %q", err, dir, tc.want)
			}
		})
	}
}

// TestCorruptRecord: a task record that does not decode is refused at
// recovery, naming the task.
func TestCorruptRecord(t *testing.T) {
	t.Parallel()
	s := startNATS(t, t.TempDir(), 0)
	j := s.open(t, nil)
	reserveIDs(t, j)
	js, err := jetstream.New(s.nc)
	if err != nil {
		t.Fatal(err)
	}
	mustPublish(t, js, "drover.j.t.12", "\xff\x00garbage")
	_, err = j.Recover(t.Context())
	if !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), "task 12") {
		t.Errorf("Recover: %v; want ErrCorrupt naming task 12", err)
	}
}

// TestCheckDir: a store directory that cannot be used is refused with a
// message naming it. (The tests run as root, so a read-only directory would
// not fail: a file where the directory should be is the real fault used.)
func TestCheckDir(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, want string }{
		{file, "not a directory"},
		{filepath.Join(file, "sub"), "not a directory"},
	} {
		err := journal.CheckDir(tc.dir)
		if !errors.Is(err, journal.ErrStoreDir) || !strings.Contains(err.Error(), tc.dir) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckDir(%s) = %v; want ErrStoreDir naming it and saying %q", tc.dir, err, tc.want)
		}
	}
	if os.Getuid() != 0 {
		ro := filepath.Join(base, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		if err := journal.CheckDir(ro); !errors.Is(err, journal.ErrStoreDir) || !strings.Contains(err.Error(), "not writable") {
			t.Errorf("CheckDir(read-only) = %v", err)
		}
	}
	fresh := filepath.Join(base, "a", "b")
	if err := journal.CheckDir(fresh); err != nil {
		t.Errorf("CheckDir(new directory) = %v", err)
	}
	if ents, _ := os.ReadDir(fresh); len(ents) != 0 {
		t.Errorf("CheckDir left %v behind", ents)
	}
}

// TestStoreFull: when JetStream's storage is full, appending a task fails
// (Run then returns the error, never an id).
func TestStoreFull(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startNATS(t, dir, 256<<10)
	j := s.open(t, &journal.Config{Dir: dir})
	big := strings.Repeat("x", 16<<10)
	var err error
	for id := drovertype.TaskID(0); id < 64 && err == nil; id++ {
		var rec []byte
		rec, err = j.EncodeTask(mapTask(t, "f", big))
		if err != nil {
			t.Fatal(err)
		}
		var a controller.Appended
		if a, err = j.AppendTasks(id, [][]byte{rec}); err == nil {
			err = a.Wait(t.Context())
		}
	}
	if err == nil {
		t.Fatal("1 MiB of tasks written into a 256 KiB store")
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("append error %q does not name %s", err, dir)
	}
	t.Log(err)
}

func mustStream(t *testing.T, js jetstream.JetStream, cfg jetstream.StreamConfig) {
	t.Helper()
	if _, err := js.CreateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
}

func mustPublish(t *testing.T, js jetstream.JetStream, subj, data string) {
	t.Helper()
	if _, err := js.Publish(t.Context(), subj, []byte(data)); err != nil {
		t.Fatal(fmt.Errorf("publish %s: %w", subj, err))
	}
}

var _ = context.Background

// TestResultOfTaskZero: the result of task 0 written after other results
// (a regression: the group barrier's subject once matched P.j.r.*.0, so
// the first-result-wins check refused it).
func TestResultOfTaskZero(t *testing.T) {
	t.Parallel()
	s := startNATS(t, t.TempDir(), 0)
	j := s.open(t, nil)
	for _, id := range []drovertype.TaskID{5, 0, 1} {
		j.Finished(id, int64(id), nil, false)
		if err := j.Flush(t.Context()); err != nil {
			t.Fatalf("task %d: %v", id, err)
		}
	}
	for _, id := range []drovertype.TaskID{5, 0, 1} {
		if v, _, found, err := j.Result(t.Context(), id); v != int64(id) || !found || err != nil {
			t.Errorf("Result(%d) = %v, %v, %v", id, v, found, err)
		}
	}
}

// TestBatchTombstone: a batch of tasks is tombstoned once all its tasks
// have results, not before.
func TestBatchTombstone(t *testing.T) {
	t.Parallel()
	s := startNATS(t, t.TempDir(), 0)
	j := s.open(t, nil)
	reserveIDs(t, j)
	rec, err := j.EncodeTask(mapTask(t, "f"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := j.AppendTasks(10, [][]byte{rec, rec, rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	j.Finished(10, "a", nil, false)
	j.Forget(11)
	if err := j.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	j2 := s.open(t, nil) // a second view of the store: what a restart sees
	if _, ids := recoverIDs(t, j2); !cmp.Equal(ids, []drovertype.TaskID{12}) {
		t.Errorf("with task 12 unfinished, recovered %v; want [12] (11 was forgotten)", ids)
	}
	j.Finished(12, "c", nil, false)
	if err := j.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	j3 := s.open(t, nil)
	if _, ids := recoverIDs(t, j3); ids != nil {
		t.Errorf("with every task settled, recovered %v; want none", ids)
	}
}
