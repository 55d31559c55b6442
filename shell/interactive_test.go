package shell

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// mkfifo makes a named pipe in dir. A command job `cat fifo` then blocks
// until the test opens it for writing and finishes when the test closes it,
// so the test decides when the job ends.
func mkfifo(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// releaseFIFO opens the fifo for writing (waiting, at most waitTimeout, for
// its reader) and closes it, which ends a `cat fifo` job.
func releaseFIFO(t *testing.T, path string) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err == nil {
			err = f.Close()
		}
		done <- err
	}()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-timer.C:
		// Unblock the goroutine by becoming a reader ourselves.
		if f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			<-done
			f.Close()
		}
		t.Fatalf("nobody opened %s for reading", path)
	}
}

// readFIFO reads the fifo until its writer closes it, failing the test
// after waitTimeout.
func readFIFO(t *testing.T, path string) string {
	t.Helper()
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := os.ReadFile(path)
		done <- result{data, err}
	}()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return string(r.data)
	case <-timer.C:
		// Unblock the goroutine by becoming a writer ourselves.
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
		<-done
		t.Fatalf("nobody wrote to %s", path)
		return ""
	}
}

// tail returns the last n lines.
func tail(lines []string, n int) []string {
	if len(lines) < n {
		return lines
	}
	return lines[len(lines)-n:]
}

func TestInteractiveExpressions(t *testing.T) {
	t.Parallel()
	p := startPTYShell(t)
	p.waitPrompt(PS1, "")
	p.send("1+2\r")
	p.waitLine("3")
	p.waitPrompt(PS1, "")
	p.send("_ * 2\r")
	p.waitLine("6")
	p.waitPrompt(PS1, "")
	p.send("None\r")
	p.waitPrompt(PS1, "")
	p.send("'a' + \"b\"\r")
	p.waitLine(`"ab"`)
	p.waitPrompt(PS1, "")
	p.send("undefined_name\r")
	p.waitContains("undefined")
	p.waitPrompt(PS1, "")
	p.send("x = 5\r")
	p.waitPrompt(PS1, "")
	p.send("x\r")
	p.waitLine("5")
	p.waitPrompt(PS1, "")
	p.send("\x04")
	if code := p.waitExit(); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	lines := p.lines()
	want := []string{">>> 1+2", "3", ">>> _ * 2", "6", ">>> None", `>>> 'a' + "b"`, `"ab"`, ">>> undefined_name"}
	if diff := cmp.Diff(want, lines[:min(len(lines), len(want))]); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{">>> x = 5", ">>> x", "5", ">>>"}, tail(lines, 4)); diff != "" {
		t.Errorf("transcript end (-want +got):\n%s", diff)
	}
}

func TestInteractiveNoticeAbovePrompt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := mkfifo(t, dir, "fifo")
	p := startPTYShell(t)
	p.waitPrompt(PS1, "")
	p.send("%bg !cat " + fifo + "\r")
	p.waitContains("[job 0 started] cat ")
	p.waitPrompt(PS1, "")
	p.send("1+") // a partly typed line
	p.waitPrompt(PS1, "1+")
	releaseFIFO(t, fifo)
	p.waitFor("the notice above the prompt", func(s *screen) bool {
		l := s.text()
		return len(l) >= 2 && strings.HasPrefix(l[len(l)-2], "[job 0 completed] cat ") &&
			l[len(l)-1] == ">>> 1+" && s.cursorLine() == ">>> 1+"
	})
	p.send("2\r") // the typed line was kept: it is now 1+2
	p.waitLine("3")
	p.waitPrompt(PS1, "")
	p.send("%jobs\r")
	p.waitLine("Completed jobs:")
	p.waitPrompt(PS1, "")
	p.send("\x04")
	if code := p.waitExit(); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

