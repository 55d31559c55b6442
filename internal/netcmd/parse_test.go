package netcmd

import (
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseProps(t *testing.T) {
	t.Parallel()
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	got, err := parseProps([]string{
		"host=alpha", "gpu=true", "mem=16", "ratio=0.5", "tags=[\"a\",1]", "cfg={\"k\":null}",
		"huge=123456789012345678901234567890", "quoted=\"x y\"", "eq=a=b", "empty=", "nan=NaN", "two=1 2",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"host": "alpha", "gpu": true, "mem": int64(16), "ratio": 0.5, "tags": []any{"a", int64(1)},
		"cfg": map[string]any{"k": nil}, "huge": big1, "quoted": "x y", "eq": "a=b", "empty": "", "nan": "NaN", "two": "1 2",
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })); diff != "" {
		t.Errorf("parseProps (-want +got):\n%s", diff)
	}
	for _, bad := range [][]string{{"novalue"}, {"=x"}, {"a=1", "a=2"}} {
		if _, err := parseProps(bad); err == nil || !strings.Contains(err.Error(), "--prop") {
			t.Errorf("parseProps(%q) = %v, want an error naming --prop", bad, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want int64
		err  string
	}{
		{"1024", 1024, ""},
		{"512MiB", 512 << 20, ""},
		{"512mib", 512 << 20, ""},
		{"2G", 2 << 30, ""},
		{"1GB", 1e9, ""},
		{"1.5 KiB", 1536, ""},
		{"10b", 10, ""},
		{"", 0, "want a number"},
		{"MiB", 0, "want a number"},
		{"5 parsecs", 0, "unknown unit"},
		{"0", 0, "at least 1 byte"},
		{"1.2.3M", 0, "1.2.3"},
		{"99999999999T", 0, "too large"},
	} {
		got, err := parseSize(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseSize(%q) = %d, %v; want an error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1", "512MiB", "2 G", "1.5kb", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err == nil && n < 1 {
			t.Fatalf("parseSize(%q) = %d without error", s, n)
		}
	})
}

func FuzzPropValue(f *testing.F) {
	for _, s := range []string{"1", "true", "[1,{\"a\":2.5}]", "x", "1e999", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := propValue(s)
		if _, err := parseProps([]string{"k=" + s}); err != nil {
			t.Fatalf("parseProps(k=%q): %v", s, err)
		}
		_ = v
	})
}

func TestChildArgs(t *testing.T) {
	t.Parallel()
	root := testRoot(IO{})
	root.SetArgs([]string{"engine", "-n", "3", "--prop", "a=1", "--prop", "b=x y", "--allow-commands", "--grace", "2s", "--name", "w", "--connect", "f.json"})
	eng, _, err := root.Find([]string{"engine"})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.ParseFlags([]string{"-n", "3", "--prop", "a=1", "--prop", "b=x y", "--allow-commands", "--grace", "2s", "--name", "w", "--connect", "f.json"}); err != nil {
		t.Fatal(err)
	}
	got := childArgs(eng, "/abs/f.json")
	want := []string{"engine", "--allow-commands=true", "--grace=2s", "--prop=a=1", "--prop=b=x y", "-n", "1", "--connect", "/abs/f.json"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("childArgs (-want +got):\n%s", diff)
	}
}
