package script_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/drovertest"
	"github.com/drover-dev/drover/script"
)

// farmClient gives a drover.Client the Engine method script.TaskClient
// wants (as drover's command does).
type farmClient struct{ drover.Client }

func (c farmClient) Engine(id drover.EngineID) script.EngineClient { return c.Client.Engine(id) }

// latches are named one-shot latches shared by the "hold" Go function, on
// the engines, and the release() and wait_started() built-ins of a test
// script.
type latches struct {
	mu sync.Mutex
	m  map[string]*latch
}

type latch struct {
	started, released  chan struct{}
	startOnce, relOnce sync.Once
}

func (l *latches) get(name string) *latch {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*latch{}
	}
	x := l.m[name]
	if x == nil {
		x = &latch{started: make(chan struct{}), released: make(chan struct{})}
		l.m[name] = x
	}
	return x
}

func (l *latches) releaseAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.m {
		x.relOnce.Do(func() { close(x.released) })
	}
}

// testRegistry holds the Go functions of the test farms:
//
//	echo(x) → x; echo(a, b, ...) → [a, b, ...]
//	block() waits until its attempt is stopped (abort, timeout)
//	hold(name) says it started, then waits until release(name), ignoring
//	  abort (so that the attempt outlives an abort)
//	fail(msg) fails with msg
func testRegistry(l *latches) *drover.Registry {
	reg := drover.NewRegistry()
	reg.MustRegister("echo", func(_ context.Context, args []any, _ map[string]any) (any, error) {
		if len(args) == 1 {
			return args[0], nil
		}
		return args, nil
	})
	reg.MustRegister("block", func(ctx context.Context, _ []any, _ map[string]any) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	reg.MustRegister("hold", func(_ context.Context, args []any, _ map[string]any) (any, error) {
		name, _ := args[0].(string)
		x := l.get(name)
		x.startOnce.Do(func() { close(x.started) })
		<-x.released
		return name, nil
	})
	reg.MustRegister("fail", func(_ context.Context, args []any, _ map[string]any) (any, error) {
		return nil, errors.New(fmt.Sprint(args...))
	})
	return reg
}

// farmConfig reads the "# farm: key=value ..." header of a test script:
// engines, window, scheduler, failure_penalty and idle_timeout (seconds; 0:
// none), commands (0 or 1).
func farmConfig(t *testing.T, src []byte) *drover.Config {
	t.Helper()
	cfg := &drover.Config{
		Engines:        2,
		FailurePenalty: -1,
		Depend:         script.CompileDepend,
		AllowCommands:  true,
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "# farm:")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			num := func() float64 {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("farm header: %s: %v", kv, err)
				}
				return f
			}
			dur := func() time.Duration {
				if f := num(); f > 0 {
					return time.Duration(f * float64(time.Second))
				}
				return -1
			}
			switch k {
			case "engines":
				cfg.Engines = int(num())
			case "window":
				cfg.Window = int(num())
			case "scheduler":
				cfg.Scheduler = v
			case "failure_penalty":
				cfg.FailurePenalty = dur()
			case "idle_timeout":
				cfg.IdleTimeout = dur()
			case "commands":
				cfg.AllowCommands = num() != 0
			default:
				t.Fatalf("farm header: unknown key %q", k)
			}
		}
	}
	return cfg
}

