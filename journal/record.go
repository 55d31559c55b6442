package journal

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/drover-dev/drover/drovertype"
)

// FormatVersion is the journal's on-disk format version. A journal written
// with a newer format is refused.
const FormatVersion = 1

// metaKind marks drover's metadata record.
const metaKind = "drover-journal"

// ErrForeign is wrapped by the error of opening a journal whose streams or
// metadata are not a drover journal of this prefix and format.
var ErrForeign = errors.New("not a drover journal")

// ErrCorrupt is wrapped by the errors of decoding a record that is not what
// drover wrote, and by Recover's error for a store that lost its id
// reservation record while it holds results or task records.
var ErrCorrupt = errors.New("corrupt journal record")

// meta is the metadata record (JSON), the first record of a journal.
type meta struct {
	Kind    string `json:"kind"`
	Format  int    `json:"format"`
	Prefix  string `json:"prefix"`
	Created string `json:"created,omitempty"`
}

// decodeMeta decodes and checks a metadata record for prefix.
func decodeMeta(data []byte, prefix string) (*meta, error) {
	var m meta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("metadata record: %w: %w", ErrForeign, err)
	}
	switch {
	case m.Kind != metaKind:
		return nil, fmt.Errorf("metadata record: kind %q, want %q: %w", m.Kind, metaKind, ErrForeign)
	case m.Format > FormatVersion:
		return nil, fmt.Errorf("metadata record: format version %d is newer than this drover's %d: %w", m.Format, FormatVersion, ErrForeign)
	case m.Format < 1:
		return nil, fmt.Errorf("metadata record: format version %d: %w", m.Format, ErrForeign)
	case m.Prefix != prefix:
		return nil, fmt.Errorf("metadata record: written for prefix %q, not %q: %w", m.Prefix, prefix, ErrForeign)
	}
	return &m, nil
}

// encodeIDs and decodeIDs are the id block record: the first id never
// reserved, in decimal.
func encodeIDs(limit drovertype.TaskID) []byte {
	return strconv.AppendInt(nil, int64(limit), 10)
}

func decodeIDs(data []byte) (drovertype.TaskID, error) {
	n, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("id block record %q: %w", truncate(data), ErrCorrupt)
	}
	return drovertype.TaskID(n), nil
}

// parseID returns the id at the end of subject after prefix ("P.j.t.17").
func parseID(subject, prefix string) (drovertype.TaskID, error) {
	s, ok := strings.CutPrefix(subject, prefix)
	if !ok {
		return 0, fmt.Errorf("subject %q not under %q: %w", subject, prefix, ErrCorrupt)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("subject %q: bad task id: %w", subject, ErrCorrupt)
	}
	return drovertype.TaskID(n), nil
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// encodeBatch frames task records: a uvarint count, then each record as a
// uvarint length and its bytes.
func encodeBatch(recs [][]byte) []byte {
	size := binary.MaxVarintLen64
	for _, r := range recs {
		size += binary.MaxVarintLen64 + len(r)
	}
	b := make([]byte, 0, size)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, r := range recs {
		b = binary.AppendUvarint(b, uint64(len(r)))
		b = append(b, r...)
	}
	return b
}

// decodeBatch splits what encodeBatch framed. The records alias data.
func decodeBatch(data []byte) ([][]byte, error) {
	n, k := binary.Uvarint(data)
	if k <= 0 || n == 0 || n > uint64(len(data)) {
		return nil, fmt.Errorf("task batch: bad count: %w", ErrCorrupt)
	}
	data = data[k:]
	recs := make([][]byte, 0, n)
	for i := range n {
		l, k := binary.Uvarint(data)
		if k <= 0 || l > uint64(len(data)-k) {
			return nil, fmt.Errorf("task batch: record %d of %d: bad length: %w", i, n, ErrCorrupt)
		}
		recs = append(recs, data[k:k+int(l)])
		data = data[k+int(l):]
	}
	if len(data) != 0 {
		return nil, fmt.Errorf("task batch: %d bytes after the last record: %w", len(data), ErrCorrupt)
	}
	return recs, nil
}

// encodeMark and decodeMark are the watermark record (P.j.m.done): the
// smallest first id of a task message not settled (every task message
// below it is settled: its results were durable, or it was forgotten) and
// a task stream sequence at or below the one of every task message at or
// above that id, in decimal, separated by a space.
func encodeMark(w drovertype.TaskID, start uint64) []byte {
	b := strconv.AppendInt(nil, int64(w), 10)
	b = append(b, ' ')
	return strconv.AppendUint(b, start, 10)
}

func decodeMark(data []byte) (drovertype.TaskID, uint64, error) {
	ws, ss, ok := strings.Cut(string(data), " ")
	w, err1 := strconv.ParseInt(ws, 10, 64)
	s, err2 := strconv.ParseUint(ss, 10, 64)
	if !ok || err1 != nil || err2 != nil || w < 0 {
		return 0, 0, fmt.Errorf("watermark record %q: %w", truncate(data), ErrCorrupt)
	}
	return drovertype.TaskID(w), s, nil
}
