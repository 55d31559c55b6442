package shell

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/bgjob"
)

// finishedJob runs f as job named name in m and waits for it.
func finishedJob(t *testing.T, m *bgjob.Manager, name string, f bgjob.Func) *bgjob.Job {
	t.Helper()
	j, err := m.NewWith(bgjob.Options{Name: name}, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	return j
}

func newManager(t *testing.T, cfg *bgjob.Config) *bgjob.Manager {
	t.Helper()
	m, err := bgjob.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func TestFormatNotice(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	long := strings.Repeat("x", 100)
	tests := []struct {
		name string
		f    bgjob.Func
		want string
	}{
		{"fib(25)", func(context.Context) (any, error) { return 75025, nil },
			"[job 0 completed] fib(25)\n"},
		{"boom()", func(context.Context) (any, error) { return nil, errors.New("it broke\nsecond line") },
			"[job 1 dead] boom(): it broke...; see jobs.traceback(1)\n"},
		{long, func(context.Context) (any, error) { return nil, nil },
			"[job 2 completed] " + strings.Repeat("x", 57) + "...\n"},
	}
	for _, tt := range tests {
		j := finishedJob(t, m, tt.name, tt.f)
		if diff := cmp.Diff(tt.want, FormatNotice(j)); diff != "" {
			t.Errorf("FormatNotice(%s) (-want +got):\n%s", tt.name, diff)
		}
	}

	// A killed job, and a running one.
	started := make(chan struct{})
	j, err := m.NewWith(bgjob.Options{Name: "sleeper"}, bgjob.Func(func(ctx context.Context) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if got, want := FormatNotice(j), "[job 3 running] sleeper\n"; got != want {
		t.Errorf("FormatNotice(running) = %q, want %q", got, want)
	}
	if err := j.Kill(); err != nil {
		t.Fatal(err)
	}
	j.Wait(t.Context())
	if got, want := FormatNotice(j), "[job 3 killed] sleeper\n"; got != want {
		t.Errorf("FormatNotice(killed) = %q, want %q", got, want)
	}
}

func TestNotifier(t *testing.T) {
	t.Parallel()
	out := newSyncBuffer()
	n := NewNotifier(out)
	m := newManager(t, &bgjob.Config{OnFinish: n.Notify})
	for i := range 3 {
		finishedJob(t, m, fmt.Sprintf("job%d", i), func(context.Context) (any, error) { return i, nil })
	}
	n.Close() // writes what is queued
	n.Close() // and is idempotent
	n.Notify(m.Jobs()[0])
	want := "[job 0 completed] job0\n[job 1 completed] job1\n[job 2 completed] job2\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
}

// finishedJobs makes n finished jobs in m: job i completes, dies or is
// killed as kind(i) says.
func finishedJobs(t *testing.T, m *bgjob.Manager, n int, kind func(int) string) []*bgjob.Job {
	t.Helper()
	var jobs []*bgjob.Job
	for i := range n {
		var f bgjob.Func
		switch kind(i) {
		case "completed":
			f = func(context.Context) (any, error) { return i, nil }
		case "dead":
			f = func(context.Context) (any, error) { return nil, errors.New("boom") }
		case "killed":
			f = func(ctx context.Context) (any, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}
		}
		j, err := m.NewWith(bgjob.Options{Name: fmt.Sprintf("f%d", i)}, f)
		if err != nil {
			t.Fatal(err)
		}
		if kind(i) == "killed" {
			j.Kill()
		}
		if err := j.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	return jobs
}

func TestFormatNotices(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	all := finishedJobs(t, m, 320, func(i int) string {
		switch {
		case i == 150 || i >= 300 && i < 306:
			return "dead"
		case i == 7 || i >= 310:
			return "killed"
		}
		return "completed"
	})
	pick := func(nums ...int) []*bgjob.Job {
		var out []*bgjob.Job
		for _, n := range nums {
			out = append(out, all[n])
		}
		return out
	}
	rng := func(lo, hi int) []int {
		var out []int
		for i := lo; i < hi; i++ {
			out = append(out, i)
		}
		return out
	}
	evens := func(lo, hi int) []int {
		var out []int
		for i := lo; i < hi; i += 2 {
			out = append(out, i)
		}
		return out
	}
	tests := []struct {
		name string
		jobs []*bgjob.Job
		want string
	}{
		{"none", nil, ""},
		{"one job: today's line", pick(3), "[job 3 completed] f3\n"},
		{"a few: a line each, in number order", pick(5, 2, 150, 4),
			"[job 2 completed] f2\n[job 4 completed] f4\n[job 5 completed] f5\n[job 150 dead] f150: boom; see jobs.traceback(150)\n"},
		{"many completed: one line", pick(append(rng(0, 7), rng(8, 150)...)...), "[jobs 0-6, 8-149 completed]\n"},
		{"the same job twice", pick(1, 1), "[job 1 completed] f1\n"},
		{"many of each kind", pick(append(append(rng(0, 150), rng(300, 306)...), rng(310, 320)...)...),
			"[jobs 0-6, 8-149 completed]\n[jobs 7, 310-319 killed]\n[jobs 300-305 dead] see jobs.traceback()\n"},
		{"a long list is cut", pick(evens(0, 150)...), "[jobs 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, ..., 148 (75 jobs) completed]\n"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, FormatNotices(tt.jobs)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use (without the
// channels of syncBuffer, so it can be used in a synctest bubble).
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNotifierCoalesces: notices that arrive together (300 jobs finishing
// out of order, within a burst) are written as one line, in one write;
// one that comes alone later gets its own line.
func TestNotifierCoalesces(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	jobs := finishedJobs(t, m, 301, func(int) string { return "completed" })
	synctest.Test(t, func(t *testing.T) {
		out := &lockedBuffer{}
		n := NewNotifier(out)
		defer n.Close()
		for i := range 300 { // out of order, a little apart
			n.Notify(jobs[(i*7)%300])
			time.Sleep(noticeQuiet / 100)
		}
		synctest.Wait()
		if got := out.String(); got != "" {
			t.Errorf("written during the burst: %q", got)
		}
		time.Sleep(noticeQuiet)
		synctest.Wait()
		if got, want := out.String(), "[jobs 0-299 completed]\n"; got != want {
			t.Errorf("after the burst: %q, want %q", got, want)
		}
		n.Notify(jobs[300])
		time.Sleep(noticeQuiet)
		synctest.Wait()
		if got, want := out.String(), "[jobs 0-299 completed]\n[job 300 completed] f300\n"; got != want {
			t.Errorf("a later notice: %q, want %q", got, want)
		}
	})
}

// TestNotifierMaxDelay: a steady stream of notices is still written every
// noticeMaxDelay.
func TestNotifierMaxDelay(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	jobs := finishedJobs(t, m, 1, func(int) string { return "completed" })
	synctest.Test(t, func(t *testing.T) {
		out := &lockedBuffer{}
		n := NewNotifier(out)
		defer n.Close()
		start := time.Now()
		for out.String() == "" {
			n.Notify(jobs[0])
			time.Sleep(noticeQuiet / 2)
		}
		if d := time.Since(start); d < noticeMaxDelay || d > noticeMaxDelay+noticeQuiet {
			t.Errorf("first write after %v, want about %v", d, noticeMaxDelay)
		}
	})
}

func ExampleFormatNotice() {
	m, _ := bgjob.New(nil)
	defer m.Close(context.Background())
	j, _ := m.NewWith(bgjob.Options{Name: "answer()"}, bgjob.Func(func(context.Context) (any, error) {
		return 42, nil
	}))
	j.Wait(context.Background())
	fmt.Print(FormatNotice(j))
	// Output: [job 0 completed] answer()
}

func ExampleFormatNotices() {
	m, _ := bgjob.New(nil)
	defer m.Close(context.Background())
	var jobs []*bgjob.Job
	for i := range 300 {
		j, _ := m.NewWith(bgjob.Options{Name: "f()"}, bgjob.Func(func(context.Context) (any, error) {
			if i == 42 {
				return nil, errors.New("boom")
			}
			return i, nil
		}))
		j.Wait(context.Background())
		jobs = append(jobs, j)
	}
	fmt.Print(FormatNotices(jobs))
	// Output:
	// [jobs 0-41, 43-299 completed]
	// [job 42 dead] f(): boom; see jobs.traceback(42)
}

func ExampleRun() {
	// Input that is not a terminal: no prompts; values are printed as the
	// interactive shell prints them.
	err := Run(context.Background(), &Config{
		Stdin:  strings.NewReader("x = [1, 2]\nx + [3]\nprint('len', len(x))\n"),
		Stdout: os.Stdout,
	})
	fmt.Println("err:", err)
	// Output:
	// [1, 2, 3]
	// len 2
	// err: <nil>
}

func TestScreen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		lines []string
		reply string
	}{
		{"text", "ab\r\ncd", []string{"ab", "cd"}, ""},
		{"carriage return overwrites", "abc\rX", []string{"Xbc"}, ""},
		{"erase to end of line", "abcdef\x1b[3G\x1b[K", []string{"ab"}, ""},
		{"erase below", "l1\r\nl2\r\nl3\x1b[1A\x1b[1G\x1b[J", []string{"l1"}, ""},
		{"cursor query", "abc\r\nd", []string{"abc", "d"}, ""},
		{"cursor report", "ab\x1b[6n", []string{"ab"}, "\x1b[1;3R"},
		{"wrap", strings.Repeat("x", 12), []string{"xxxxxxxxxx", "xx"}, ""},
		{"utf-8", "h\xc3\xa9", []string{"hé"}, ""},
		{"colour ignored", "\x1b[31mred\x1b[0m", []string{"red"}, ""},
	}
	for _, tt := range tests {
		s := newScreen(10, 5)
		var reply []byte
		for i := range len(tt.in) { // one byte at a time: sequences split across reads
			reply = append(reply, s.write([]byte{tt.in[i]})...)
		}
		if diff := cmp.Diff(tt.lines, s.text()); diff != "" {
			t.Errorf("%s: lines (-want +got):\n%s", tt.name, diff)
		}
		if string(reply) != tt.reply {
			t.Errorf("%s: reply %q, want %q", tt.name, reply, tt.reply)
		}
	}
}
