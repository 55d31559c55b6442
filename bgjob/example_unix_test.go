//go:build unix

package bgjob_test

import (
	"context"
	"fmt"

	"github.com/drover-dev/drover/bgjob"
)

// A command job: its output is kept per job; exit status 0 is Completed
// with result 0.
func ExampleManager_New_command() {
	m, _ := bgjob.New(nil)
	defer m.Close(context.Background())

	j, err := m.New(bgjob.Cmd{Shell: "echo hello; echo oops >&2"})
	if err != nil {
		panic(err)
	}
	_ = j.Wait(context.Background())
	out, _ := j.Output()
	fmt.Print(out)
	fmt.Println(j.String(), "->", j.Status(), j.Result())

	j, _ = m.New(bgjob.Cmd{Argv: []string{"sh", "-c", "echo failing; exit 3"}})
	_ = j.Wait(context.Background())
	fmt.Println(j.Traceback())
	// Output:
	// hello
	// oops
	// echo hello; echo oops >&2 -> Completed 0
	// command exited with status 3
	// --- last lines of output ---
	// failing
}
