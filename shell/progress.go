package shell

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drover-dev/drover/script"
)

// Progress bar defaults.
const (
	// DefaultProgressDelay is how long a foreground operation runs before
	// its progress bar appears: shorter operations show nothing.
	DefaultProgressDelay = 500 * time.Millisecond
	// progressRefresh is how often a visible bar is redrawn.
	progressRefresh = 100 * time.Millisecond
	// progressBarWidth bounds the width of the bar itself.
	progressBarWidth = 40
)

// ProgressLine draws the progress bar of a foreground operation (tc.map,
// tc.barrier) on one terminal line, rewritten in place with a carriage
// return, and erased when the operation ends; an operation that ends within
// the delay draws nothing. Use it as script.Config.Progress (Start) and
// route every other output to the same terminal through Writer, so that a
// line printed while a bar is visible (a job's notice) does not mix with
// it: the bar is erased, the line written, the bar drawn again.
//
// One bar is shown at a time; a bar started while another is active shows
// nothing. Only foreground operations start bars (the session calls
// Progress on its own thread, never on a job's), so no bar is ever drawn
// over a live prompt. A ProgressLine is safe for concurrent use.
type ProgressLine struct {
	w     io.Writer  // the terminal
	width func() int // the terminal's width in columns
	delay time.Duration

	mu     sync.Mutex   // serializes drawing and the wrapped writers' writes
	active *progressBar // guarded by mu: the bar started last, until Done
	shown  string       // guarded by mu: the text of the visible bar, or ""
}

// NewProgressLine returns a ProgressLine drawing on w (a terminal), whose
// width width reports (nil, or a result <= 0: 80 columns). delay is how long
// an operation must run for its bar to appear (0: DefaultProgressDelay).
func NewProgressLine(w io.Writer, width func() int, delay time.Duration) *ProgressLine {
	if delay <= 0 {
		delay = DefaultProgressDelay
	}
	return &ProgressLine{w: w, width: width, delay: delay}
}

// Writer returns a writer to out (the terminal, or a writer that ends on
// it) that erases the visible bar before each write and draws it again
// after.
func (p *ProgressLine) Writer(out io.Writer) io.Writer { return &progressWriter{p: p, out: out} }

type progressWriter struct {
	p   *ProgressLine
	out io.Writer
}

func (pw *progressWriter) Write(b []byte) (int, error) {
	p := pw.p
	p.mu.Lock()
	defer p.mu.Unlock()
	shown := p.shown
	if shown != "" {
		p.erase()
	}
	n, err := pw.out.Write(b)
	if shown != "" {
		p.draw(shown)
	}
	return n, err
}

// Start begins a bar for an operation of total steps (script.Config.Progress).
func (p *ProgressLine) Start(title string, total int) script.ProgressBar {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.active != nil {
		return nopBar{}
	}
	b := &progressBar{p: p, title: title, total: total, start: time.Now(),
		stop: make(chan struct{}), finished: make(chan struct{})}
	p.active = b
	go b.run()
	return b
}

// erase clears the bar's line; p.mu is held.
func (p *ProgressLine) erase() {
	io.WriteString(p.w, "\r\x1b[K")
	p.shown = ""
}

// draw writes text as the bar's line; p.mu is held.
func (p *ProgressLine) draw(text string) {
	io.WriteString(p.w, "\r"+text+"\x1b[K")
	p.shown = text
}

func (p *ProgressLine) columns() int {
	if p.width != nil {
		if w := p.width(); w > 0 {
			return w
		}
	}
	return 80
}

// progressBar is one operation's bar. Its goroutine waits for the delay,
// then redraws the bar until Done.
type progressBar struct {
	p     *ProgressLine
	title string
	total int
	start time.Time
	done  atomic.Int64

	stop     chan struct{} // closed by Done
	finished chan struct{} // closed when run has returned
	once     sync.Once
}

func (b *progressBar) Set(done int) { b.done.Store(int64(done)) }

func (b *progressBar) Done() {
	b.once.Do(func() {
		close(b.stop)
		<-b.finished
		b.p.mu.Lock()
		if b.p.active == b {
			b.p.active = nil
		}
		b.p.mu.Unlock()
	})
}

func (b *progressBar) run() {
	defer close(b.finished)
	delay := time.NewTimer(b.p.delay)
	defer delay.Stop()
	select {
	case <-delay.C:
	case <-b.stop:
		return
	}
	tick := time.NewTicker(progressRefresh)
	defer tick.Stop()
	for {
		b.p.mu.Lock()
		b.p.draw(b.text(b.p.columns()))
		b.p.mu.Unlock()
		select {
		case <-tick.C:
		case <-b.stop:
			b.p.mu.Lock()
			b.p.erase()
			b.p.mu.Unlock()
			return
		}
	}
}

// text renders the bar to fit in cols columns:
//
//	tc.map [==========>         ]  512/1000  3.2s
func (b *progressBar) text(cols int) string {
	done := min(int(b.done.Load()), b.total)
	secs := time.Since(b.start).Seconds()
	tail := fmt.Sprintf(" %*d/%d %5.1fs", len(fmt.Sprint(b.total)), done, b.total, secs)
	room := cols - 1 - len(b.title) - len(tail) - 3 // " [" and "]"
	width := min(progressBarWidth, room)
	if width < 5 {
		line := b.title + tail
		if len(line) > cols-1 {
			line = line[:max(0, cols-1)]
		}
		return line
	}
	fill := 0
	if b.total > 0 {
		fill = done * width / b.total
	}
	bar := strings.Repeat("=", fill)
	if fill < width {
		bar += ">" + strings.Repeat(" ", width-fill-1)
	}
	return b.title + " [" + bar + "]" + tail
}

// nopBar shows nothing.
type nopBar struct{}

func (nopBar) Set(int) {}
func (nopBar) Done()   {}
