package bgjob_test

import (
	"io"
	"runtime"
	"testing"
	"weak"

	"github.com/drover-dev/drover/bgjob"
)

// TestFlushReleasesJobs: once flushed, a job (its value, output, context) is
// garbage, even though StatusNew still has to report it.
func TestFlushReleasesJobs(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	var refs []weak.Pointer[bgjob.Job]
	for _, target := range []any{sleeper, crasher} {
		j := mustNew(t, m, target, 1)
		wait(t, j)
		refs = append(refs, weak.Make(j))
	}
	m.Flush(io.Discard)
	runtime.GC()
	for i, r := range refs {
		if r.Value() != nil {
			t.Errorf("flushed job #%d is still reachable", i)
		}
	}
	out, ok := statusNewOf(m)
	if want := "Completed jobs:\n0 : bgjob_test.sleeper\n\nDead, call jobs.traceback() for details jobs:\n1 : bgjob_test.crasher\n\n"; !ok || out != want {
		t.Errorf("StatusNew after Flush = %q, want %q", out, want)
	}
}
