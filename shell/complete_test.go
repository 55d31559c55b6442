package shell

import (
	"context"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/script"
)

func newTestShell(t testing.TB) *shell {
	t.Helper()
	sess, err := script.NewSession(&script.Config{Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close(context.Background()) })
	return &shell{sess: sess}
}

func TestCompleter(t *testing.T) {
	t.Parallel()
	sh := newTestShell(t)
	if _, _, err := sh.sess.Exec(t.Context(), "<stdin>", "my_var = 1\nmy_vbr = 2"); err != nil {
		t.Fatal(err)
	}
	c := completer{sh: sh}
	tests := []struct {
		line   string
		pos    int // -1: end of line
		want   []string
		length int
	}{
		{"pri", -1, []string{"nt"}, 3},
		{"x = pri", -1, []string{"nt"}, 3},
		{"my_v", -1, []string{"ar", "br"}, 4},
		{"jobs.stat", -1, []string{"us", "us_new"}, 4},
		{"%jo", -1, []string{"bs"}, 3},
		{"%", -1, []string{"bg", "jobs", "kill", "help"}, 1},
		{"  %k", -1, []string{"ill"}, 2},
		{"pri(my_v)", 3, []string{"nt"}, 3},
		{"'pri", -1, nil, 0},
		{"zzz", -1, nil, 3},
	}
	for _, tt := range tests {
		r := []rune(tt.line)
		pos := tt.pos
		if pos < 0 {
			pos = len(r)
		}
		cands, length := c.Do(r, pos)
		var got []string
		for _, cand := range cands {
			got = append(got, string(cand))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" || length != tt.length {
			t.Errorf("Do(%q, %d): length %d, want %d; candidates (-want +got):\n%s", tt.line, pos, length, tt.length, diff)
		}
	}
}

// FuzzCompleter: completion of any line at any position neither panics nor
// claims more of the line than there is before the cursor.
func FuzzCompleter(f *testing.F) {
	for _, s := range []string{"pri", "jobs.st", "%b", "x.y.z", "'a", "é.", "1.", "a[0].", ""} {
		f.Add(s, len(s))
	}
	sh := newTestShell(f)
	c := completer{sh: sh}
	f.Fuzz(func(t *testing.T, line string, pos int) {
		r := []rune(line)
		if pos < 0 || pos > len(r) {
			pos = len(r)
		}
		cands, length := c.Do(r, pos)
		if length < 0 || length > pos {
			t.Fatalf("Do(%q, %d): length %d", line, pos, length)
		}
		_ = cands
	})
}
