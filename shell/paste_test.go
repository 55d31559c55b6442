package shell

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestPasteReader(t *testing.T) {
	t.Parallel()
	const B = pasteBlank
	tests := []struct {
		name, in, want string
	}{
		{"typed keys pass unchanged", "ab\x1b[A\x1bf\x1b\x1b[D\r\t\x1b[12;3R\x1b[20;1R", "ab\x1b[A\x1bf\x1b\x1b[D\r\t\x1b[12;3R\x1b[20;1R"},
		{"brackets are dropped", "\x1b[200~x = 1\x1b[201~", "x = 1"},
		{"blank lines of a paste are marked", "\x1b[200~def f():\r    a = 1\r\r    \r    return a\r\x1b[201~\r",
			"def f():\r    a = 1\r" + B + "\r" + B + "\r    return a\r\r"},
		{"CRLF is one line break", "\x1b[200~a\r\n\r\nb\n\x1b[201~", "a\r" + B + "\rb\r"},
		{"indentation tabs become spaces", "\x1b[200~if x:\r\ty\r  \tz\r\x1b[201~", "if x:\r        y\r        z\r"},
		{"a tab after code stays", "\x1b[200~a\tb\x1b[201~", "a\tb"},
		{"blanks at the end of a paste are kept", "\x1b[200~a\r  \x1b[201~b", "a\r  b"},
		{"an escape cut by the end of input", "a\x1b[20", "a\x1b[20"},
	}
	for _, tt := range tests {
		for _, one := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.in)
			if one {
				r = iotest.OneByteReader(r) // sequences split across reads
			}
			got, err := io.ReadAll(newPasteReader(r))
			if err != nil || string(got) != tt.want {
				t.Errorf("%s (one byte at a time: %v): %q, %v; want %q", tt.name, one, got, err, tt.want)
			}
		}
	}
	if !isPastedBlank(B) || !isPastedBlank("  "+B) || isPastedBlank("") || isPastedBlank("x"+B) {
		t.Error("isPastedBlank")
	}
}

// FuzzPasteReader: any input is read to its end without a panic, and input
// without an escape byte outside of pastes comes out unchanged.
func FuzzPasteReader(f *testing.F) {
	f.Add("\x1b[200~def f():\r\r\treturn 1\r\x1b[201~\r")
	f.Add("plain text\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := io.ReadAll(newPasteReader(iotest.OneByteReader(strings.NewReader(in))))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(in, "\x1b") && string(got) != in {
			t.Errorf("%q came out as %q", in, got)
		}
	})
}
