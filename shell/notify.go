package shell

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/drover-dev/drover/bgjob"
)

// noticeWidth bounds the job description and error text in a notice, so
// that one notice stays one line on a terminal.
const noticeWidth = 60

// FormatNotice returns the one-line notice (with its newline) for a job that
// has finished:
//
//	[job 3 completed] fib(25)
//	[job 4 dead] load("x"): file not found; see jobs.traceback(4)
//	[job 5 killed] sleep 100
//
// The job's string form and the error text are cut to about 60 characters
// (with "..."), and only their first line is shown. A job that has not
// finished gives "[job N running] STR".
func FormatNotice(j *bgjob.Job) string {
	desc := shorten(j.String())
	switch j.State() {
	case bgjob.Completed:
		return fmt.Sprintf("[job %d completed] %s\n", j.Num(), desc)
	case bgjob.Dead:
		_, err := j.Value()
		if errors.Is(err, bgjob.ErrKilled) {
			return fmt.Sprintf("[job %d killed] %s\n", j.Num(), desc)
		}
		msg := "died"
		if err != nil {
			msg = shorten(err.Error())
		}
		return fmt.Sprintf("[job %d dead] %s: %s; see jobs.traceback(%d)\n", j.Num(), desc, msg, j.Num())
	default:
		return fmt.Sprintf("[job %d running] %s\n", j.Num(), desc)
	}
}

// shorten returns the first line of s, cut to noticeWidth runes.
func shorten(s string) string {
	s = strings.TrimSpace(s)
	cut := false
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s, cut = strings.TrimSpace(s[:i]), true
	}
	if r := []rune(s); len(r) > noticeWidth {
		s, cut = string(r[:noticeWidth-3]), true
	}
	if cut {
		s += "..."
	}
	return s
}

// Notifier writes a notice (FormatNotice) for every job handed to Notify,
// from a goroutine of its own, so that Notify never blocks the job that calls
// it (it is meant for script.Config.OnJobFinish). Notices are written in the
// order Notify was called, each with one Write call. It is safe for
// concurrent use.
type Notifier struct {
	w io.Writer

	mu     sync.Mutex   // guards queue and closed
	queue  []*bgjob.Job // written by Notify, drained by run
	closed bool

	wake chan struct{} // capacity 1: queue is non-empty or closed
	done chan struct{} // closed when run has returned
}

// NewNotifier starts a Notifier writing to w. Close stops it.
func NewNotifier(w io.Writer) *Notifier {
	n := &Notifier{
		w:    w,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	go n.run()
	return n
}

// Notify queues the notice for j. After Close it does nothing.
func (n *Notifier) Notify(j *bgjob.Job) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.queue = append(n.queue, j)
	n.mu.Unlock()
	n.poke()
}

func (n *Notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Close writes the notices still queued, stops the goroutine and waits for
// it. Calling it again does nothing.
func (n *Notifier) Close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.poke()
	<-n.done
}

func (n *Notifier) run() {
	defer close(n.done)
	for range n.wake {
		n.mu.Lock()
		batch, closed := n.queue, n.closed
		n.queue = nil
		n.mu.Unlock()
		for _, j := range batch {
			_, _ = io.WriteString(n.w, FormatNotice(j))
		}
		if closed {
			return
		}
	}
}
