package bgjob_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/drover-dev/drover/bgjob"
)

type countWriter struct{ n, lines int }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	w.lines += strings.Count(string(p), "\n")
	return len(p), nil
}

// TestManyJobs runs scaleJobs jobs (100,000; fewer under -race) in one
// manager, then checks Status, Remove and Flush over all of them.
func TestManyJobs(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	f := func() {}
	for range scaleJobs {
		if _, err := m.NewWith(bgjob.Options{Name: "f"}, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.WaitAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	var w countWriter
	m.Status(&w)
	if w.lines != scaleJobs+2 { // header, one line per job, blank line
		t.Errorf("Status printed %d lines, want %d", w.lines, scaleJobs+2)
	}
	for n := 0; n < scaleJobs; n += 2 {
		if err := m.Remove(n); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	m.Flush(&b)
	if want := fmt.Sprintf("Flushing %d Completed jobs.\n", scaleJobs/2); b.String() != want {
		t.Errorf("Flush printed %q, want %q", b.String(), want)
	}
	if m.Len() != scaleJobs/2 {
		t.Errorf("Len() = %d, want the %d removed jobs", m.Len(), scaleJobs/2)
	}
	if j, err := m.Get(scaleJobs - 2); err != nil || j.Num() != scaleJobs-2 {
		t.Errorf("Get(%d) = %v, %v", scaleJobs-2, j, err)
	}
	m.Status(io.Discard)
}
