package script

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/bgjob"
)

func TestDialect(t *testing.T) {
	t.Parallel()
	d := Dialect()
	if !d.Set || !d.While || !d.TopLevelControl || !d.GlobalReassign || !d.Recursion || d.LoadBindsGlobally {
		t.Errorf("Dialect() = %+v", *d)
	}
	d.Set = false
	if !Dialect().Set {
		t.Error("Dialect() returned a shared value")
	}
	ts := newTestSession(t, nil)
	for _, tc := range []struct{ setup, expr, want string }{
		{"s = set([1, 2, 2])", "len(s)", "2"},
		{"n = 0\nwhile n < 5:\n    n += 1\n", "n", "5"},
		{"if True:\n    top = 'yes'\n", "top", `"yes"`},
		{"acc = []\nfor i in range(3):\n    acc.append(i)\n", "acc", "[0, 1, 2]"},
		{"g = 1\ng = 2", "g", "2"},
		{"def fact(n):\n    return 1 if n <= 1 else n * fact(n - 1)\n", "fact(20)", "2432902008176640000"},
	} {
		ts.exec(t, tc.setup)
		if got := ts.exec(t, tc.expr).String(); got != tc.want {
			t.Errorf("%q then %q: got %s, want %s", tc.setup, tc.expr, got, tc.want)
		}
	}
}

func TestExecExpressionValue(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	ctx := t.Context()
	tests := []struct {
		src    string
		want   string // String() of the value
		isExpr bool
	}{
		{"1 + 2", "3", true},
		{"_", "3", true},
		{"None", "None", true},
		{"_", "3", true}, // None does not set _
		{"x = 10", "None", false},
		{"x * 2", "20", true},
		{"_ + 1", "21", true},
		{"print('hi')", "None", true},
		{"y = 1\ny + 1", "None", false}, // not a sole expression
		{"[x, y]", "[10, 1]", true},
	}
	for _, tc := range tests {
		v, isExpr, err := ts.Exec(ctx, "<stdin>", tc.src)
		if err != nil {
			t.Fatalf("Exec(%q): %v", tc.src, err)
		}
		if v.String() != tc.want || isExpr != tc.isExpr {
			t.Errorf("Exec(%q) = %s, %v; want %s, %v", tc.src, v, isExpr, tc.want, tc.isExpr)
		}
	}
	if got := ts.out.String(); got != "hi\n" {
		t.Errorf("stdout = %q", got)
	}
}

// TestLateBinding checks what a REPL user expects from Python: a function
// reads a global's current value, whichever chunk set it.
func TestLateBinding(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	steps := []struct{ src, want string }{
		{"x = 1", "None"},
		{"def f(): return x", "None"},
		{"x = 2", "None"},
		{"f()", "2"},
		{"def g(): return h() + 1", "None"}, // h does not exist yet
		{"def h(): return x * 10", "None"},
		{"g()", "21"},
		{"def h(): return 0", "None"}, // redefinition seen by g
		{"g()", "1"},
		{"out = []\nfor i in range(3):\n    x = i\n    out.append(f())\n", "None"},
		{"out", "[0, 1, 2]"},
		{"x += 40", "None"},
		{"f()", "42"},
		{"len = lambda s: 'shadowed'", "None"},
		{"len([1])", `"shadowed"`},
		{"def uses_len(): return len('abc')", "None"},
		{"uses_len()", `"shadowed"`},
	}
	for _, st := range steps {
		if got := ts.exec(t, st.src).String(); got != st.want {
			t.Errorf("%q = %s, want %s", st.src, got, st.want)
		}
	}
	// A lambda in a sole expression: its job still gets the globals it reads.
	ts.exec(t, "y = 21")
	if got := ts.exec(t, "jobs.new(lambda: y * 2)").String(); got != "<BackgroundJob #0: <function lambda>>" {
		t.Errorf("job %s", got)
	}
	ts.exec(t, "_.wait()")
	if got := ts.exec(t, "jobs[0].result").String(); got != "42" {
		t.Errorf("result %s (%s)", got, ts.exec(t, "jobs[0].error"))
	}
}

