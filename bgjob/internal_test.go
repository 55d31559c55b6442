package bgjob

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestTailBuf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		limit       int
		writes      []string
		want        string
		wantDropped int64
	}{
		{"empty", 4, nil, "", 0},
		{"fits", 8, []string{"ab", "cd"}, "abcd", 0},
		{"exactly full", 4, []string{"ab", "cd"}, "abcd", 0},
		{"wraps", 4, []string{"abc", "def"}, "[2 bytes dropped]\ncdef", 2},
		{"wraps twice", 4, []string{"abc", "def", "ghi"}, "[5 bytes dropped]\nfghi", 5},
		{"one big write", 4, []string{"abcdefgh"}, "[4 bytes dropped]\nefgh", 4},
		{"big write after small", 4, []string{"xy", "abcdefgh", "i"}, "[7 bytes dropped]\nfghi", 7},
		{"many small", 3, []string{"a", "b", "c", "d", "e"}, "[2 bytes dropped]\ncde", 2},
		// "é" is 2 bytes: the kept tail must not start inside it.
		{"rune boundary", 4, []string{"aaé", "bcd"}, "[4 bytes dropped]\nbcd", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := &tailBuf{limit: tt.limit}
			for _, w := range tt.writes {
				if n, err := b.WriteString(w); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			got, dropped := b.text()
			if got != tt.want || dropped != tt.wantDropped {
				t.Errorf("text() = %q, %d; want %q, %d", got, dropped, tt.want, tt.wantDropped)
			}
		})
	}
}

func TestLastLines(t *testing.T) {
	t.Parallel()
	b := &tailBuf{limit: 1 << 10}
	b.WriteString("1\n2\n3\n4\n")
	tests := []struct {
		n, max int
		want   string
	}{
		{2, 100, "3\n4"},
		{10, 100, "1\n2\n3\n4"},
		{10, 5, "3\n4"}, // the byte cap drops the partial line
		{0, 100, ""},
	}
	for _, tt := range tests {
		if got := b.lastLines(tt.n, tt.max); got != tt.want {
			t.Errorf("lastLines(%d, %d) = %q, want %q", tt.n, tt.max, got, tt.want)
		}
	}
}

// FuzzTailBuf checks the ring buffer against the obvious model: keep every
// byte, then take the last limit.
func FuzzTailBuf(f *testing.F) {
	f.Add(uint8(4), []byte("hello world, this is a test"), []byte{3, 1, 7, 0, 12})
	f.Add(uint8(1), []byte("abc"), []byte{1, 1, 1})
	f.Fuzz(func(t *testing.T, limit uint8, data []byte, sizes []byte) {
		lim := int(limit)%64 + 1
		b := &tailBuf{limit: lim}
		var all []byte
		rest := data
		for _, s := range sizes {
			n := min(int(s), len(rest))
			b.Write(rest[:n])
			all = append(all, rest[:n]...)
			rest = rest[n:]
		}
		b.Write(rest)
		all = append(all, rest...)
		kept, dropped := b.snapshot()
		want := all[max(0, len(all)-lim):]
		// snapshot may skip up to 3 leading continuation bytes.
		if !bytes.HasSuffix(want, kept) || len(want)-len(kept) > 3 {
			t.Fatalf("kept %q, want a suffix of %q", kept, want)
		}
		if dropped != int64(len(all)-len(kept)) {
			t.Fatalf("dropped %d, want %d", dropped, len(all)-len(kept))
		}
		if len(b.b) > lim || cap(b.b) > max(lim, 256) {
			t.Fatalf("buffer len %d cap %d exceeds the limit %d", len(b.b), cap(b.b), lim)
		}
	})
}

func newTestManager(t *testing.T) *Manager {
	t.Helper()
	m, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = m.Close(ctx)
	})
	return m
}

func constFunc(v any) Func { return func(context.Context) (any, error) { return v, nil } }

