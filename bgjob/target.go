package bgjob

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
)

// prepare fills in j's kind, strform and what to run from target and args,
// or returns the error New reports. It takes no lock and no number.
func (m *Manager) prepare(j *Job, target any, args []any) error {
	switch t := target.(type) {
	case nil:
		return fmt.Errorf("%w: the target is nil", ErrInvalidArgs)
	case string:
		return m.prepareExpr(j, t, args)
	case Cmd:
		return prepareCmd(j, &t, args)
	case *Cmd:
		if t == nil {
			return fmt.Errorf("%w: the target is a nil *Cmd", ErrInvalidArgs)
		}
		return prepareCmd(j, t, args)
	case Func:
		return m.prepareFunc(j, t, t, args)
	case func(context.Context) (any, error):
		return m.prepareFunc(j, t, t, args)
	}
	return m.prepareReflect(j, target, args)
}

func (m *Manager) prepareFunc(j *Job, f Func, orig any, args []any) error {
	j.kind = FuncJob
	if f == nil {
		return fmt.Errorf("%w: %w: nil %T", ErrInvalidArgs, ErrNotCallable, orig)
	}
	name := m.funcName(orig)
	if len(args) > 0 {
		return fmt.Errorf("%w: %s takes no args (it is called with the job's context only), got %d", ErrInvalidArgs, name, len(args))
	}
	j.fn = f
	j.strform = name
	return nil
}

// funcName returns the name of the function f (a func value): the package
// name and the function name, as "bgjob_test.sleeper" or "main.main.func1"
// (a closure's name depends on the compiler's inlining; Options.Name gives a
// stable one). Names are cached by code address.
func (m *Manager) funcName(f any) string {
	v := reflect.ValueOf(f)
	pc := v.Pointer()
	if name, ok := m.names.Load(pc); ok {
		return name.(string)
	}
	name := funcNameOf(v, pc)
	m.names.Store(pc, name)
	return name
}

func funcNameOf(v reflect.Value, pc uintptr) string {
	rf := runtime.FuncForPC(pc)
	if rf == nil {
		return v.Type().String()
	}
	name := rf.Name()
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSuffix(name, "-fm")
}

var (
	ctxType = reflect.TypeFor[context.Context]()
	errType = reflect.TypeFor[error]()
)

// prepareReflect handles any other func: it checks the parameters against
// args and the results, and binds them in a Func.
func (m *Manager) prepareReflect(j *Job, target any, args []any) error {
	v := reflect.ValueOf(target)
	t := v.Type()
	if t.Kind() != reflect.Func {
		return fmt.Errorf("%w: the target of type %T is not a function, an expression string or a Cmd", ErrInvalidArgs, target)
	}
	j.kind = FuncJob
	if v.IsNil() {
		return fmt.Errorf("%w: %w: nil %s", ErrInvalidArgs, ErrNotCallable, t)
	}
	name := m.funcName(target)

	// Results: (), (T), (error), (T, error).
	hasVal, hasErr := false, false
	switch t.NumOut() {
	case 0:
	case 1:
		if t.Out(0) == errType {
			hasErr = true
		} else {
			hasVal = true
		}
	case 2:
		if t.Out(1) != errType {
			return fmt.Errorf("%w: %s has results %s; want (), (T), (error) or (T, error)", ErrInvalidArgs, name, resultsString(t))
		}
		hasVal, hasErr = true, true
	default:
		return fmt.Errorf("%w: %s has results %s; want (), (T), (error) or (T, error)", ErrInvalidArgs, name, resultsString(t))
	}

	// Parameters: an optional leading context.Context, then args.
	first := 0
	if t.NumIn() > 0 && t.In(0) == ctxType {
		first = 1
	}
	nparams := t.NumIn() - first
	if t.IsVariadic() {
		if len(args) < nparams-1 {
			return fmt.Errorf("%w: %s takes at least %d args, got %d", ErrInvalidArgs, name, nparams-1, len(args))
		}
	} else if len(args) != nparams {
		return fmt.Errorf("%w: %s takes %d args, got %d", ErrInvalidArgs, name, nparams, len(args))
	}
	in := make([]reflect.Value, first+len(args))
	for i, a := range args {
		pi := first + i
		var pt reflect.Type
		if t.IsVariadic() && pi >= t.NumIn()-1 {
			pt = t.In(t.NumIn() - 1).Elem()
		} else {
			pt = t.In(pi)
		}
		av, err := argValue(a, pt)
		if err != nil {
			return fmt.Errorf("%w: %s arg %d: %s", ErrInvalidArgs, name, i+1, err)
		}
		in[pi] = av
	}

	j.fn = func(ctx context.Context) (any, error) {
		if first == 1 {
			in[0] = reflect.ValueOf(ctx)
		}
		out := v.Call(in)
		var val any
		var err error
		if hasVal {
			val = out[0].Interface()
		}
		if hasErr {
			if e := out[len(out)-1].Interface(); e != nil {
				err = e.(error)
			}
		}
		return val, err
	}
	j.strform = name
	return nil
}

