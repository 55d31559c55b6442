package bgjob_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/drover-dev/drover/bgjob"
)

// TestConcurrentUse hammers one manager from many goroutines: creating jobs
// of every kind, killing, removing, flushing and querying, all at once. Run
// it with -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	const workers, perWorker = 8, 150
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		nums = map[int]bool{}
	)
	for w := range workers {
		wg.Go(func() {
			release := make(chan struct{})
			defer close(release)
			for i := range perWorker {
				var target any
				var args []any
				switch i % 6 {
				case 0:
					target = gate(release, i) // blocks until the worker ends or it is killed
				case 1:
					target, args = sleeper, []any{i}
				case 2:
					target, args = crasher, []any{i}
				case 3:
					target = "spin()"
				case 4:
					target, args = "x+1", []any{map[string]any{"x": i}}
				case 5:
					target = func(ctx context.Context) error {
						_, err := io.WriteString(bgjob.OutputFrom(ctx), "out\n")
						return err
					}
				}
				j, err := m.NewWith(bgjob.Options{Daemon: i%2 == 0}, target, args...)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if nums[j.Num()] {
					t.Errorf("number %d given twice", j.Num())
				}
				nums[j.Num()] = true
				mu.Unlock()
				switch (i + w) % 7 {
				case 0, 3:
					_ = j.Kill()
				case 1:
					m.Status(io.Discard)
				case 2:
					m.StatusNew(io.Discard)
				case 4:
					_ = m.Remove(j.Num() - 1)
				case 5:
					if w == 0 {
						m.Flush(io.Discard)
					}
				case 6:
					_, _ = m.Result(j.Num())
					_ = m.Traceback(io.Discard, j.Num())
					m.Tracebacks(io.Discard)
					_, _ = j.Output()
					_ = j.Traceback()
					_ = j.Duration()
					_, _ = m.Get(j)
					_ = m.Jobs()
					_ = m.Running()
					_ = m.Completed()
					_ = m.Dead()
				}
			}
			// This worker's gates end when release closes.
		})
	}
	wg.Wait()
	// The spin() jobs (not daemons) run until killed.
	for _, j := range m.Running() {
		if j.String() == "spin()" {
			_ = j.Kill()
		}
	}
	if err := m.WaitAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(nums) != workers*perWorker {
		t.Errorf("%d numbers for %d jobs", len(nums), workers*perWorker)
	}
	for n := range workers * perWorker {
		if !nums[n] {
			t.Errorf("number %d never given", n)
		}
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, j := range m.Jobs() {
		if !j.Finished() {
			t.Errorf("%s not finished after Close", j.Repr())
		}
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	t.Run("waits for plain jobs, kills daemons", func(t *testing.T) {
		t.Parallel()
		m := newManager(t, nil)
		daemon, err := m.NewWith(bgjob.Options{Daemon: true}, "spin()")
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		plain := mustNew(t, m, gate(release, "ok"))
		closed := make(chan error)
		go func() { closed <- m.Close(context.Background()) }()
		<-daemon.Done() // killed at once, while the plain job still runs
		if _, err := daemon.Value(); !errors.Is(err, bgjob.ErrKilled) {
			t.Errorf("daemon: %v", err)
		}
		if plain.Finished() {
			t.Fatal("the plain job finished before it was released")
		}
		// New jobs are refused while closing.
		if _, err := m.New(sleeper, 1); !errors.Is(err, bgjob.ErrClosed) {
			t.Errorf("New while closing = %v, want ErrClosed", err)
		}
		close(release)
		if err := <-closed; err != nil {
			t.Errorf("Close = %v", err)
		}
		if plain.Result() != "ok" {
			t.Errorf("plain job result %v", plain.Result())
		}
		if err := m.Close(context.Background()); err != nil {
			t.Errorf("second Close = %v", err)
		}
		if m.Len() != 2 {
			t.Errorf("Len() = %d: a refused New registered a job", m.Len())
		}
	})
	t.Run("kills the rest when ctx ends", func(t *testing.T) {
		t.Parallel()
		m := newManager(t, nil)
		f := mustNew(t, m, gate(nil, nil))
		e := mustNew(t, m, "spin()")
		jobs := []*bgjob.Job{f, e}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := m.Close(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Close = %v, want context.Canceled", err)
		}
		for _, j := range jobs {
			if !j.Finished() {
				t.Errorf("%s not finished when Close returned", j.Repr())
			}
			if _, err := j.Value(); !errors.Is(err, bgjob.ErrKilled) {
				t.Errorf("%s: %v, want ErrKilled", j.Repr(), err)
			}
		}
	})
}

func TestWaitAllSkipsDaemons(t *testing.T) {
	t.Parallel()
	m := newManager(t, nil)
	if _, err := m.NewWith(bgjob.Options{Daemon: true}, "spin()"); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	j := mustNew(t, m, gate(release, nil))
	done := make(chan error)
	go func() { done <- m.WaitAll(context.Background()) }()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !j.Finished() {
		t.Error("WaitAll returned before the plain job finished")
	}
}

// finishingCtx is a context that has ended; the first call of Done first
// lets the job blocked on release finish and waits for it, so that the job
// finishes while Close is deciding whether it must kill it.
type finishingCtx struct {
	context.Context // an ended context
	release         chan struct{}
	job             **bgjob.Job
}

func (c *finishingCtx) Done() <-chan struct{} {
	select {
	case <-c.release:
	default:
		close(c.release)
		<-(*c.job).Done()
	}
	return c.Context.Done()
}

// TestCloseRaceWithLastJob: a job that finishes on its own while Close's
// context has already ended was not killed, so Close returns nil, not an
// error saying it "killed 0 unfinished jobs".
func TestCloseRaceWithLastJob(t *testing.T) {
	t.Parallel()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 50 {
		m := newManager(t, nil)
		var j *bgjob.Job
		ctx := &finishingCtx{Context: ended, release: make(chan struct{}), job: &j}
		j = mustNew(t, m, gate(ctx.release, "done"))
		if err := m.Close(ctx); err != nil {
			t.Fatalf("round %d: Close = %v, want nil: no job was killed", i, err)
		}
		if j.Result() != "done" {
			t.Fatalf("round %d: result %v", i, j.Result())
		}
	}
}

// TestWaitFromInsideAJob: WaitAll called by a job with its context waits for
// every other job, not for itself (which would never return), and a job
// that waits for itself gets an error at once instead of hanging.
func TestWaitFromInsideAJob(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := newManager(t, nil)
		release := make(chan struct{})
		other := mustNew(t, m, gate(release, "other"))
		waiter := mustNew(t, m, func(ctx context.Context) error { return m.WaitAll(ctx) })
		synctest.Wait()
		if waiter.Finished() {
			t.Fatal("WaitAll in a job returned while another job runs")
		}
		close(release)
		synctest.Wait()
		if !waiter.Finished() || !other.Finished() {
			t.Fatalf("WaitAll in a job did not return once the other jobs finished: waiter %v", waiter.State())
		}
		if _, err := waiter.Value(); err != nil {
			t.Errorf("WaitAll in a job: %v", err)
		}

		self := make(chan *bgjob.Job, 1)
		selfWait := mustNew(t, m, func(ctx context.Context) error {
			return (<-self).Wait(ctx)
		})
		self <- selfWait
		synctest.Wait()
		if !selfWait.Finished() {
			t.Fatal("a job waiting for itself hangs")
		}
		if _, err := selfWait.Value(); !errors.Is(err, bgjob.ErrWaitSelf) {
			t.Errorf("a job waiting for itself: %v, want ErrWaitSelf", err)
		}
	})
}
