package shell

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeHistory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file string
		want       []string
	}{
		{"empty", "", nil},
		{"one line each, indentation kept", "x = 1\n    y\n\n  \n", []string{"x = 1", "    y"}},
		{"a block", "def q(x):\r\n    y = x * 2\r\n    return y\nq(2)\n", []string{"def q(x):\n    y = x * 2\n    return y", "q(2)"}},
		{"a block with a blank line", "def f():\r\n    a = 1\r\n\r\n    return a\n", []string{"def f():\n    a = 1\n\n    return a"}},
		{"no final newline", "a\nb", []string{"a", "b"}},
		{"cut after a continuation", "a\nif x:\r", []string{"a", "if x:"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, decodeHistory([]byte(tt.file))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// FuzzHistoryRoundTrip: the history file is read back as it was written,
// whatever the entries, and decoding any file never fails.
func FuzzHistoryRoundTrip(f *testing.F) {
	f.Add("def f():\n    return 1", "x = 1")
	f.Add("a\r\nb", "\n\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		var file strings.Builder
		var want []string
		for _, e := range []string{a, b} {
			e = trimBlankLines(e)
			if strings.TrimSpace(e) == "" || strings.Contains(e, "\r") {
				continue // never entered: readline's lines hold no "\r"
			}
			file.WriteString(encodeHistoryEntry(e))
			want = append(want, e)
		}
		if diff := cmp.Diff(want, decodeHistory([]byte(file.String()))); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		decodeHistory([]byte(a + "\r" + b))
	})
}

// TestHistoryFile: entries are appended as they come (a repeat of the last
// entry is not), and the file is cut to the limit when it is opened.
func TestHistoryFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "history")
	h, err := openHistory(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"a", "a", "def f():\n    return 1\n", "  ", "b", "c"} {
		if err := h.add(e); err != nil {
			t.Fatal(err)
		}
	}
	h.close()
	if diff := cmp.Diff([]string{"def f():\n    return 1", "b", "c"}, h.entries); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\ndef f():\r\n    return 1\nb\nc\n"; string(data) != want {
		t.Errorf("file %q, want %q", data, want)
	}
	h, err = openHistory(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	h.close()
	if diff := cmp.Diff([]string{"def f():\n    return 1", "b", "c"}, h.entries); diff != "" {
		t.Errorf("entries read back (-want +got):\n%s", diff)
	}
	if data, _ := os.ReadFile(path); string(data) != "def f():\r\n    return 1\nb\nc\n" {
		t.Errorf("file not cut to the limit: %q", data)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode: %v %v", fi.Mode(), err)
	}
	// A history file that cannot be opened: no file, an error to report.
	if _, err := openHistory(filepath.Join(path, "x"), 3); err == nil {
		t.Error("openHistory under a regular file succeeded")
	}
}