// TestCreatedJob covers the Created state: a registered job that New has
// not started yet (New returns jobs already Running).
func TestCreatedJob(t *testing.T) {
	t.Parallel()
	m := newTestManager(t)
	j, err := m.register(Options{Name: "created"}, constFunc(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if j.State() != Created || j.Status() != "Created" || j.Result() != resultNotCompleted {
		t.Errorf("state %v result %v", j.State(), j.Result())
	}
	if !j.Started().IsZero() || j.Duration() != 0 {
		t.Errorf("Started %v Duration %v for a Created job", j.Started(), j.Duration())
	}
	// Remove of a Created job silently does nothing; it is treated as running.
	if err := m.Remove(j.Num()); err != nil {
		t.Errorf("Remove(created) = %v, want nil", err)
	}
	var b strings.Builder
	m.Status(&b)
	if b.String() != "Running jobs:\n0 : created\n\n" {
		t.Errorf("Status = %q", b.String())
	}
	b.Reset()
	m.Flush(&b)
	if b.String() != "No jobs to flush.\n" {
		t.Errorf("Flush = %q", b.String())
	}
	j.start()
	<-j.Done()
	if j.Result() != 1 {
		t.Errorf("Result() = %v", j.Result())
	}
}

// TestKilledBeforeStart: a job killed while Created never runs.
func TestKilledBeforeStart(t *testing.T) {
	t.Parallel()
	m := newTestManager(t)
	ran := false
	j, err := m.register(Options{}, func() { ran = true }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Kill(); err != nil {
		t.Fatal(err)
	}
	j.start()
	<-j.Done()
	if ran {
		t.Error("a job killed while Created ran")
	}
	_, jerr := j.Value()
	if j.State() != Dead || !errors.Is(jerr, ErrKilled) || j.Traceback() != "job killed\nkilled before it ran" {
		t.Errorf("state %v error %v traceback %q", j.State(), jerr, j.Traceback())
	}
}

// TestLazyUpdate: a finished job stays in the running list until an update.
func TestLazyUpdate(t *testing.T) {
	t.Parallel()
	m := newTestManager(t)
	j, err := m.New(constFunc(1))
	if err != nil {
		t.Fatal(err)
	}
	<-j.Done()
	m.mu.Lock()
	inRunningBefore := j.where == inRunning && len(m.pending) == 1
	m.mu.Unlock()
	if !inRunningBefore {
		t.Error("a finished job left the running list before any update")
	}
	if got := m.Completed(); len(got) != 1 || got[0] != j {
		t.Errorf("Completed() = %v", got)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if j.where != inCompleted || len(m.pending) != 0 || m.running.len() != 0 {
		t.Errorf("after update: where %v pending %d running %d", j.where, len(m.pending), m.running.len())
	}
}

// TestListCompaction: removing many jobs keeps the lists' order and size
// right through compactions.
func TestListCompaction(t *testing.T) {
	t.Parallel()
	m := newTestManager(t)
	const n = 500
	for range n {
		j, err := m.New(constFunc(nil))
		if err != nil {
			t.Fatal(err)
		}
		<-j.Done()
	}
	m.Completed()
	var want []int
	for i := range n {
		if i%3 == 0 {
			if err := m.Remove(i); err != nil {
				t.Fatal(err)
			}
		} else {
			want = append(want, i)
		}
	}
	var got []int
	for _, j := range m.Completed() {
		got = append(got, j.num)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("completed after removals (-want +got):\n%s", diff)
	}
	m.mu.Lock()
	holes, size := m.done.holes, len(m.done.jobs)
	m.mu.Unlock()
	if holes != 0 || size != len(want) {
		t.Errorf("holes %d size %d after a snapshot", holes, size)
	}
}

func TestTailBufChanged(t *testing.T) {
	t.Parallel()
	b := &tailBuf{limit: 8}
	ch := b.changed()
	if b.changed() != ch {
		t.Error("changed() returned a new channel with no write in between")
	}
	select {
	case <-ch:
		t.Fatal("closed before a write")
	default:
	}
	b.WriteString("x")
	<-ch // closed by the write
	if b.changed() == ch {
		t.Error("changed() returned the closed channel")
	}
}

// TestLastLinesRuneBoundary: cut by the byte cap inside a line, the tail
// does not start in the middle of a UTF-8 sequence.
func TestLastLinesRuneBoundary(t *testing.T) {
	t.Parallel()
	b := &tailBuf{limit: 1 << 12}
	b.WriteString(strings.Repeat("é", 1500) + "a") // no newline; 3001 bytes
	got := b.lastLines(10, 2048)
	if !utf8.ValidString(got) {
		t.Errorf("lastLines starts inside a rune: %q...", got[:4])
	}
	if want := strings.Repeat("é", 1023) + "a"; got != want {
		t.Errorf("lastLines = %d bytes, want the last %d", len(got), len(want))
	}
}
