package bgjob

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// tailBuf keeps the last limit bytes written to it, and counts the rest.
// Its storage grows on demand up to limit, so a job that prints nothing costs
// nothing. It is safe for concurrent use.
type tailBuf struct {
	mu    sync.Mutex
	limit int
	b     []byte // len(b) < limit: not yet wrapped, data is b; else ring from start
	start int    // when len(b) == limit: index of the oldest byte
	total int64  // bytes ever written
	// notify, if not nil, is closed (and reset to nil) by the next Write.
	notify chan struct{}
}

// changed returns a channel closed by the next Write.
func (t *tailBuf) changed() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.notify == nil {
		t.notify = make(chan struct{})
	}
	return t.notify
}

// Write keeps the tail of p. It never fails.
func (t *tailBuf) Write(p []byte) (int, error) {
	n := len(p)
	if n == 0 {
		return 0, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += int64(n)
	if t.notify != nil {
		close(t.notify)
		t.notify = nil
	}
	lim := t.limit
	if n >= lim {
		if cap(t.b) < lim {
			t.b = make([]byte, lim)
		}
		t.b = t.b[:lim]
		copy(t.b, p[n-lim:])
		t.start = 0
		return n, nil
	}
	if len(t.b) < lim {
		room := lim - len(t.b)
		if n <= room {
			if len(t.b)+n > cap(t.b) {
				c := max(2*cap(t.b), len(t.b)+n, 256)
				nb := make([]byte, len(t.b), min(c, lim))
				copy(nb, t.b)
				t.b = nb
			}
			t.b = append(t.b, p...)
			return n, nil
		}
		if cap(t.b) < lim {
			nb := make([]byte, len(t.b), lim)
			copy(nb, t.b)
			t.b = nb
		}
		t.b = append(t.b, p[:room]...)
		p = p[room:]
		t.start = 0
	}
	for len(p) > 0 {
		c := copy(t.b[t.start:], p)
		p = p[c:]
		t.start += c
		if t.start == lim {
			t.start = 0
		}
	}
	return n, nil
}

// WriteString is Write for strings (io.StringWriter).
func (t *tailBuf) WriteString(s string) (int, error) { return t.Write([]byte(s)) }

// snapshot returns the kept bytes (starting at a rune boundary) and the
// number of bytes not kept.
func (t *tailBuf) snapshot() ([]byte, int64) {
	t.mu.Lock()
	var out []byte
	if len(t.b) < t.limit || t.start == 0 {
		out = append([]byte(nil), t.b...)
	} else {
		out = make([]byte, 0, len(t.b))
		out = append(out, t.b[t.start:]...)
		out = append(out, t.b[:t.start]...)
	}
	total := t.total
	t.mu.Unlock()
	dropped := total - int64(len(out))
	if dropped > 0 {
		// Do not start in the middle of a UTF-8 sequence.
		i := 0
		for i < len(out) && i < utf8.UTFMax-1 && !utf8.RuneStart(out[i]) {
			i++
		}
		out = out[i:]
		dropped += int64(i)
	}
	return out, dropped
}

// text returns the kept output, preceded by a "[N bytes dropped]" line when
// some was dropped, and the number of bytes dropped.
func (t *tailBuf) text() (string, int64) {
	b, dropped := t.snapshot()
	if dropped == 0 {
		return string(b), 0
	}
	return "[" + itoa64(dropped) + " bytes dropped]\n" + string(b), dropped
}

// lastLines returns at most n lines (and at most maxBytes bytes) from the end
// of the kept output, without a trailing newline.
func (t *tailBuf) lastLines(n, maxBytes int) string {
	if n <= 0 {
		return ""
	}
	b, _ := t.snapshot()
	s := strings.TrimRight(string(b), "\n")
	if len(s) > maxBytes {
		s = s[len(s)-maxBytes:]
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		} else {
			// One long line: at least start at a rune boundary.
			i := 0
			for i < len(s) && i < utf8.UTFMax-1 && !utf8.RuneStart(s[i]) {
				i++
			}
			s = s[i:]
		}
	}
	end := len(s)
	for i := 0; i < n; i++ {
		j := strings.LastIndexByte(s[:end], '\n')
		if j < 0 {
			return s
		}
		end = j
	}
	return s[end+1:]
}

func itoa64(i int64) string { return strconv.FormatInt(i, 10) }
