package netcmd

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// benchDurableDoc is drover bench's help on --durable.
const benchDurableDoc = `With --durable, the controller keeps its state in a journal (JetStream,
file storage in the temporary directory), as drover controller --data
does: the throughput and the round trips are those of a durable farm (a
run is answered once its task is on disk; results are written as tasks
finish). The fleet and queue measurements are then skipped unless --fleet
or --queued is given (they run in memory).`

// applyDurable sets the defaults that --durable changes: the fleet and
// queue measurements (in memory) are skipped unless asked for.
func (o *benchOptions) applyDurable(cmd *cobra.Command) {
	if !o.durable {
		return
	}
	if !cmd.Flags().Changed("fleet") {
		o.fleet = 0
	}
	if !cmd.Flags().Changed("queued") {
		o.queued = 0
	}
}

// writeBenchDurability writes where the bench's controller kept its
// results.
func writeBenchDurability(w io.Writer, r *BenchReport) {
	if r.Durability != "" {
		fmt.Fprintf(w, "results: %s\n\n", r.Durability)
	}
}