func TestInteractiveCtrlCBusyLoop(t *testing.T) {
	t.Parallel()
	p := startPTYShell(t)
	p.waitPrompt(PS1, "")
	p.send("def spin():\r")
	p.waitPrompt(PS2, "")
	p.send("    print('spinning')\r")
	p.waitPrompt(PS2, "")
	p.send("    while True:\r")
	p.waitPrompt(PS2, "")
	p.send("        pass\r")
	p.waitPrompt(PS2, "")
	p.send("\r")
	p.waitPrompt(PS1, "")
	p.send("spin()\r")
	// "spinning" is printed once the statement runs, so the terminal is
	// back in cooked mode and Ctrl-C is a SIGINT.
	p.waitLine("spinning")
	p.send("\x03")
	p.waitLine("KeyboardInterrupt")
	p.waitPrompt(PS1, "")
	got := tail(p.lines(), 8)
	if len(got) == 8 && strings.HasPrefix(got[5], "  <stdin>:") && strings.HasSuffix(got[5], ": in spin") {
		got[5] = "  <stdin>:L:C: in spin" // where the loop noticed the interruption
	}
	if diff := cmp.Diff([]string{">>> spin()", "spinning", "^C", "Traceback (most recent call last):",
		"  <stdin>:1:5: in <toplevel>", "  <stdin>:L:C: in spin", "KeyboardInterrupt", ">>>"}, got); diff != "" {
		t.Errorf("interrupted loop (-want +got):\n%s", diff)
	}
	p.send("1+1\r")
	p.waitLine("2")
	p.waitPrompt(PS1, "")
	// Ctrl-C at the prompt drops the line.
	p.send("abc")
	p.waitPrompt(PS1, "abc")
	p.send("\x03")
	p.waitLine(">>> abc^C")
	p.waitPrompt(PS1, "")
	// And in the middle of a multi-line statement, all of it.
	p.send("if True:\r")
	p.waitPrompt(PS2, "")
	p.send("\x03")
	p.waitPrompt(PS1, "")
	p.send("\x04")
	if code := p.waitExit(); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

func TestInteractiveMultiLine(t *testing.T) {
	t.Parallel()
	p := startPTYShell(t)
	p.waitPrompt(PS1, "")
	p.send("def f(x):\r")
	p.waitPrompt(PS2, "")
	p.send("    return x * 2\r")
	p.waitPrompt(PS2, "")
	p.send("\r")
	p.waitPrompt(PS1, "")
	p.send("f(21)\r")
	p.waitLine("42")
	p.waitPrompt(PS1, "")
	p.send("\x04")
	p.waitExit()
	want := []string{">>> def f(x):", "...     return x * 2", "...", ">>> f(21)", "42"}
	if diff := cmp.Diff(want, p.lines()[:len(want)]); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}

func TestInteractiveCompletion(t *testing.T) {
	t.Parallel()
	p := startPTYShell(t)
	p.waitPrompt(PS1, "")
	p.send("pri\t")
	p.waitPrompt(PS1, "print")
	p.send("(42)\r")
	p.waitLine("42")
	p.waitPrompt(PS1, "")
	p.send("my_variable = 1\r")
	p.waitPrompt(PS1, "")
	p.send("my_v\t")
	p.waitPrompt(PS1, "my_variable")
	p.send("\r")
	p.waitLine("1")
	p.waitPrompt(PS1, "")
	p.send("jobs.stat\t")
	p.waitPrompt(PS1, "jobs.status")
	p.send("\x15") // Ctrl-U: clear the line
	p.waitPrompt(PS1, "")
	p.send("%jo\t")
	p.waitPrompt(PS1, "%jobs")
	p.send("\r")
	p.waitPrompt(PS1, "")
	p.send("\x04")
	p.waitExit()
}

func TestInteractiveCtrlDAsksBeforeKilling(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := mkfifo(t, dir, "fifo")
	pidFIFO := mkfifo(t, dir, "pid")
	p := startPTYShell(t)
	p.waitPrompt(PS1, "")
	p.send("%bg !echo $$ > " + pidFIFO + "; exec cat " + fifo + "\r")
	p.waitContains("[job 0 started]")
	pid, err := strconv.Atoi(strings.TrimSpace(readFIFO(t, pidFIFO)))
	if err != nil {
		t.Fatal(err)
	}
	p.waitPrompt(PS1, "")
	question := "Kill 1 running job and exit? [y/N] "
	p.send("\x04")
	p.waitLine("Running jobs:")
	p.waitContains("0 : echo $$")
	p.waitPrompt(question, "")
	p.send("n\r")
	p.waitPrompt(PS1, "")
	p.send("\x04")
	p.waitPrompt(question, "")
	p.send("y\r")
	if code := p.waitExit(); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	p.waitContains("[job 0 killed]")
	if !processGone(pid) {
		t.Errorf("the job's process %d is still running after the shell exited", pid)
	}
}

func TestInteractiveCtrlDWithoutJobsExits(t *testing.T) {
	t.Parallel()
	p := startPTYShell(t)
	p.waitPrompt(PS1, "")
	p.send("%bg 1+1\r") // a job that has finished does not hold the exit
	p.waitContains("[job 0 completed] 1+1")
	p.waitPrompt(PS1, "")
	p.send("\x04")
	if code := p.waitExit(); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

func TestInteractiveHistory(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	p := startPTYShell(t, StateDirEnv+"="+state)
	p.waitPrompt(PS1, "")
	p.send("40+2\r")
	p.waitLine("42")
	p.waitPrompt(PS1, "")
	p.send("\x04")
	if code := p.waitExit(); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	data, err := os.ReadFile(filepath.Join(state, HistoryFileName))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(data); got != "40+2\n" {
		t.Errorf("history file = %q, want %q", got, "40+2\n")
	}

	p = startPTYShell(t, StateDirEnv+"="+state)
	p.waitPrompt(PS1, "")
	p.send("\x1b[A") // Up
	p.waitPrompt(PS1, "40+2")
	p.send("\r")
	p.waitLine("42")
	p.waitPrompt(PS1, "")
	p.send("\x04")
	p.waitExit()
}

// TestInteractiveHistoryBlocks: Up recalls a statement of several lines as
// one entry, indentation intact, also after a restart (as IPython and
// Python 3.13 do); Enter runs the recalled block at once.
func TestInteractiveHistoryBlocks(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	up := func(p *ptyShell, what, cursorLine string) {
		p.t.Helper()
		p.send("\x1b[A")
		p.waitFor(what, func(s *screen) bool { return s.cursorLine() == cursorLine })
	}
	// (The lines a recalled block took below the prompt are erased.)
	emptyPrompt := func(prompt string) func(s *screen) bool {
		return func(s *screen) bool { return s.cursorLine() == prompt && len(s.text()) == s.row+1 }
	}
	block := []string{">>> def q(x):", "    y = x * 2", "    return y"}
	isBlock := func(s *screen) bool {
		l := s.text()
		return len(l) >= 3 && cmp.Equal(block, l[len(l)-3:]) && s.cursorLine() == "    return y"
	}

	p := startPTYShell(t, StateDirEnv+"="+state)
	p.waitPrompt(PS1, "")
	p.send("def q(x):\r")
	p.waitPrompt(PS2, "")
	p.send("    y = x * 2\r")
	p.waitPrompt(PS2, "")
	p.send("    return y\r")
	p.waitPrompt(PS2, "")
	p.send("\r")
	p.waitPrompt(PS1, "")
	p.send("q(2)\r")
	p.waitLine("4")
	p.waitPrompt(PS1, "")
	up(p, "q(2)", ">>> q(2)")
	p.send("\x1b[A")
	p.waitFor("the block recalled", isBlock)
	p.send("\r") // runs it: no empty line needed
	p.waitPrompt(PS1, "")
	// Up and Down come back to an empty line, even after a line typed at
	// the "... " prompt.
	p.send("if True:\r")
	p.waitPrompt(PS2, "")
	up(p, "the block recalled at ...", "    return y")
	p.send("\x1b[B")
	p.waitFor("an empty ... prompt", emptyPrompt(PS2))
	p.send("    pass\r")
	p.waitFor("the next ... prompt", emptyPrompt(PS2))
	p.send("\r")
	p.waitPrompt(PS1, "")
	up(p, "the if recalled", "    pass")
	p.send("\x1b[B")
	p.waitFor("an empty prompt", emptyPrompt(PS1))
	p.send("\x04")
	if code := p.waitExit(); code != 0 {
		t.Fatalf("exit status %d", code)
	}

	// After a restart, the same entries, indentation intact.
	p = startPTYShell(t, StateDirEnv+"="+state)
	p.waitPrompt(PS1, "")
	up(p, "the if recalled", "    pass")
	p.send("\x1b[A")
	p.waitFor("the block recalled", isBlock)
	p.send("\r")
	p.waitPrompt(PS1, "")
	p.send("q(21)\r")
	p.waitLine("42")
	p.waitPrompt(PS1, "")
	p.send("\x04")
	if code := p.waitExit(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	data, err := os.ReadFile(filepath.Join(state, HistoryFileName))
	if err != nil {
		t.Fatal(err)
	}
	b := "def q(x):\r\n    y = x * 2\r\n    return y\n"
	if want := b + "q(2)\n" + b + "if True:\r\n    pass\n" + b + "q(21)\n"; string(data) != want {
		t.Errorf("history file %q, want %q", data, want)
	}
}

// TestInteractivePaste: code pasted (in the terminal's paste brackets) may
// have blank lines inside a block, as IPython and Python 3.13 allow; it
// runs when Enter is pressed on the empty line after it.
func TestInteractivePaste(t *testing.T) {
	t.Parallel()
	p := startPTYShell(t)
	p.waitPrompt(PS1, "")
	p.send("\x1b[200~def f(x):\r    a = x + 1\r\r    b = a * 2\r\r  \r    return b\r\x1b[201~")
	p.waitPrompt(PS2, "")
	p.send("\r")
	p.waitPrompt(PS1, "")
	p.send("f(1)\r")
	p.waitLine("4")
	p.waitPrompt(PS1, "")
	// Tabs indent (Starlark's tab stops are 8 columns), without asking
	// for completions; Windows line ends are line ends.
	p.send("\x1b[200~def h():\r\n\tx = 5\r\n\r\n\treturn x\r\n\x1b[201~\r")
	p.waitPrompt(PS1, "")
	p.send("h()\r")
	p.waitLine("5")
	p.waitPrompt(PS1, "")
	// Typed (not pasted), a blank line still ends the block.
	p.send("def g():\r")
	p.waitPrompt(PS2, "")
	p.send("    return 1\r")
	p.waitPrompt(PS2, "")
	p.send("\r")
	p.waitPrompt(PS1, "")
	p.send("g()\r")
	p.waitLine("1")
	p.waitPrompt(PS1, "")
	p.send("\x04")
	if code := p.waitExit(); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	for _, l := range p.lines() {
		if strings.Contains(l, "Error") || strings.Contains(l, "got indent") || strings.Contains(l, pasteBlank) {
			t.Errorf("screen line %q", l)
		}
	}
}

func TestInteractiveMagics(t *testing.T) {
	t.Parallel()
	p := startPTYShell(t)
	p.waitPrompt(PS1, "")
	p.send("%help\r")
	p.waitContains("%bg EXPR")
	p.waitPrompt(PS1, "")
	p.send("%bg 6*7\r")
	p.waitLine("[job 0 started] 6*7")
	p.waitLine("[job 0 completed] 6*7")
	p.send("jobs.result(0)\r")
	p.waitLine("42")
	p.waitPrompt(PS1, "")
	p.send("%bg\r")
	p.waitContains("Error: %bg needs an expression")
	p.waitPrompt(PS1, "")
	p.send("%bg x = 1\r")
	p.waitContains("Error: %bg x = 1:")
	p.waitPrompt(PS1, "")
	p.send("%kill 7\r")
	p.waitContains("Error: %kill 7:")
	p.waitPrompt(PS1, "")
	p.send("%nope\r")
	p.waitLine("Error: unknown magic %nope (%help lists them)")
	p.waitPrompt(PS1, "")
	p.send("\x04")
	p.waitExit()
}

// TestInteractiveKeyboardInterrupt: Ctrl-C during any wait prints what
// Python prints for an interrupted statement: the traceback, then
// "KeyboardInterrupt". The jobs keep running.
func TestInteractiveKeyboardInterrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := mkfifo(t, dir, "fifo")
	pidFIFO := mkfifo(t, dir, "pid")
	p := startPTYShell(t)
	p.waitPrompt(PS1, "")
	// Ctrl-C only once the command runs in its own process group (a
	// SIGINT while it is being started could reach it).
	p.send("j = jobs.sh('echo $$ > " + pidFIFO + "; exec cat " + fifo + "')\r")
	readFIFO(t, pidFIFO)
	p.waitPrompt(PS1, "")
	for i, stmt := range []string{"j.wait()", "jobs.wait()", "jobs.wait(j)", "catch(j.wait)", "[catch(j.wait) for i in range(3)]"} {
		mark := fmt.Sprintf("waiting %d", i)
		// The statement prints first: once it is seen, the statement runs
		// and the terminal is in cooked mode, so Ctrl-C is a SIGINT.
		p.send("print('" + mark + "'); " + stmt + "\r")
		p.waitLine(mark)
		p.send("\x03")
		p.waitFor("KeyboardInterrupt after "+stmt, func(s *screen) bool {
			l := s.text()
			return len(l) >= 3 && l[len(l)-2] == "KeyboardInterrupt" && strings.HasPrefix(l[len(l)-3], "  <stdin>:1:")
		})
		p.waitPrompt(PS1, "")
	}
	p.send("j.status\r")
	p.waitLine(`"Running"`)
	p.waitPrompt(PS1, "")
	for _, l := range p.lines() {
		if strings.Contains(l, "Cancelled") || strings.Contains(l, "context canceled") || strings.Contains(l, "Error") {
			t.Errorf("screen line %q: an interruption is a KeyboardInterrupt", l)
		}
	}
	p.send("\x04")
	p.waitPrompt("Kill 1 running job and exit? [y/N] ", "")
	p.send("y\r")
	if code := p.waitExit(); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

// TestInteractiveCtrlDDaemonJobs: daemon jobs do not hold the exit: Ctrl-D
// asks only about the others, and daemon jobs are killed silently.
func TestInteractiveCtrlDDaemonJobs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFIFO := mkfifo(t, dir, "pid")
	fifo := mkfifo(t, dir, "fifo")
	p := startPTYShell(t)
	p.waitPrompt(PS1, "")
	p.send("d = jobs.sh('echo $$ > " + pidFIFO + "; exec sleep 1000', daemon=True)\r")
	pid, err := strconv.Atoi(strings.TrimSpace(readFIFO(t, pidFIFO)))
	if err != nil {
		t.Fatal(err)
	}
	p.waitPrompt(PS1, "")
	// With a daemon and an ordinary job, the question is about the latter.
	p.send("c = jobs.sh(['cat', '" + fifo + "'])\r")
	p.waitPrompt(PS1, "")
	p.send("\x04")
	p.waitPrompt("Kill 1 running job and exit? [y/N] ", "")
	if lines := p.lines(); !slices.Contains(lines, "1 : cat "+fifo) || slices.Contains(lines, "0 : echo $$ > "+pidFIFO+"; exec sleep 1000") {
		t.Errorf("the running jobs listed are not just the ordinary one:\n%s", strings.Join(lines, "\n"))
	}
	p.send("n\r")
	p.waitPrompt(PS1, "")
	releaseFIFO(t, fifo)
	p.waitContains("[job 1 completed]")
	p.waitPrompt(PS1, "")
	// Only the daemon is left: Ctrl-D exits at once.
	p.send("\x04")
	if code := p.waitExit(); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	for _, l := range p.lines() {
		if strings.Contains(l, "[job 0") || strings.Contains(l, "Kill 0") {
			t.Errorf("screen line %q: the daemon job was not killed silently", l)
		}
	}
	if strings.Count(strings.Join(p.lines(), "\n"), "exit? [y/N]") != 1 {
		t.Errorf("asked more than once:\n%s", p.screenText())
	}
	if !processGone(pid) {
		t.Errorf("the daemon's process %d is still running after the shell exited", pid)
	}
}

// TestInteractiveExitHelpDir: exit() and quit() leave as Ctrl-D does (asking
// about running jobs; exit(N) sets the status); bare exit and quit say how
// to leave, as Python's do; help and help() print the %help text; dir()
// lists the globals.
func TestInteractiveExitHelpDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := mkfifo(t, dir, "fifo")
	p := startPTYShell(t)
	p.waitPrompt(PS1, "")
	p.send("exit\r")
	p.waitLine("Use exit() or Ctrl-D (i.e. EOF) to exit")
	p.waitPrompt(PS1, "")
	p.send("quit\r")
	p.waitLine("Use quit() or Ctrl-D (i.e. EOF) to exit")
	p.waitPrompt(PS1, "")
	for _, h := range []string{"help", "help()"} {
		p.send(h + "\r")
		p.waitContains("%bg EXPR")
		p.waitLine("The value of the last expression is kept in _.")
		p.waitPrompt(PS1, "")
	}
	p.send("my_var = 1\r")
	p.waitPrompt(PS1, "")
	p.send("[n for n in dir() if n in ('jobs', 'my_var', 'exit')]\r")
	p.waitLine(`["exit", "jobs", "my_var"]`)
	p.waitPrompt(PS1, "")
	p.send("j = jobs.sh(['cat', '" + fifo + "'])\r")
	p.waitPrompt(PS1, "")
	p.send("exit()\r")
	p.waitPrompt("Kill 1 running job and exit? [y/N] ", "")
	p.send("n\r")
	p.waitPrompt(PS1, "")
	p.send("1 + 1\r") // still in the shell
	p.waitLine("2")
	p.waitPrompt(PS1, "")
	p.send("quit(3)\r")
	p.waitPrompt("Kill 1 running job and exit? [y/N] ", "")
	p.send("y\r")
	if code := p.waitExit(); code != 3 {
		t.Errorf("exit status %d, want 3", code)
	}
	p.waitContains("[job 0 killed]")
}

// processGone reports whether process pid has ended (a zombie that nobody
// has reaped yet counts as ended).
func processGone(pid int) bool {
	err := syscall.Kill(pid, 0)
	if errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
