package shell

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ergochat/readline"
)

// history is the interactive shell's input history: one entry per
// statement (or magic) typed, a multi-line statement being one entry whose
// lines are joined with "\n", indentation intact, as Python 3.13 and
// IPython keep them. The shell manages it, not the line editor: readline
// v0.1.3 stores one line per entry and trims each line it reads back from
// its file, which loses the indentation of a block.
//
// The file holds one entry per line; inside an entry, the line breaks are
// written "\r\n" (the format of Python 3.13's history file), so a file of
// single-line entries (drover's older format, or GNU readline's) reads
// back unchanged. New entries are appended as they are entered; the file
// is cut to the last limit entries when the shell starts.
//
// A history is used by the shell's goroutine only.
type history struct {
	entries []string
	limit   int
	f       *os.File // append handle; nil: no file

	inEditor bool     // the line editor has been given the entries
	pending  []string // entries added since, not yet given to it
}

// openHistory reads the history file at path (if any; path "" means no
// file) and opens it for appending, creating it and its directory (mode
// 0700) if missing. When the file cannot be used, it returns a history
// without a file and the error, which the shell reports once.
func openHistory(path string, limit int) (*history, error) {
	h := &history{limit: limit}
	if path == "" {
		return h, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return h, err
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return h, err
	}
	all := decodeHistory(data)
	h.entries = all[max(0, len(all)-limit):]
	if len(all) > limit {
		if err := writeHistory(path, h.entries); err != nil {
			return h, err
		}
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return h, err
	}
	h.f = f
	return h, nil
}

// add records entry (trailing blank lines removed), unless it is blank or
// repeats the last entry, and appends it to the file. A failed write is
// returned; the entry is kept in memory anyway.
func (h *history) add(entry string) error {
	entry = trimBlankLines(entry)
	if strings.TrimSpace(entry) == "" || len(h.entries) > 0 && h.entries[len(h.entries)-1] == entry {
		return nil
	}
	h.entries = append(h.entries, entry)
	h.pending = append(h.pending, entry)
	if len(h.entries) > h.limit {
		h.entries = h.entries[len(h.entries)-h.limit:]
	}
	if h.f == nil {
		return nil
	}
	if _, err := h.f.WriteString(encodeHistoryEntry(entry)); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}

// sync prepares the line editor for the next prompt: it gives it the
// entries added since the last sync, and puts its place in the history back
// to the end, forgetting the edits made to recalled entries (with
// DisableAutoSaveHistory, readline would otherwise stay on the entry last
// recalled, and show the previous line again below the newest entry).
func (h *history) sync(rl *readline.Instance) {
	if !h.inEditor {
		// readline's history has no entries: it cannot be reset with
		// SaveToHistory("") (that would add an empty entry), so give it
		// everything afresh.
		rl.ResetHistory()
		for _, e := range h.entries {
			_ = rl.SaveToHistory(e) // cannot fail: the editor has no file
		}
		h.inEditor, h.pending = len(h.entries) > 0, nil
		return
	}
	_ = rl.SaveToHistory("") // back to the end
	for _, e := range h.pending {
		_ = rl.SaveToHistory(e)
	}
	h.pending = nil
}

// close closes the file.
func (h *history) close() {
	if h.f != nil {
		h.f.Close()
		h.f = nil
	}
}

// trimBlankLines removes the blank lines at the end of s (the empty line
// that ends a block).
func trimBlankLines(s string) string {
	for {
		i := strings.LastIndexByte(s, '\n')
		if i < 0 || strings.TrimSpace(s[i+1:]) != "" {
			return s
		}
		s = s[:i]
	}
}

// encodeHistoryEntry returns the line of the history file for entry.
func encodeHistoryEntry(entry string) string {
	return strings.ReplaceAll(entry, "\n", "\r\n") + "\n"
}

// decodeHistory returns the entries of a history file: a line that ends
// in "\r" continues on the next line. Blank entries are dropped.
func decodeHistory(data []byte) []string {
	var entries []string
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutSuffix(line, "\r"); ok {
			cur.WriteString(rest + "\n")
			continue
		}
		cur.WriteString(line)
		if e := trimBlankLines(cur.String()); strings.TrimSpace(e) != "" {
			entries = append(entries, e)
		}
		cur.Reset()
	}
	if e := trimBlankLines(cur.String()); strings.TrimSpace(e) != "" {
		entries = append(entries, e) // the file ends after a "\r"
	}
	return entries
}

// writeHistory replaces the file at path with entries (through a temporary
// file and a rename, so that a crash leaves the old file or the new one).
func writeHistory(path string, entries []string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".history-*")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(tmp)
	for _, e := range entries {
		w.WriteString(encodeHistoryEntry(e))
	}
	err = w.Flush()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("rewrite history %s: %w", path, err)
	}
	return nil
}
