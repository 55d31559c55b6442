package script

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStarlarkFiles runs every testdata/*.star file as a test, in a fresh
// session with the test built-ins (assert_eq, assert_true, assert_fails,
// capture, gate; see main_test.go). A file fails if it raises an error.
func TestStarlarkFiles(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.star"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.star files")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".star")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ts := newTestSession(t, &Config{Args: []string{"one", "two"}})
			if err := ts.ExecFile(t.Context(), file, src); err != nil {
				t.Fatalf("%s\nstdout:\n%s\nstderr:\n%s", FormatError(err), ts.out, ts.err)
			}
		})
	}
}
