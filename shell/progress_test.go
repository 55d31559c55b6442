package shell

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// termBuffer records what is written to the terminal.
type termBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (t *termBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.b.Write(p)
}

func (t *termBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.b.String()
}

// lastLine returns the last line a terminal would show for s (carriage
// returns go back to the start of the line, ESC[K erases to its end).
func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	var line []rune
	col := 0
	for i := 0; i < len(s); {
		switch {
		case s[i] == '\r':
			col = 0
			i++
		case strings.HasPrefix(s[i:], "\x1b[K"):
			line = line[:col]
			i += 3
		default:
			r := []rune(s[i:])[0]
			if col < len(line) {
				line[col] = r
			} else {
				line = append(line, r)
			}
			col++
			i += len(string(r))
		}
	}
	return string(line)
}

func TestProgressShortOperationDrawsNothing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var term termBuffer
		p := NewProgressLine(&term, nil, 0)
		bar := p.Start("tc.map", 10)
		time.Sleep(DefaultProgressDelay - time.Millisecond)
		bar.Set(10)
		bar.Done()
		if term.String() != "" {
			t.Errorf("a short operation wrote %q", term.String())
		}
	})
}

func TestProgressBar(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var term termBuffer
		p := NewProgressLine(&term, func() int { return 60 }, time.Second)
		out := p.Writer(&term)
		bar := p.Start("tc.map", 200)
		bar.Set(50)
		time.Sleep(time.Second)
		synctest.Wait()
		want := "tc.map [========>                          ]  50/200   1.0s"
		if got := lastLine(term.String()); got != want {
			t.Errorf("after the delay the screen shows\n%q, want\n%q", got, want)
		}
		if len(want) != 59 {
			t.Errorf("the bar is %d columns wide on a terminal of 60, want 59", len(want))
		}

		// A line written meanwhile goes above the bar.
		out.Write([]byte("[job 1 completed] x\n"))
		lines := strings.Split(term.String(), "\n")
		if got := lastLine(lines[len(lines)-2]); got != "[job 1 completed] x" {
			t.Errorf("the notice line shows %q", got)
		}
		if got := lastLine(term.String()); got != want {
			t.Errorf("after the notice the screen shows %q, want the bar again", got)
		}

		bar.Set(200)
		time.Sleep(progressRefresh)
		synctest.Wait()
		if got := lastLine(term.String()); got != "tc.map [===================================] 200/200   1.1s" {
			t.Errorf("at the end the screen shows %q", got)
		}
		bar.Done()
		if got := lastLine(term.String()); got != "" {
			t.Errorf("after Done the line shows %q, want it erased", got)
		}
		bar.Done() // twice is harmless
		before := term.String()
		out.Write([]byte("x\n"))
		if got := strings.TrimPrefix(term.String(), before); got != "x\n" {
			t.Errorf("with no bar, a write gives %q", got)
		}
	})
}

func TestProgressOneBarAtATime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var term termBuffer
		p := NewProgressLine(&term, nil, time.Millisecond)
		a := p.Start("a", 2)
		b := p.Start("b", 2) // shows nothing while a is active
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		b.Done()
		if got := lastLine(term.String()); !strings.HasPrefix(got, "a [") {
			t.Errorf("screen %q, want bar a", got)
		}
		a.Done()
		c := p.Start("c", 2) // a new bar once a is done
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		if got := lastLine(term.String()); !strings.HasPrefix(got, "c [") {
			t.Errorf("screen %q, want bar c", got)
		}
		c.Done()
	})
}

func TestProgressNarrowTerminal(t *testing.T) {
	t.Parallel()
	b := &progressBar{title: "tc.barrier", total: 1000, start: time.Now()}
	b.Set(3)
	tests := []struct {
		cols int
		want string
	}{
		{80, "tc.barrier [>                                       ]    3/1000   0.0s"},
		{30, "tc.barrier    3/1000   0.0s"},
		{10, "tc.barrie"},
	}
	for _, tt := range tests {
		got := b.text(tt.cols)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%d columns: (-want +got)\n%s", tt.cols, diff)
		}
		if len(got) >= tt.cols {
			t.Errorf("%d columns: %d wide", tt.cols, len(got))
		}
	}
}
