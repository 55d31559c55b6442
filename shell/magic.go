package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/bgjob"
)

// magicNames returns the shell's % commands, in the order %help lists them.
func magicNames() []string { return []string{"%bg", "%jobs", "%kill", "%help"} }

// magic runs one magic line (it starts with "%"). It reports whether it
// succeeded; errors are printed on errw.
func (sh *shell) magic(ctx context.Context, line string) bool {
	name, arg, _ := strings.Cut(strings.TrimPrefix(line, "%"), " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "bg":
		return sh.magicBg(arg)
	case "jobs":
		if arg != "" {
			return sh.magicErr("%%jobs takes no argument, got %q", arg)
		}
		sh.sess.Jobs().Status(sh.out)
		return true
	case "kill":
		return sh.magicKill(arg)
	case "help":
		io.WriteString(sh.out, helpText)
		return true
	default:
		return sh.magicErr("unknown magic %%%s (%%help lists them)", name)
	}
}

func (sh *shell) magicErr(format string, args ...any) bool {
	fmt.Fprintf(sh.errw, "Error: "+format+"\n", args...)
	return false
}

// magicBg starts a background job: %bg EXPR is jobs.new("EXPR") in the
// shell's globals (IPython 0.10's %bg calls jobs.new(EXPR, user_ns));
// %bg !COMMAND is jobs.sh("COMMAND"), run with /bin/sh -c.
func (sh *shell) magicBg(arg string) bool {
	if arg == "" {
		return sh.magicErr("%%bg needs an expression (%%bg EXPR) or a command (%%bg !COMMAND)")
	}
	var (
		j   *bgjob.Job
		err error
	)
	if cmd, ok := strings.CutPrefix(arg, "!"); ok {
		cmd = strings.TrimSpace(cmd)
		if cmd == "" {
			return sh.magicErr("%%bg !COMMAND: the command is empty")
		}
		j, err = sh.sess.Jobs().New(bgjob.Cmd{Shell: cmd})
	} else {
		j, err = sh.bgExpr(arg)
	}
	if err != nil {
		return sh.magicErr("%%bg %s: %v", arg, err)
	}
	fmt.Fprintf(sh.out, "[job %d started] %s\n", j.Num(), shorten(j.String()))
	return true
}

// bgExpr starts an expression job as jobs.new("EXPR") typed at the prompt
// would (the expression reads a snapshot of the globals it names), without
// touching `_`: it calls the session's own jobs.new, taken when the session
// started (so rebinding the global `jobs` does not break %bg).
func (sh *shell) bgExpr(expr string) (*bgjob.Job, error) {
	if sh.jobsNew == nil {
		return nil, errors.New("the session has no jobs.new")
	}
	thread := &starlark.Thread{Name: "%bg"}
	v, err := starlark.Call(thread, sh.jobsNew, starlark.Tuple{starlark.String(expr)}, nil)
	if err != nil {
		return nil, err
	}
	return jobOf(sh.sess.Jobs(), v)
}

// jobOf returns the job behind a Starlark job value (its num attribute).
func jobOf(m *bgjob.Manager, v starlark.Value) (*bgjob.Job, error) {
	ha, ok := v.(starlark.HasAttrs)
	if !ok {
		return nil, fmt.Errorf("jobs.new returned %s, not a job", v.Type())
	}
	nv, err := ha.Attr("num")
	if err != nil || nv == nil {
		return nil, fmt.Errorf("jobs.new returned %s, which has no num", v.Type())
	}
	num, err := starlark.AsInt32(nv)
	if err != nil {
		return nil, fmt.Errorf("jobs.new returned a job whose num is %s", nv)
	}
	return m.Get(num)
}

// lookupJobsNew returns the session's jobs.new, or nil.
func lookupJobsNew(g starlark.StringDict) starlark.Callable {
	jobs, ok := g["jobs"].(starlark.HasAttrs)
	if !ok {
		return nil
	}
	v, err := jobs.Attr("new")
	if err != nil {
		return nil
	}
	c, _ := v.(starlark.Callable)
	return c
}

// magicKill kills the jobs numbered in arg ("3" or "3 5 8").
func (sh *shell) magicKill(arg string) bool {
	fields := strings.Fields(arg)
	if len(fields) == 0 {
		return sh.magicErr("%%kill needs a job number (%%kill N)")
	}
	ok := true
	for _, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil {
			ok = sh.magicErr("%%kill %s: not a job number", f) && ok
			continue
		}
		if err := sh.sess.Jobs().Kill(n); err != nil {
			ok = sh.magicErr("%%kill %d: %v", n, err) && ok
		}
	}
	return ok
}

const helpText = `drover shell: Starlark with background jobs.

Magics (at the start of a line):
  %bg EXPR        jobs.new("EXPR"): evaluate EXPR in the background
  %bg !COMMAND    jobs.sh("COMMAND"): run COMMAND with /bin/sh -c in the background
  %jobs           jobs.status(): list the jobs by state
  %kill N [M...]  kill running jobs
  %help           this text

The jobs object (also in scripts run with drover run):
  jobs.new(f, *args, kw={}, daemon=False)  call a function in the background
  jobs.new("EXPR"[, globals[, locals]])    evaluate an expression in the background
  jobs.sh(command, dir=, env=, daemon=)    run a command (a string, or an argv list)
  jobs.status(), jobs()                    print the jobs by state
  jobs[N], jobs.result(N)                  job N, and its result
  jobs.traceback(N)                        the traceback of dead job N
  jobs.kill(N), jobs.wait(N)               kill job N, wait for it (no N: all)
  jobs.remove(N), jobs.flush()             forget finished jobs
  jobs.running, jobs.completed, jobs.dead  lists of jobs
  A job has .num .status .result .output .error .traceback() .kill() .wait() ...

Also: catch(f, *args) returns (value, None) or (None, error); dir() lists
the globals, dir(x) the attributes of x; help(x) describes x; exit() or
quit() leaves the shell, as Ctrl-D does; tc is the task farm (MapTask,
StringTask, tc.map, tc.run, ...).

Keys: Tab completes names and attributes; Up/Down and Ctrl-R search the
history; Ctrl-C interrupts the running statement or clears the line;
Ctrl-D on an empty line exits (asking before killing running jobs).
A line such as "[job 3 completed] EXPR" is printed when a job finishes.
The value of the last expression is kept in _.
`
