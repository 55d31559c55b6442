package scheduler_test

import (
	"fmt"

	"github.com/drover-dev/drover/scheduler"
)

func Example() {
	// The controller interns depend sources into groups and engine
	// properties into classes; Eligible evaluates one against the other.
	const needsGPU scheduler.Group = 1
	const cpuBox, gpuBox scheduler.Class = 1, 2
	s := scheduler.NewFIFO(func(g scheduler.Group, c scheduler.Class) bool {
		return g == needsGPU && c == gpuBox
	})
	_ = s.AddTask(scheduler.Item{ID: 0, Group: needsGPU})
	_ = s.AddTask(scheduler.Item{ID: 1})
	_ = s.AddEngine(10, cpuBox)
	for {
		task, engine, ok := s.Schedule()
		if !ok {
			break
		}
		fmt.Printf("task %d → engine %d\n", task, engine)
	}
	fmt.Println("waiting:", s.TaskIDs())
	_ = s.AddEngine(11, gpuBox)
	task, engine, _ := s.Schedule()
	fmt.Printf("task %d → engine %d\n", task, engine)
	// Output:
	// task 1 → engine 10
	// waiting: [0]
	// task 0 → engine 11
}
