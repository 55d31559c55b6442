package journal

import (
	"bytes"
	"testing"
)

// FuzzDecodeBatch: the task batch framing never panics, and what it
// accepts encodes back to the same bytes.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(encodeBatch([][]byte{[]byte("a"), {}, []byte("xyz")}))
	f.Add([]byte{0xff, 0x00, 'g'})
	f.Add([]byte{1, 5, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := decodeBatch(data)
		if err != nil {
			return
		}
		if got := encodeBatch(recs); !bytes.Equal(got, data) {
			// Non-minimal varints decode too; the records must survive.
			again, err := decodeBatch(got)
			if err != nil || len(again) != len(recs) {
				t.Fatalf("re-encoded batch: %v, %d records, want %d", err, len(again), len(recs))
			}
		}
	})
}

// FuzzDecodeMeta: the metadata record decoder never panics and accepts
// only drover's kind, a known format and the prefix.
func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte(`{"kind":"drover-journal","format":1,"prefix":"drover"}`))
	f.Add([]byte(`{"kind":"drover-journal","format":2,"prefix":"drover"}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMeta(data, "drover")
		if err == nil && (m.Kind != metaKind || m.Format < 1 || m.Format > FormatVersion || m.Prefix != "drover") {
			t.Fatalf("accepted %+v", m)
		}
	})
}

// FuzzDecodeIDs: the id reservation record and subject ids.
func FuzzDecodeIDs(f *testing.F) {
	f.Add([]byte("65536"))
	f.Add([]byte("-1"))
	f.Add([]byte("9999999999999999999999"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if n, err := decodeIDs(data); err == nil && n < 0 {
			t.Fatalf("decoded %d", n)
		}
		if n, err := parseID("p.j.t."+string(data), "p.j.t."); err == nil && (n < 0 || itoa(int64(n)) != string(data)) {
			t.Fatalf("parsed %q as %d", data, n)
		}
	})
}
