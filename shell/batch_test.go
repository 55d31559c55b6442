package shell

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/script"
)

// syncBuffer is a bytes.Buffer safe for concurrent use, with a channel that
// is closed and replaced on every write so a test can wait for output.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitContains waits until the buffer contains sub.
func (s *syncBuffer) waitContains(t *testing.T, sub string) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		ok := strings.Contains(s.b.String(), sub)
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("timed out waiting for %q in %q", sub, s.String())
		}
	}
}

func TestBatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		out     string
		errSub  []string // each must appear in stderr
		wantErr error
	}{
		{
			name: "values",
			in:   "1+2\nprint('hi')\nNone\nx = 5\nx\n_\n'a'\n",
			out:  "3\nhi\n5\n5\n\"a\"\n",
		},
		{
			name: "multi-line statements",
			in:   "def f(x):\n    return x * 2\n\nf(21)\nfor i in range(2):\n    print(i)\n",
			out:  "42\n0\n1\n",
		},
		{
			name: "nested blocks",
			in:   "def f(n):\n    total = 0\n    for i in range(n):\n        if i % 2 == 0:\n            total += i\n    return total\n\nf(5)\n",
			out:  "6\n",
		},
		{
			name:    "an error does not stop the shell",
			in:      "1/0\n7\n",
			out:     "7\n",
			errSub:  []string{"Traceback", "division by zero"},
			wantErr: ErrStatementFailed,
		},
		{
			name: "blank lines and no final newline",
			in:   "\n\n  \n1\n\n2",
			out:  "1\n2\n",
		},
		{
			name:    "magics",
			in:      "%bg 6*7\njobs.wait(0)\njobs.result(0)\n%jobs\n%kill 0\n",
			out:     "[job 0 started] 6*7\nTrue\n42\nCompleted jobs:\n0 : 6*7\n\n",
			errSub:  []string{"Error: %kill 0:"},
			wantErr: ErrStatementFailed,
		},
		{
			name:    "unknown magic",
			in:      "%frobnicate\n",
			errSub:  []string{"Error: unknown magic %frobnicate (%help lists them)"},
			wantErr: ErrStatementFailed,
		},
		{
			name: "help",
			in:   "%help\n",
			out:  helpText,
		},
		{
			name: "help, help() and exit",
			in:   "help\nhelp()\nexit\nquit\n",
			out:  helpText + helpText + "Use exit() or Ctrl-D (i.e. EOF) to exit\nUse quit() or Ctrl-D (i.e. EOF) to exit\n",
		},
		{
			name: "dir()",
			in:   "zz_last = 1\ndir()[-1]\n'jobs' in dir()\n",
			out:  "\"zz_last\"\nTrue\n",
		},
		{
			name:   "exit() ends the input with status 0",
			in:     "1/0\nexit()\nprint('not run')\n",
			errSub: []string{"ZeroDivisionError"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errw bytes.Buffer
			err := Run(t.Context(), &Config{
				Stdin:     strings.NewReader(tt.in),
				Stdout:    &out,
				Stderr:    &errw,
				Interrupt: make(chan os.Signal),
			})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Run: %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.out, out.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			for _, sub := range tt.errSub {
				if !strings.Contains(errw.String(), sub) {
					t.Errorf("stderr %q does not contain %q", errw.String(), sub)
				}
			}
			if len(tt.errSub) == 0 && errw.Len() > 0 {
				t.Errorf("stderr = %q, want nothing", errw.String())
			}
		})
	}
}

// TestBatchExit: exit(code) stops reading the input; Run returns the
// status as a *script.SystemExit, after waiting for the jobs.
func TestBatchExit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, errw string
		code     int
	}{
		{"j = jobs.new(lambda: 1)\nexit(4)\nprint('not run')\n", "", 4},
		{"quit('bye')\n", "bye\n", 1},
		{"def f():\n    exit(2)\n\nf()\n", "", 2},
	} {
		var out, errw bytes.Buffer
		err := Run(t.Context(), &Config{Stdin: strings.NewReader(tc.in), Stdout: &out, Stderr: &errw, Interrupt: make(chan os.Signal)})
		var exit *script.SystemExit
		if !errors.As(err, &exit) || exit.Code != tc.code {
			t.Errorf("%q: Run = %v, want exit status %d", tc.in, err, tc.code)
		}
		if out.String() != "" || errw.String() != tc.errw {
			t.Errorf("%q: stdout %q, stderr %q; want nothing, %q", tc.in, out.String(), errw.String(), tc.errw)
		}
	}
}

