package bgjob_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/drover-dev/drover/bgjob"
)

// A function job: any Go function, its arguments bound at New. Wait, then
// read the result.
func ExampleManager_New() {
	m, err := bgjob.New(nil)
	if err != nil {
		panic(err)
	}
	defer m.Close(context.Background())

	j, err := m.New(strings.Repeat, "ab", 3)
	if err != nil {
		panic(err)
	}
	if err := j.Wait(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(j.Repr())
	fmt.Println(j.Status(), j.Result())
	// Output:
	// <BackgroundJob #0: strings.Repeat>
	// Completed ababab
}

// Status prints the jobs by state, as IPython's jobs.status() does.
func ExampleManager_Status() {
	m, _ := bgjob.New(nil)
	defer m.Close(context.Background())

	release := make(chan struct{})
	defer close(release)
	_, _ = m.NewWith(bgjob.Options{Name: "waiter"}, func(ctx context.Context) error {
		<-release
		return nil
	})
	ok, _ := m.NewWith(bgjob.Options{Name: "adder"}, func(a, b int) int { return a + b }, 1, 2)
	bad, _ := m.NewWith(bgjob.Options{Name: "failer"}, func() error { return errors.New("no luck") })
	_ = ok.Wait(context.Background())
	_ = bad.Wait(context.Background())

	m.Status(os.Stdout)
	_ = m.Traceback(os.Stdout, bad.Num())
	// Output:
	// Running jobs:
	// 0 : waiter
	//
	// Completed jobs:
	// 1 : adder
	//
	// Dead jobs:
	// 2 : failer
	//
	// no luck
}

// Flush deletes finished jobs; numbers are never reused.
func ExampleManager_Flush() {
	m, _ := bgjob.New(nil)
	defer m.Close(context.Background())

	for _, f := range []any{strings.ToUpper, strings.ToLower, strings.TrimSpace} {
		j, _ := m.New(f, " x ")
		_ = j.Wait(context.Background())
	}
	j, _ := m.New(func() error { return errors.New("boom") })
	_ = j.Wait(context.Background())

	m.Flush(os.Stdout)
	m.Flush(os.Stdout)
	next, _ := m.New(strings.ToUpper, "y")
	_ = next.Wait(context.Background())
	fmt.Println("next job:", next.Num())
	// Output:
	// Flushing 3 Completed jobs.
	// Flushing 1 Dead job.
	// No jobs to flush.
	// next job: 4
}

// StatusNew reports the jobs that finished since the last report: what a
// shell prints before its prompt.
func ExampleManager_StatusNew() {
	m, _ := bgjob.New(nil)
	defer m.Close(context.Background())

	j, _ := m.NewWith(bgjob.Options{Name: "compile"}, func() {})
	_ = j.Wait(context.Background())
	fmt.Println(m.StatusNew(os.Stdout))
	fmt.Println(m.StatusNew(os.Stdout))
	// Output:
	// Completed jobs:
	// 0 : compile
	//
	// true
	// false
}

// Kill cancels a function job's context; the job ends Dead.
func ExampleJob_Kill() {
	m, _ := bgjob.New(nil)
	defer m.Close(context.Background())

	j, _ := m.New(func(ctx context.Context) error {
		fmt.Fprintln(bgjob.OutputFrom(ctx), "working")
		<-ctx.Done()
		return ctx.Err()
	})
	_ = j.Kill()
	_ = j.Wait(context.Background())
	_, err := j.Value()
	fmt.Println(j.Status())
	fmt.Println(errors.Is(err, bgjob.ErrKilled))
	// Output:
	// Dead (Exception), call jobs.traceback() for details
	// true
}