func TestExecErrors(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	ctx := t.Context()
	tests := []struct {
		src, kind, text string
	}{
		{"1 +", KindSyntaxError, "<stdin>:1:4: got end of file, want primary expression"},
		{"undefined_name", KindNameError, "NameError: <stdin>:1:1: undefined: undefined_name"},
		{"prnt(1)", KindNameError, "NameError: <stdin>:1:1: undefined: prnt (did you mean print?)"},
		{`load("x.star", "y")`, KindSyntaxError, "load statements are not supported"},
		{"def f(): return later_name\nf()", KindNameError, "NameError: name 'later_name' is not defined"},
		{"fail('boom')", KindAssertionError, "\nAssertionError: boom"},
		{"1 / 0", KindZeroDivisionError, "\nZeroDivisionError: floating-point division by zero"},
		{"1 // 0", KindZeroDivisionError, "\nZeroDivisionError: floored division by zero"},
		{"{}['x']", KindKeyError, "\nKeyError: key \"x\" not in dict"},
		{"jobs[99]", KindKeyError, "\nKeyError: 99"},
		{"jobs.new(42)", KindTypeError, "TypeError: invalid args for new job"},
		{"fresh += 1", KindNameError, "NameError: name 'fresh' is not defined"},
		{"print(later_global)\nlater_global = 1", KindNameError, "undefined: later_global"},
		{"1 +", KindSyntaxError, "SyntaxError: <stdin>:1:4: got end of file"},
	}
	for _, tc := range tests {
		_, _, err := ts.Exec(ctx, "<stdin>", tc.src)
		if err == nil {
			t.Errorf("Exec(%q) succeeded", tc.src)
			continue
		}
		if KindOf(err) != tc.kind || !strings.Contains(FormatError(err), tc.text) {
			t.Errorf("Exec(%q): kind %s, text %q; want %s, containing %q", tc.src, KindOf(err), FormatError(err), tc.kind, tc.text)
		}
	}
	// Assignments before an error persist.
	if _, _, err := ts.Exec(ctx, "<stdin>", "kept = 1\nfail('x')"); err == nil {
		t.Fatal("no error")
	}
	if got := ts.exec(t, "kept").String(); got != "1" {
		t.Errorf("kept = %s", got)
	}
	// The backtrace names the frames, not drover's internal <ns> frame.
	_, _, err := ts.Exec(ctx, "<stdin>", "def f(): return nope\nf()")
	want := "Traceback (most recent call last):\n  <stdin>:2:2: in <toplevel>\n  <stdin>:1:17: in f\nNameError: name 'nope' is not defined"
	if got := FormatError(err); got != want {
		t.Errorf("FormatError:\n%s\nwant:\n%s", got, want)
	}
}

func TestExecCancelBusyLoop(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	for _, src := range []string{
		"while True: pass",
		"def spin():\n    while True:\n        pass\nspin()",
		"jobs.wait(jobs.new(gate().wait))", // blocked in a Go built-in
	} {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, _, err := ts.Exec(ctx, "<stdin>", src)
			done <- err
		}()
		// Cancel once the chunk is surely running: a sole expression
		// statement or loop blocks Exec, so cancel from here at once; the
		// thread must stop whenever cancellation arrives.
		cancel()
		select {
		case err := <-done:
			if err == nil || KindOf(err) != KindCancelled {
				t.Errorf("%q: err = %v (kind %s), want a cancellation", src, err, KindOf(err))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q: not interrupted", src)
		}
	}
	// A busy loop that is already running when the context is cancelled.
	ctx, cancel := context.WithCancel(t.Context())
	g := &gateValue{ch: make(chan struct{})}
	ts.ns.set("started", g)
	done := make(chan error, 1)
	go func() {
		_, _, err := ts.Exec(ctx, "<stdin>", "started.open()\nwhile True: pass")
		done <- err
	}()
	<-g.ch
	cancel()
	if err := <-done; KindOf(err) != KindCancelled {
		t.Errorf("busy loop: %v", err)
	}
	// The session still works.
	if got := ts.exec(t, "1 + 1").String(); got != "2" {
		t.Errorf("after cancel: %s", got)
	}
}