// TestBatchWaitsForJobs: at the end of its input the shell waits for the
// running jobs. The job `cat fifo` ends only when the test closes the fifo;
// had the shell not waited, it would have killed cat and releaseFIFO would
// find no reader.
func TestBatchWaitsForJobs(t *testing.T) {
	t.Parallel()
	fifo := mkfifo(t, t.TempDir(), "fifo")
	out := newSyncBuffer()
	done := make(chan error, 1)
	go func() {
		done <- Run(t.Context(), &Config{
			Stdin:     strings.NewReader("%bg !cat " + fifo + "\n"),
			Stdout:    out,
			Stderr:    out,
			Interrupt: make(chan os.Signal),
		})
	}()
	out.waitContains(t, "[job 0 started]")
	releaseFIFO(t, fifo)
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestBatchInterrupt: Ctrl-C stops a busy statement and, input not being a
// terminal, the shell.
func TestBatchInterrupt(t *testing.T) {
	t.Parallel()
	inR, inW := io.Pipe()
	defer inW.Close()
	out := newSyncBuffer()
	interrupt := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(t.Context(), &Config{Stdin: inR, Stdout: out, Stderr: out, Interrupt: interrupt})
	}()
	io.WriteString(inW, "def spin():\n    print('spinning')\n    while True: pass\n\nspin()\n")
	out.waitContains(t, "spinning")
	interrupt <- os.Interrupt
	if err := <-done; !errors.Is(err, ErrInterrupted) {
		t.Errorf("Run: %v, want ErrInterrupted", err)
	}
	if !strings.HasSuffix(out.String(), "\nKeyboardInterrupt\n") || strings.Count(out.String(), "KeyboardInterrupt") != 1 {
		t.Errorf("output %q does not end with one KeyboardInterrupt, as Python's", out.String())
	}
}

// TestBatchInterruptWhileReading: Ctrl-C while the shell waits for input
// stops it too.
func TestBatchInterruptWhileReading(t *testing.T) {
	t.Parallel()
	inR, inW := io.Pipe()
	out := newSyncBuffer()
	interrupt := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(t.Context(), &Config{Stdin: inR, Stdout: out, Stderr: out, Interrupt: interrupt})
	}()
	io.WriteString(inW, "print('ready')\n")
	out.waitContains(t, "ready")
	interrupt <- os.Interrupt
	if err := <-done; !errors.Is(err, ErrInterrupted) {
		t.Errorf("Run: %v, want ErrInterrupted", err)
	}
	inW.Close() // ends the reader goroutine
	if got := out.String(); got != "ready\nKeyboardInterrupt\n" {
		t.Errorf("output %q, want %q, as Python's", got, "ready\nKeyboardInterrupt\n")
	}
}

// TestBatchContextCancel: cancelling ctx stops a busy statement and the
// shell.
func TestBatchContextCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	inR, inW := io.Pipe()
	defer inW.Close()
	out := newSyncBuffer()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, &Config{Stdin: inR, Stdout: out, Stderr: out, Interrupt: make(chan os.Signal)})
	}()
	io.WriteString(inW, "def spin():\n    print('spinning')\n    while True: pass\n\nspin()\n")
	out.waitContains(t, "spinning")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}
}

func TestRunConfigErrors(t *testing.T) {
	t.Parallel()
	err := Run(t.Context(), &Config{Stdin: strings.NewReader(""), HistoryLimit: -1})
	if err == nil || !strings.Contains(err.Error(), "HistoryLimit -1") {
		t.Errorf("Run with HistoryLimit -1: %v, want an error naming it", err)
	}
}

func TestStateDir(t *testing.T) {
	t.Parallel()
	noHome := func() (string, error) { return "", errors.New("no home") }
	tests := []struct {
		name string
		env  map[string]string
		home func() (string, error)
		want string
		err  error
	}{
		{"override", map[string]string{StateDirEnv: "/s", "XDG_STATE_HOME": "/x", "HOME": "/h"}, nil, "/s", nil},
		{"xdg", map[string]string{"XDG_STATE_HOME": "/x", "HOME": "/h"}, nil, "/x/drover", nil},
		{"relative xdg ignored", map[string]string{"XDG_STATE_HOME": "x", "HOME": "/h"}, nil, "/h/.local/state/drover", nil},
		{"home", map[string]string{"HOME": "/h"}, nil, "/h/.local/state/drover", nil},
		{"home from func", nil, func() (string, error) { return "/u", nil }, "/u/.local/state/drover", nil},
		{"nothing", nil, noHome, "", ErrNoStateDir},
		{"nothing, nil func", nil, nil, "", ErrNoStateDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := StateDir(func(k string) string { return tt.env[k] }, tt.home)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Errorf("StateDir = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}
