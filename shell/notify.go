package shell

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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

// Notices of jobs that finish together are written together: the Notifier
// waits until no notice has come for noticeQuiet (at most noticeMaxDelay
// after the first), then writes them all, coalesced (FormatNotices).
const (
	noticeQuiet    = 30 * time.Millisecond
	noticeMaxDelay = 300 * time.Millisecond
)

// maxSingles is the number of jobs of one kind (completed, dead, killed)
// in a batch of notices that get a line each; more get one line for all.
const maxSingles = 3

// FormatNotices returns the notices (with their newlines) for jobs that
// finished together, in the order of their numbers. One job gets its
// FormatNotice line. Of several, up to three completed jobs get a line
// each, more get one line for all of them:
//
//	[jobs 0-299 completed]
//	[jobs 3, 5-9, 12 completed]
//
// and likewise the dead jobs ("[jobs 4-8 dead] see jobs.traceback()") and
// the killed ones ("[jobs 1-5 killed]"). A list of numbers longer than
// about 60 characters is cut ("[jobs 0, 2, 4, ..., 598 completed (300
// jobs)]"). The lines are sorted by the first job number they name.
func FormatNotices(jobs []*bgjob.Job) string {
	if len(jobs) == 0 {
		return ""
	}
	if len(jobs) == 1 {
		return FormatNotice(jobs[0])
	}
	sorted := slices.Clone(jobs)
	slices.SortFunc(sorted, func(a, b *bgjob.Job) int { return cmp.Compare(a.Num(), b.Num()) })
	sorted = slices.CompactFunc(sorted, func(a, b *bgjob.Job) bool { return a.Num() == b.Num() })
	type line struct {
		first int
		text  string
	}
	var lines []line
	groups := map[string][]*bgjob.Job{}
	var order []string
	for _, j := range sorted {
		k := noticeKind(j)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], j)
	}
	for _, k := range order {
		g := groups[k]
		if len(g) <= maxSingles || k == "running" {
			for _, j := range g {
				lines = append(lines, line{j.Num(), FormatNotice(j)})
			}
			continue
		}
		nums := make([]int, len(g))
		for i, j := range g {
			nums[i] = j.Num()
		}
		text := "[jobs " + numberList(nums) + " " + k + "]"
		if k == "dead" {
			text += " see jobs.traceback()"
		}
		lines = append(lines, line{nums[0], text + "\n"})
	}
	slices.SortStableFunc(lines, func(a, b line) int { return cmp.Compare(a.first, b.first) })
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
	}
	return b.String()
}

// noticeKind is the word of a job's notice: completed, dead, killed or
// running.
func noticeKind(j *bgjob.Job) string {
	switch j.State() {
	case bgjob.Completed:
		return "completed"
	case bgjob.Dead:
		if _, err := j.Value(); errors.Is(err, bgjob.ErrKilled) {
			return "killed"
		}
		return "dead"
	}
	return "running"
}

// numberList returns sorted, distinct job numbers as ranges ("0-2, 5,
// 9-11"), cut to about noticeWidth characters: "0, 2, 4, ..., 98 (50
// jobs)".
func numberList(nums []int) string {
	var parts []string
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(nums[i]))
		} else {
			parts = append(parts, strconv.Itoa(nums[i])+"-"+strconv.Itoa(nums[j]))
		}
		i = j + 1
	}
	full := strings.Join(parts, ", ")
	if len(full) <= noticeWidth {
		return full
	}
	last := parts[len(parts)-1]
	var b strings.Builder
	for _, p := range parts[:len(parts)-1] {
		if b.Len()+len(p)+2 > noticeWidth-len(last)-len(", ..., ")-12 {
			break
		}
		b.WriteString(p + ", ")
	}
	return fmt.Sprintf("%s..., %s (%d jobs)", b.String(), last, len(nums))
}

// Notifier writes the notices (FormatNotices) of the jobs handed to
// Notify, from a goroutine of its own, so that Notify never blocks the job
// that calls it (it is meant for script.Config.OnJobFinish). Notices that
// arrive together (no more than a few tens of milliseconds apart) are
// written together, coalesced, with one Write call. It is safe for
// concurrent use.
type Notifier struct {
	w io.Writer

	mu     sync.Mutex   // guards queue and closed
	queue  []*bgjob.Job // written by Notify, drained by run
	closed bool

	wake    chan struct{} // capacity 1: queue is non-empty or closed
	closing chan struct{} // closed by Close: write at once
	once    sync.Once     // closes closing
	done    chan struct{} // closed when run has returned
}

// NewNotifier starts a Notifier writing to w. Close stops it.
func NewNotifier(w io.Writer) *Notifier {
	n := &Notifier{
		w:       w,
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
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
	n.once.Do(func() { close(n.closing) })
	n.poke()
	<-n.done
}

func (n *Notifier) run() {
	defer close(n.done)
	for range n.wake {
		n.gather()
		n.mu.Lock()
		batch, closed := n.queue, n.closed
		n.queue = nil
		n.mu.Unlock()
		if text := FormatNotices(batch); text != "" {
			_, _ = io.WriteString(n.w, text)
		}
		if closed {
			return
		}
	}
}

// gather waits until no notice has arrived for noticeQuiet, at most
// noticeMaxDelay, or until Close.
func (n *Notifier) gather() {
	limit := time.NewTimer(noticeMaxDelay)
	defer limit.Stop()
	quiet := time.NewTimer(noticeQuiet)
	defer quiet.Stop()
	for {
		select {
		case <-n.closing:
			return
		case <-limit.C:
			return
		case <-quiet.C:
			return
		case <-n.wake:
			quiet.Reset(noticeQuiet)
		}
	}
}