// TestExecKeyboardInterrupt: a statement interrupted by Ctrl-C (its context
// cancelled with the cause ErrKeyboardInterrupt) fails with a
// KeyboardInterrupt, whatever it was doing, and FormatError ends with the
// line Python prints: "KeyboardInterrupt".
func TestExecKeyboardInterrupt(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	g := &gateValue{ch: make(chan struct{})} // never opened: jobs block on it
	ts.ns.set("blocker", g)
	ts.exec(t, "j = jobs.new(blocker.wait)")
	for _, src := range []string{
		"while True: pass",
		"def spin():\n    while True:\n        pass\nspin()",
		"j.wait()",
		"jobs.wait()",
		"jobs.wait(j)",
		"jobs.wait(timeout=1000)",
		"catch(lambda: j.wait())",
		"catch(spin)",
		"[catch(spin) for i in range(3)]",
	} {
		started := &gateValue{ch: make(chan struct{})}
		ts.ns.set("started", started)
		ctx, cancel := context.WithCancelCause(t.Context())
		done := make(chan error, 1)
		go func() {
			_, _, err := ts.Exec(ctx, "<stdin>", "started.open()\n"+src)
			done <- err
		}()
		<-started.ch
		cancel(ErrKeyboardInterrupt)
		err := <-done
		if KindOf(err) != KindKeyboardInterrupt || !errors.Is(err, ErrKeyboardInterrupt) {
			t.Errorf("%q: %v (kind %s), want a KeyboardInterrupt", src, err, KindOf(err))
			continue
		}
		text := FormatError(err)
		if !strings.HasPrefix(text, "Traceback (most recent call last):\n  <stdin>:") || !strings.HasSuffix(text, "\nKeyboardInterrupt") {
			t.Errorf("%q: FormatError = %q, want a traceback ending in KeyboardInterrupt", src, text)
		}
	}
	// Another cause (SIGTERM, a deadline) is not a KeyboardInterrupt.
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(errors.New("terminated"))
	if _, _, err := ts.Exec(ctx, "<stdin>", "j.wait()"); KindOf(err) != KindCancelled {
		t.Errorf("cancelled with another cause: %v (kind %s), want Cancelled", err, KindOf(err))
	}
	if job, err := ts.Jobs().Get(0); err != nil || job.Finished() {
		t.Errorf("the job was killed by the interruption (%v)", err)
	}
}

// TestExit: exit() and quit() end the chunk with a *SystemExit carrying
// the status, as Python's sys.exit.
func TestExit(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	tests := []struct {
		src  string
		code int
		msg  string
	}{
		{"exit()", 0, ""},
		{"quit()", 0, ""},
		{"exit(None)", 0, ""},
		{"exit(3)", 3, ""},
		{"x = 1\nquit(code=4)\nx = 2", 4, ""},
		{"exit('bye')", 1, "bye"},
		{"def f():\n    exit(5)\nf()", 5, ""},
		{"catch(exit, 6)", 6, ""},
	}
	for _, tc := range tests {
		_, _, err := ts.Exec(t.Context(), "<stdin>", tc.src)
		var se *SystemExit
		if !errors.As(err, &se) || se.Code != tc.code || se.Msg != tc.msg {
			t.Errorf("%q: %v, want SystemExit with code %d, message %q", tc.src, err, tc.code, tc.msg)
		}
		if KindOf(err) != KindSystemExit {
			t.Errorf("%q: kind %s", tc.src, KindOf(err))
		}
	}
	if got := ts.exec(t, "x").String(); got != "1" {
		t.Errorf("x = %s: the statements after exit() ran", got)
	}
	if _, _, err := ts.Exec(t.Context(), "<stdin>", "exit(1, 2)"); KindOf(err) != KindTypeError {
		t.Errorf("exit(1, 2): %v", err)
	}
	// In a job, exit() ends the job, which dies with a SystemExit.
	ts.exec(t, "e = jobs.new(exit, 7)\ne.wait()")
	if got := ts.exec(t, "e.error").String(); got != "SystemExit: 7" {
		t.Errorf("job's error %s", got)
	}
}

func TestExecFile(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, &Config{Args: []string{"a", "b"}})
	src := `
def main():
    return helper(argv)      # helper is defined later in the file
def helper(args):
    return ",".join(args)
result = main()
1 + 1   # value discarded
print(result)
`
	if err := ts.ExecFile(t.Context(), "prog.star", []byte(src)); err != nil {
		t.Fatal(FormatError(err))
	}
	if got := ts.out.String(); got != "a,b\n" {
		t.Errorf("printed %q", got)
	}
	g := ts.Globals()
	if g["result"].String() != `"a,b"` || g["_"] != nil {
		t.Errorf("globals: result=%v _=%v", g["result"], g["_"])
	}
	for _, name := range []string{"jobs", "catch", "argv", "main", "helper"} {
		if _, ok := g[name]; !ok {
			t.Errorf("Globals() lacks %s", name)
		}
	}
	if _, ok := g[nsName]; ok {
		t.Errorf("Globals() shows the internal %s", nsName)
	}
	err := ts.ExecFile(t.Context(), "bad.star", []byte("x = 1\ny = x +\n"))
	if err == nil || !strings.Contains(err.Error(), "bad.star:2:") {
		t.Errorf("syntax error: %v", err)
	}
}

