package netcmd

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestBenchDurable: drover bench --durable measures a controller with a
// journal (and skips the in-memory fleet and queue measurements), and
// says so in its report.
func TestBenchDurable(t *testing.T) {
	t.Parallel()
	var out, errb strings.Builder
	root := testRoot(childIO(&out, &errb))
	root.SetArgs([]string{"bench", "--durable", "--tasks", "2000", "--samples", "20", "--json"})
	if err := root.ExecuteContext(waitCtx(t, 60*time.Second)); err != nil {
		t.Fatalf("bench --durable: %v\n%s", err, errb.String())
	}
	var rep BenchReport
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out.String())
	}
	if !strings.HasPrefix(rep.Durability, "durable: journal at ") || !strings.HasSuffix(rep.Durability, "jetstream") ||
		rep.Tasks != 2000 || rep.TasksPerSecond <= 0 || rep.RunWaitP50 <= 0 || rep.Fleet != nil || rep.Queue != nil {
		t.Errorf("bench --durable report %+v", rep)
	}
	var tab strings.Builder
	if err := writeBench(&tab, &rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tab.String(), "results: durable: journal at ") {
		t.Errorf("table does not say the results are durable:\n%s", tab.String())
	}
}
