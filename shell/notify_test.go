package shell

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

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
