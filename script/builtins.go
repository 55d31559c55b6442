package script

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"go.starlark.net/starlark"
)

// DefaultHelp is what help and help() print in a session whose
// Config.Help is empty.
const DefaultHelp = `drover: Starlark with background jobs and a task farm.

The jobs object (IPython's BackgroundJobManager):
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

Tasks: MapTask(f, args=, kwargs=), StringTask(code, push=, pull=),
CommandTask(cmd), and the task client tc (tc.run, tc.map, tc.barrier,
tc.get_task_result, ...) when the session has a farm.

Other names: catch(f, *args) returns (value, None) or (None, error);
argv; dir() lists the global names, dir(x) the attributes of x; help(x)
describes x; exit(code=0) or quit() ends the program.`

// quitter is exit and quit: calling it ends the program with a
// *SystemExit; its repr says how to leave the shell, as Python's does.
type quitter struct{ name string }

var _ starlark.Callable = quitter{}

func (q quitter) String() string        { return "Use " + q.name + "() or Ctrl-D (i.e. EOF) to exit" }
func (q quitter) Type() string          { return "Quitter" }
func (q quitter) Freeze()               {}
func (q quitter) Truth() starlark.Bool  { return true }
func (q quitter) Hash() (uint32, error) { return starlark.String(q.name).Hash() }
func (q quitter) Name() string          { return q.name }

// CallInternal implements exit(code=None), as Python's sys.exit: None ends
// with status 0, an int with that status, anything else with status 1 and
// its text as the message.
func (q quitter) CallInternal(_ *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var code starlark.Value = starlark.None
	if err := starlark.UnpackArgs(q.name, args, kwargs, "code?", &code); err != nil {
		return nil, typeError(err)
	}
	switch c := code.(type) {
	case starlark.NoneType:
		return nil, &SystemExit{}
	case starlark.Int:
		n, ok := c.Int64()
		if !ok || n < math.MinInt32 || n > math.MaxInt32 {
			return nil, &SystemExit{Code: 1, Msg: c.String()}
		}
		return nil, &SystemExit{Code: int(n)}
	case starlark.String:
		return nil, &SystemExit{Code: 1, Msg: string(c)}
	}
	return nil, &SystemExit{Code: 1, Msg: code.String()}
}

// helpValue is help: printing it, or calling help(), shows the session's
// help text; help(x) describes x.
type helpValue struct{ text string }

var _ starlark.Callable = (*helpValue)(nil)

func (h *helpValue) String() string        { return strings.TrimRight(h.text, "\n") }
func (h *helpValue) Type() string          { return "help" }
func (h *helpValue) Freeze()               {}
func (h *helpValue) Truth() starlark.Bool  { return true }
func (h *helpValue) Hash() (uint32, error) { return starlark.String("help").Hash() }
func (h *helpValue) Name() string          { return "help" }

func (h *helpValue) CallInternal(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var obj starlark.Value
	if err := starlark.UnpackArgs("help", args, kwargs, "obj?", &obj); err != nil {
		return nil, typeError(err)
	}
	if obj == nil {
		printText(thread, h.String()+"\n")
		return starlark.None, nil
	}
	printText(thread, describe(obj))
	return starlark.None, nil
}

// describe returns what help(v) prints: what v is, its docstring (a def
// function) and its attributes.
func describe(v starlark.Value) string {
	var b strings.Builder
	switch f := v.(type) {
	case *starlark.Function:
		params := make([]string, f.NumParams())
		for i := range params {
			name, _ := f.Param(i)
			params[i] = name
		}
		if f.HasVarargs() {
			i := f.NumParams() - 1
			if f.HasKwargs() {
				i--
			}
			params[i] = "*" + params[i]
		}
		if f.HasKwargs() {
			params[len(params)-1] = "**" + params[len(params)-1]
		}
		fmt.Fprintf(&b, "function %s(%s)\n", f.Name(), strings.Join(params, ", "))
		if doc := strings.TrimSpace(f.Doc()); doc != "" {
			for _, l := range strings.Split(doc, "\n") {
				b.WriteString("    " + strings.TrimSpace(l) + "\n")
			}
		}
	case *starlark.Builtin:
		fmt.Fprintf(&b, "built-in function %s\n", f.Name())
	default:
		fmt.Fprintf(&b, "%s: %s\n", v.Type(), shortRepr(v))
	}
	if ha, ok := v.(starlark.HasAttrs); ok {
		names := withPrefix(ha.AttrNames(), "")
		if len(names) > 0 {
			b.WriteString(wrapWords("attributes: ", names, 76))
		}
	}
	return b.String()
}

// shortRepr returns v's repr, cut to one line of about 60 characters.
func shortRepr(v starlark.Value) string {
	s := v.String()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + "..."
	}
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	return s
}

// wrapWords returns head followed by words separated by ", ", wrapped at
// width columns, continuation lines indented like the first word.
func wrapWords(head string, words []string, width int) string {
	var b strings.Builder
	indent := strings.Repeat(" ", len(head))
	line := head
	for i, w := range words {
		item := w
		if i < len(words)-1 {
			item += ","
		}
		if len(line) > len(indent) && len(line)+1+len(item) > width {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += item
	}
	b.WriteString(line + "\n")
	return b.String()
}

// dirBuiltin implements dir(): with no argument, the sorted names of the
// global variables the calling thread sees (in the shell and in scripts,
// the session's globals and predeclared names; in a job, those it
// copied); dir(x) is Starlark's dir, the attributes of x.
func (s *Session) dirBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) > 0 || len(kwargs) > 0 {
		return starlark.Call(thread, starlark.Universe["dir"], args, kwargs)
	}
	var vw view = s.ns
	if st := stateOf(thread); st != nil {
		vw = st.view
	}
	var names []string
	switch v := vw.(type) {
	case *namespace:
		for n := range v.copy() {
			names = append(names, n)
		}
	case snapView:
		for n := range v {
			names = append(names, n)
		}
	}
	names = slices.DeleteFunc(names, func(n string) bool { return strings.HasPrefix(n, "<") })
	slices.Sort(names)
	out := make([]starlark.Value, len(names))
	for i, n := range names {
		out[i] = starlark.String(n)
	}
	return starlark.NewList(out), nil
}
