package cli

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/internal/netcmd"
	"github.com/drover-dev/drover/script"
)

// transcript is one example of a document: the statements typed at the
// shell's prompt and what the shell printed after each.
type transcript struct {
	line  int      // of the opening fence
	farm  string   // the "<!-- farm: ... -->" line before it, if any
	stmts []string // source of each statement
	want  []string // output after each statement
}

// transcripts returns the shell examples of a Markdown file: the fenced
// blocks (without a language) whose first line starts with ">>> ".
func transcripts(t *testing.T, path string) []transcript {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out     []transcript
		cur     *transcript
		prev    string
		inFence bool
		n       int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case !inFence && strings.HasPrefix(line, "```"):
			inFence = true
			if line == "```" {
				cur = &transcript{line: n}
				if farm, ok := strings.CutPrefix(prev, "<!-- farm:"); ok {
					cur.farm = strings.TrimSuffix(strings.TrimSpace(farm), "-->")
				}
			}
		case inFence && line == "```":
			inFence = false
			if cur != nil && len(cur.stmts) > 0 {
				out = append(out, *cur)
			}
			cur = nil
		case inFence && cur != nil:
			switch {
			case strings.HasPrefix(line, ">>> "):
				cur.stmts = append(cur.stmts, strings.TrimPrefix(line, ">>> "))
				cur.want = append(cur.want, "")
			case len(cur.stmts) == 0:
				cur = nil // not a transcript
			case line == "...":
			case strings.HasPrefix(line, "... "):
				cur.stmts[len(cur.stmts)-1] += "\n" + strings.TrimPrefix(line, "... ")
			default:
				cur.want[len(cur.want)-1] += line + "\n"
			}
		}
		prev = line
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDocsTasks runs the shell examples of docs/tasks.md, each block in a
// session of its own with the command's farm (two engines unless the
// block's "<!-- farm: ... -->" line says otherwise), and compares what
// they print.
func TestDocsTasks(t *testing.T) {
	t.Parallel()
	blocks := transcripts(t, filepath.Join("..", "..", "docs", "tasks.md"))
	if len(blocks) < 10 {
		t.Fatalf("found %d examples in docs/tasks.md", len(blocks))
	}
	for _, b := range blocks {
		t.Run(strconv.Itoa(b.line), func(t *testing.T) {
			t.Parallel()
			cfg := &drover.Config{Engines: 2, Registry: netcmd.BuiltinFunctions(), Depend: script.CompileDepend,
				AllowCommands: true, FailurePenalty: time.Second}
			for _, kv := range strings.Fields(b.farm) {
				k, v, _ := strings.Cut(kv, "=")
				n, err := strconv.Atoi(v)
				if err != nil {
					t.Fatalf("farm line: %s", kv)
				}
				switch k {
				case "engines":
					cfg.Engines = n
				case "window":
					cfg.Window = n
				case "failure_penalty":
					cfg.FailurePenalty = time.Duration(n) * time.Second
					if n == 0 {
						cfg.FailurePenalty = -1
					}
				default:
					t.Fatalf("farm line: unknown %s", k)
				}
			}
			var out strings.Builder
			engineOut := &engineOutput{}
			engineOut.set(&out)
			cfg.Print = engineOut.print
			ctx := t.Context()
			farm, err := drover.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer closeFarm(farm)
			sess, err := script.NewSession(&script.Config{Stdout: &out, Stderr: &out, Tasks: farmClient{farm}})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close(context.Background())
			for i, src := range b.stmts {
				out.Reset()
				v, isExpr, err := sess.Exec(ctx, "<stdin>", src)
				engineOut.mu.Lock()
				got := out.String()
				engineOut.mu.Unlock()
				switch {
				case err != nil:
					got += script.FormatError(err) + "\n"
				case isExpr && v != starlark.None:
					got += v.String() + "\n"
				}
				if diff := cmp.Diff(b.want[i], got); diff != "" {
					t.Errorf("docs/tasks.md:%d: %s: output (-doc +got):\n%s", b.line, src, diff)
				}
			}
		})
	}
}