func TestExecNilContext(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	//lint:ignore SA1012 testing the nil check
	if _, _, err := ts.Exec(nil, "<stdin>", "1"); err == nil { //nolint:staticcheck
		t.Error("Exec(nil ctx) succeeded")
	}
}

// TestErrorLinesGoToStderr checks the seed's error() lines land on
// Config.Stderr and status text on Config.Stdout.
func TestErrorLinesGoToStderr(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	ts.exec(t, "jobs.result(7)\njobs.remove(8)\njobs.traceback(9)\njobs.kill(10)\njobs.wait(11)")
	ts.exec(t, "j = jobs.new(lambda: 5)\nj.wait()\njobs()")
	wantErr := "ERROR: Job #7 not found\nERROR: Job #8 not found\nERROR: Job #9 not found\nERROR: Job #10 not found\nERROR: Job #11 not found\n"
	if got := ts.err.String(); got != wantErr {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, wantErr)
	}
	if got, want := ts.out.String(), "Completed jobs:\n0 : <function lambda>\n\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
}

// TestUnknownJobNumbers: a number that no job can have (beyond the int
// range) is an unknown job like any other: result, remove, traceback, kill
// and wait print an ERROR line and return None (IPython logs both); jobs[N]
// raises KeyError for both; a value that is not a number is a TypeError.
func TestUnknownJobNumbers(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	big := "1180591620717411303424"
	for _, fn := range []string{"result", "remove", "traceback", "kill", "wait"} {
		src := "jobs." + fn + "(" + big + ")"
		if v := ts.exec(t, src); v != starlark.None {
			t.Errorf("%s = %v, want None", src, v)
		}
		if v := ts.exec(t, "jobs."+fn+"(-"+big+")"); v != starlark.None {
			t.Errorf("%s with a negative number = %v, want None", src, v)
		}
	}
	want := strings.Repeat("ERROR: Job #"+big+" not found\nERROR: Job #-"+big+" not found\n", 5)
	if got := ts.err.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
	for _, src := range []string{"jobs[" + big + "]", "jobs[99]"} {
		_, _, err := ts.Exec(t.Context(), "<stdin>", src)
		if KindOf(err) != KindKeyError {
			t.Errorf("%s: %v (kind %s), want a KeyError", src, err, KindOf(err))
		}
	}
	for _, fn := range []string{"result", "remove", "traceback", "kill", "wait"} {
		_, _, err := ts.Exec(t.Context(), "<stdin>", "jobs."+fn+"('x')")
		if KindOf(err) != KindTypeError || !strings.Contains(err.Error(), "a job must be given by number or as a job, not string") {
			t.Errorf("jobs.%s('x'): %v (kind %s), want a TypeError", fn, err, KindOf(err))
		}
	}
}

// TestCommandNotFound: jobs.sh of a command that does not exist raises
// FileNotFoundError (as Python's subprocess), with one message naming the
// command, and takes no job number.
func TestCommandNotFound(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	for _, src := range []string{`jobs.sh(["nonexistent_cmd_xyz", "-v"])`, `jobs.sh(["nonexistent_cmd_xyz"], env={"PATH": "/nonexistent"})`} {
		_, _, err := ts.Exec(t.Context(), "<stdin>", src)
		if KindOf(err) != KindFileNotFoundError {
			t.Fatalf("%s: %v (kind %s), want FileNotFoundError", src, err, KindOf(err))
		}
		text := FormatError(err)
		last := text[strings.LastIndexByte(text, '\n')+1:]
		if want := "FileNotFoundError: jobs.sh: command not found: nonexistent_cmd_xyz"; last != want {
			t.Errorf("%s: last line %q, want %q", src, last, want)
		}
		if strings.Count(text, "Error") != 1 {
			t.Errorf("%s: %q names the error more than once", src, text)
		}
	}
	if n := ts.Jobs().Len(); n != 0 {
		t.Errorf("%d jobs, want none", n)
	}
}

func TestJobsAfterClose(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	if err := ts.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, _, err := ts.Exec(t.Context(), "<stdin>", "jobs.new(lambda: 1)")
	if KindOf(err) != KindError || !errors.Is(err, bgjob.ErrClosed) {
		t.Errorf("jobs.new after Close: %v (kind %s)", err, KindOf(err))
	}
	// The session itself still runs code.
	if got := ts.exec(t, "1 + 1").String(); got != "2" {
		t.Errorf("got %s", got)
	}
}