func resultsString(t reflect.Type) string {
	parts := make([]string, t.NumOut())
	for i := range parts {
		parts[i] = t.Out(i).String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// argValue returns a as a value for a parameter of type pt.
func argValue(a any, pt reflect.Type) (reflect.Value, error) {
	if a == nil {
		switch pt.Kind() {
		case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.UnsafePointer:
			return reflect.Zero(pt), nil
		}
		return reflect.Value{}, fmt.Errorf("nil is not a valid %s", pt)
	}
	av := reflect.ValueOf(a)
	if !av.Type().AssignableTo(pt) {
		return reflect.Value{}, fmt.Errorf("%s is not assignable to %s", av.Type(), pt)
	}
	return av, nil
}

// prepareExpr compiles an expression job.
func (m *Manager) prepareExpr(j *Job, expr string, args []any) error {
	j.kind = ExprJob
	if len(args) > 2 {
		return ErrTooManyNamespaces
	}
	if m.cfg.Evaluator == nil {
		return fmt.Errorf("new job %q: %w", expr, ErrNoEvaluator)
	}
	prog, err := m.cfg.Evaluator.Compile(expr, slices.Clone(args))
	if err != nil {
		return fmt.Errorf("compile expression job %q: %w", expr, err)
	}
	if prog == nil {
		return fmt.Errorf("compile expression job %q: the Evaluator returned a nil Program", expr)
	}
	j.prog = prog
	j.strform = expr
	return nil
}

// prepareCmd checks a command job and resolves its executable.
func prepareCmd(j *Job, c *Cmd, args []any) error {
	j.kind = CommandJob
	if len(args) > 0 {
		return fmt.Errorf("%w: command jobs take no args (put them in Cmd.Argv), got %d", ErrInvalidArgs, len(args))
	}
	var argv []string
	switch {
	case len(c.Argv) > 0 && c.Shell != "":
		return fmt.Errorf("%w: Cmd has both Argv and Shell set; want exactly one", ErrInvalidArgs)
	case c.Shell != "":
		argv = []string{"/bin/sh", "-c", c.Shell}
		j.strform = c.Shell
	case len(c.Argv) > 0:
		if c.Argv[0] == "" {
			return fmt.Errorf("%w: Cmd.Argv[0] is empty", ErrInvalidArgs)
		}
		argv = slices.Clone(c.Argv)
		j.strform = shellJoin(argv)
	default:
		return fmt.Errorf("%w: Cmd has neither Argv nor Shell set", ErrInvalidArgs)
	}
	var cmd *exec.Cmd
	if path, ok := envPath(c.Env); ok && runtime.GOOS != "windows" && filepath.Base(argv[0]) == argv[0] {
		// The command runs with its own PATH: look it up there, as
		// /bin/sh -c would (exec.Command uses drover's PATH).
		exe, err := lookPathIn(argv[0], path)
		if err != nil {
			return fmt.Errorf("new job: command %s: %w", j.strform, err)
		}
		cmd = &exec.Cmd{Path: exe, Args: argv}
	} else {
		cmd = exec.Command(argv[0], argv[1:]...)
		if cmd.Err != nil {
			return fmt.Errorf("new job: command %s: %w", j.strform, cmd.Err)
		}
	}
	cmd.Dir = c.Dir
	cmd.Env = slices.Clone(c.Env)
	j.cmd = cmd
	return nil
}

// shellJoin joins argv into a command line, quoting the words a POSIX shell
// would split or expand.
func shellJoin(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.IndexFunc(a, needsQuote) < 0 {
			b.WriteString(a)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}

func needsQuote(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("-_./=:,+@%", r)
}

// envPath returns the value of PATH in env (the last one wins, as in
// os/exec), and whether env sets it.
func envPath(env []string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return v, true
		}
	}
	return "", false
}

// lookPathIn is exec.LookPath with the given PATH instead of the process's:
// the first executable regular file named file in its directories. Like
// exec.LookPath it refuses a result relative to the current directory
// (exec.ErrDot).
func lookPathIn(file, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "." // POSIX: an empty PATH entry is the current directory
		}
		p := filepath.Join(dir, file)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		if !filepath.IsAbs(p) {
			return "", &exec.Error{Name: file, Err: exec.ErrDot}
		}
		return p, nil
	}
	return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
}