// taskSession returns a session with a farm configured by cfg, the test
// built-ins, release(name) and wait_started(name).
func taskSession(t *testing.T, cfg *drover.Config) (*script.Session, *bytes.Buffer) {
	t.Helper()
	l := &latches{}
	cfg.Registry = testRegistry(l)
	farm := drovertest.NewFarm(t, cfg)
	t.Cleanup(l.releaseAll) // before the farm closes: hold must end
	var out lockedBuffer
	s, err := script.NewSession(&script.Config{Stdout: &out, Stderr: &out, Tasks: farmClient{farm}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.Close(ctx)
	})
	script.InstallTestBuiltins(s)
	script.SetGlobal(s, "release", starlark.NewBuiltin("release", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
			return nil, err
		}
		x := l.get(name)
		x.relOnce.Do(func() { close(x.released) })
		return starlark.None, nil
	}))
	script.SetGlobal(s, "wait_started", starlark.NewBuiltin("wait_started", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
			return nil, err
		}
		select {
		case <-l.get(name).started:
			return starlark.None, nil
		case <-t.Context().Done():
			return nil, t.Context().Err()
		}
	}))
	return s, &out.b
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestTaskStarlarkFiles runs every testdata/tasks/*.star file in a session
// whose tc is a real in-process farm, configured by the file's
// "# farm: ..." header.
func TestTaskStarlarkFiles(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "tasks", "*.star"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/tasks/*.star files")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".star")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			s, out := taskSession(t, farmConfig(t, src))
			if err := s.ExecFile(t.Context(), file, src); err != nil {
				t.Fatalf("%s\noutput:\n%s", script.FormatError(err), out)
			}
		})
	}
}

// TestTaskWaitInterrupted: a blocking tc call stops when the session's
// context is cancelled (Ctrl-C), with kind Cancelled; the task goes on.
func TestTaskWaitInterrupted(t *testing.T) {
	t.Parallel()
	s, _ := taskSession(t, &drover.Config{Engines: 1})
	ctx := t.Context()
	if _, _, err := s.Exec(ctx, "<stdin>", `id = tc.run(MapTask("hold", args=["i"]))`); err != nil {
		t.Fatal(script.FormatError(err))
	}
	for _, call := range []string{
		`tc.get_task_result(id, block=True)`,
		`tc.run(MapTask("echo", args=[1]), block=True)`,
		`tc.barrier([id])`,
		`tc.map("hold", ["i"])`,
		`tc.engines()[0].pull("id")`, // runs behind the held attempt
	} {
		entering := make(chan struct{})
		script.SetGlobal(s, "entering", starlark.NewBuiltin("entering", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			close(entering)
			return starlark.None, nil
		}))
		ectx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, _, err := s.Exec(ectx, "<stdin>", "entering()\n"+call)
			done <- err
		}()
		<-entering
		cancel()
		if err := <-done; script.KindOf(err) != script.KindCancelled {
			t.Errorf("%s interrupted: %v (kind %s), want Cancelled", call, err, script.KindOf(err))
		}
		// Ctrl-C: a KeyboardInterrupt, as for any statement.
		entering = make(chan struct{})
		kctx, kcancel := context.WithCancelCause(ctx)
		go func() {
			_, _, err := s.Exec(kctx, "<stdin>", "entering()\n"+call)
			done <- err
		}()
		<-entering
		kcancel(script.ErrKeyboardInterrupt)
		err := <-done
		if script.KindOf(err) != script.KindKeyboardInterrupt || !strings.HasSuffix(script.FormatError(err), "\nKeyboardInterrupt") {
			t.Errorf("%s interrupted by Ctrl-C: %q (kind %s), want a KeyboardInterrupt", call, script.FormatError(err), script.KindOf(err))
		}
	}
	if _, _, err := s.Exec(ctx, "<stdin>", `release("i")`+"\n"+`assert_eq(tc.get_task_result(id, block=True), "i")`); err != nil {
		t.Fatal(script.FormatError(err))
	}
}

// recordingBar records what a progress bar is told.
type recordingBar struct {
	mu    sync.Mutex
	title string
	total int
	sets  []int
	done  bool
}

func (b *recordingBar) Set(n int) {
	b.mu.Lock()
	b.sets = append(b.sets, n)
	b.mu.Unlock()
}

func (b *recordingBar) Done() {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
}

// TestTaskProgress: tc.map and tc.barrier report their progress on the
// session's own thread, never in a job.
func TestTaskProgress(t *testing.T) {
	t.Parallel()
	l := &latches{}
	farm := drovertest.NewFarm(t, &drover.Config{Engines: 2, Registry: testRegistry(l)})
	var (
		mu   sync.Mutex
		bars []*recordingBar
	)
	s, err := script.NewSession(&script.Config{
		Stdout: io.Discard, Stderr: io.Discard, Tasks: farmClient{farm},
		Progress: func(title string, total int) script.ProgressBar {
			b := &recordingBar{title: title, total: total}
			mu.Lock()
			bars = append(bars, b)
			mu.Unlock()
			return b
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	src := `
r = tc.map(lambda x: x, range(250))
tc.barrier(list(range(250)))
tc.map(lambda x: x, [1])  # one task: no bar
j = jobs.new(lambda: tc.map(lambda x: x, range(10)))
j.wait()
if j.error:
    fail(j.error)
`
	if err := s.ExecFile(t.Context(), "progress.star", []byte(src)); err != nil {
		t.Fatal(script.FormatError(err))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bars) != 2 {
		t.Fatalf("%d bars, want 2 (map and barrier in the foreground)", len(bars))
	}
	for i, want := range []string{"tc.map", "tc.barrier"} {
		b := bars[i]
		if b.title != want || b.total != 250 || !b.done || len(b.sets) == 0 || b.sets[len(b.sets)-1] != 250 || len(b.sets) > 100 {
			t.Errorf("bar %d: %s of %d, done %v, sets %v", i, b.title, b.total, b.done, b.sets)
		}
	}
}