func TestOnJobFinishAndDefaults(t *testing.T) {
	t.Parallel()
	finished := make(chan int, 1)
	ts := newTestSession(t, &Config{OnJobFinish: func(j *bgjob.Job) { finished <- j.Num() }})
	ts.exec(t, "jobs.new(lambda: 1)")
	if n := <-finished; n != 0 {
		t.Errorf("OnJobFinish got job %d", n)
	}
	s, err := NewSession(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.stdout.(*lockedWriter).w != os.Stdout || s.stderr.(*lockedWriter).w != os.Stderr {
		t.Error("nil Config: output is not os.Stdout/os.Stderr")
	}
	if err := s.Close(t.Context()); err != nil {
		t.Error(err)
	}
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("x"), KindError},
		{&Error{Kind: KindKeyError, Msg: "1"}, KindKeyError},
		{errors.Join(errors.New("a"), &Error{Kind: KindValueError}), KindValueError},
		{bgjob.ErrKilled, KindKilled},
		{context.Canceled, KindCancelled},
		{context.DeadlineExceeded, KindCancelled},
	}
	for _, tc := range tests {
		if got := KindOf(tc.err); got != tc.want {
			t.Errorf("KindOf(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	_, err := Dialect().Parse("f", "(", 0)
	if KindOf(err) != KindSyntaxError {
		t.Errorf("KindOf(%v) = %s", err, KindOf(err))
	}
	e := &Error{Kind: KindKeyError, Msg: "99", Err: bgjob.ErrNotFound}
	if e.Error() != "KeyError: 99" || !errors.Is(e, bgjob.ErrNotFound) {
		t.Errorf("Error %q, Is(ErrNotFound) %v", e, errors.Is(e, bgjob.ErrNotFound))
	}
	if FormatError(nil) != "" || FormatError(errors.New("plain")) != "Error: plain" {
		t.Error("FormatError of nil or a plain error")
	}
}

func TestIsIncomplete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want bool
	}{
		{"", false},
		{"   ", false},
		{"x = 1", false},
		{"print(1)", false},
		{"f(1,", true},
		{"x = [1,\n2", true},
		{"x = [1,\n2]", false},
		{"d = {", true},
		{"x = (1 if", true},
		{"'''abc", true},
		{`"""doc`, true},
		{"'''abc\n'''", false},
		{`x = """a\"""b`, true}, // an escaped quote does not end it
		{"x = 'abc", false},     // unterminated single quote: an error now
		{"x = 1 +", false},      // Python: SyntaxError at once
		{"x = 1 \\", true},      // line continuation
		{"if x:", true},
		{"if x:\n    y = 1", true},
		{"if x:\n    y = 1\n", false}, // ended by a blank line
		{"if x:\n    y = 1\nelse:", true},
		{"if x:\n", false}, // blank line right after the header: run, report the error
		{"def f():\n    return 1", true},
		{"def f():\n    return 1\n   ", false},
		{"for x in y: pass", true},
		{"for x in y: pass\n", false},
		{"while True:\n    pass\n", false},
		{"x = 1 # comment (", false},
		{"s = '(' ", false},
		{"f(1, # comment )", true},
		{"f(1,, 2", false}, // a syntax error more lines cannot fix
		{")", false},
		{"lambda", false},
		{"x = [\n", true},
		// Inside a block the parser sees an outdent or a newline before
		// the end of the text.
		{"def f(n):\n    total = 0\n    for i in range(n):", true},
		{"def f(n):\n    for i in range(n):\n        if i % 2 == 0:", true},
		{"def f(n):\n    for i in range(n):\n        if i:\n            t += i\n    return t", true},
		{"def f(n):\n    for i in range(n):\n        if i:\n            t += i\n    return t\n", false},
		{"if a:\n    x = [", true},
		{"if a:\n    x = (1 +", true},
		{"def f():\n    if x:\n        pass\n    else:", true},
		{"if a:\n    '''", true},
		{"def f():\n    return 1 +", false}, // Python: SyntaxError at once
		{"def f():\n    return (1 +", true},
		{"if a:\n    pass\n  x", false}, // bad indentation: report now
		{"s = 'é' + (", true},
		{"s = 'é' + é(", true},
	}
	for _, tc := range tests {
		if got := IsIncomplete(tc.src); got != tc.want {
			t.Errorf("IsIncomplete(%q) = %v, want %v", tc.src, got, tc.want)
		}
	}
}

func TestComplete(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	ts.exec(t, "alpha = [1]\nalphabet = 2\nd = {}\nj = jobs.new(lambda: 1)\ndeep = {'k': ['x', 'y']}")
	ts.exec(t, "calls = []\ndef f():\n    calls.append(1)\n    return 'x'")
	tests := []struct {
		line  string
		pos   int // -1: end of line
		want  []string
		start int
	}{
		{"alp", -1, []string{"alpha", "alphabet"}, 0},
		{"print(alp", -1, []string{"alpha", "alphabet"}, 6},
		{"jo", -1, []string{"jobs"}, 0},
		{"wh", -1, []string{"while"}, 0},
		{"le", -1, []string{"len"}, 0},
		{"jobs.r", -1, []string{"remove", "result", "running"}, 5},
		{"jobs.st", -1, []string{"status", "status_new"}, 5},
		{"x = jobs.", -1, jobsAttrNames, 9},
		{"j.ex", -1, []string{"exit_code"}, 2},
		{"alpha.ap", -1, []string{"append"}, 6},
		{"d.get", -1, []string{"get"}, 2},
		{"jobs.running.ap", -1, []string{"append"}, 13},
		{"nosuch.x", -1, nil, 8},
		{"'alp", -1, nil, 4},         // inside a string
		{"alpha # alp", -1, nil, 11}, // inside a comment
		{"12", -1, nil, 2},
		{"alpha + alp", 3, []string{"alpha", "alphabet"}, 0}, // completes before the cursor
		{"<n", -1, []string{"not"}, 1},
		// After an index expression or a literal.
		{"jobs[0].st", -1, []string{"stat_code", "status", "strform"}, 8},
		{"print(jobs[0].st", -1, []string{"stat_code", "status", "strform"}, 14},
		{"jobs[j].st", -1, []string{"stat_code", "status", "strform"}, 8},
		{"jobs[9].st", -1, nil, 10}, // no such job
		{`"abc".up`, -1, []string{"upper"}, 6},
		{`x = 'abc'.up`, -1, []string{"upper"}, 10},
		{`b"x".el`, -1, []string{"elems"}, 5},
		{"[1, 2].ap", -1, []string{"append"}, 7},
		{`(1, "ab")[1].up`, -1, []string{"upper"}, 13},
		{`{"a": [1]}["a"].ap`, -1, []string{"append"}, 16},
		{`deep["k"][-1].up`, -1, []string{"upper"}, 14},
		{"(alpha).ap", -1, []string{"append"}, 8},
		{"1 + alpha.ap", -1, []string{"append"}, 10},
		{"alpha[5].x", -1, nil, 10},
		{"alpha[0].", -1, nil, 9}, // an int has no attributes
		{"x = 1.", -1, nil, 6},
		// Never a call: f() would run code.
		{"f().up", -1, nil, 6},
		{"[f()].ap", -1, nil, 8},
		{"jobs[len(alpha)].st", -1, nil, 19},
		{"(alpha + alpha).ap", -1, nil, 18},
	}
	for _, tc := range tests {
		pos := tc.pos
		if pos < 0 {
			pos = len(tc.line)
		}
		got, start := ts.Complete(tc.line, pos)
		if tc.want == nil && len(got) == 0 {
			got = nil
		}
		if diff := cmp.Diff(tc.want, got); diff != "" || start != tc.start {
			t.Errorf("Complete(%q, %d) start %d (want %d), candidates (-want +got):\n%s", tc.line, pos, start, tc.start, diff)
		}
	}
	// Internal names are never offered.
	got, _ := ts.Complete("", 0)
	for _, c := range got {
		if strings.HasPrefix(c, "<") {
			t.Errorf("Complete offers %q", c)
		}
	}
	if got := ts.exec(t, "calls").String(); got != "[]" {
		t.Errorf("completion called a function: calls = %s", got)
	}
	// Out-of-range positions are clamped.
	if got, start := ts.Complete("alp", 99); len(got) != 2 || start != 0 {
		t.Errorf("Complete(pos 99) = %v, %d", got, start)
	}
}

func TestGlobalsIsACopy(t *testing.T) {
	t.Parallel()
	ts := newTestSession(t, nil)
	ts.exec(t, "a = 1")
	g := ts.Globals()
	g["a"] = starlark.MakeInt(2)
	delete(g, "jobs")
	if got := ts.exec(t, "a").String(); got != "1" {
		t.Errorf("a = %s after changing the copy", got)
	}
	if _, ok := ts.Globals()["jobs"]; !ok {
		t.Error("jobs gone")
	}
}
