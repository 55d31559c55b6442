package script

import (
	"context"
	"errors"
	"io"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/drover-dev/drover/bgjob"
)

// exprFilename is the file name of expression jobs in error messages, as
// the seed's compile() call names it.
const exprFilename = "<BackgroundJob compilation>"

// Evaluator evaluates the expression jobs of a bgjob.Manager in Starlark
// (the Dialect), each on its own thread; print() goes to the job's output
// and killing the job cancels the thread. Sessions use one for `jobs`; a Go
// program may put one in its own bgjob.Config. The zero value is ready to
// use; an Evaluator is safe for concurrent use.
//
// Namespaces given to Compile (0, 1 or 2) may be starlark.StringDict,
// *starlark.Dict (string keys), map[string]any (converted by ToStarlark) or
// nil (empty). With two, names are looked up in the second (locals), then
// the first (globals). Their values are copied (see package doc,
// "Snapshots") when Compile is called, so the caller may go on mutating
// them. An expression naming an undefined variable fails to compile (a
// NameError), as Starlark resolves names before running.
type Evaluator struct {
	sess *Session // the session whose jobs these are, or nil
}

var _ bgjob.Evaluator = (*Evaluator)(nil)

// prepared is the namespace argument jobs.new passes to the manager:
// already copied on the calling thread.
type prepared struct {
	env  starlark.StringDict // the expression's names
	view snapView            // the globals its functions read
	self *jobRef
}

// Compile compiles expr for an expression job.
func (e *Evaluator) Compile(expr string, namespaces []any) (bgjob.Program, error) {
	var p *prepared
	if len(namespaces) == 1 {
		p, _ = namespaces[0].(*prepared)
	}
	if p == nil {
		if len(namespaces) > 2 {
			return nil, newError(KindValueError, bgjob.ErrTooManyNamespaces, "%s", bgjob.ErrTooManyNamespaces)
		}
		c := e.sess.newSnapshotter(snapView(nil))
		p = &prepared{env: starlark.StringDict{}}
		for _, ns := range namespaces {
			if err := c.namespace(p.env, ns); err != nil {
				return nil, err
			}
		}
		p.view = c.view()
	}
	fn, err := starlark.ExprFuncOptions(Dialect(), exprFilename, expr, p.env)
	if err != nil {
		return nil, compileError(err)
	}
	vw := p.view
	if vw == nil {
		vw = snapView(p.env)
	}
	return &exprProgram{sess: e.sess, fn: fn, view: vw, self: p.self}, nil
}

// compileError gives a parse or resolve error its kind: NameError when
// every problem is an undefined name, else SyntaxError.
func compileError(err error) error {
	kind := KindSyntaxError
	var rl resolve.ErrorList
	if errors.As(err, &rl) {
		kind = KindNameError
		for _, e := range rl {
			if !strings.HasPrefix(e.Msg, "undefined: ") {
				kind = KindSyntaxError
			}
		}
	}
	return &Error{Kind: kind, Msg: err.Error(), Err: err}
}

// namespace copies the entries of ns (a namespace argument) into env.
func (c *snapshotter) namespace(env starlark.StringDict, ns any) error {
	switch d := ns.(type) {
	case nil, starlark.NoneType:
		return nil
	case starlark.StringDict:
		for k, v := range d {
			env[k] = c.copy(v)
		}
		return nil
	case *starlark.Dict:
		for _, it := range d.Items() {
			k, ok := starlark.AsString(it[0])
			if !ok {
				return newError(KindTypeError, nil, "namespace keys must be strings, not %s (%s)", it[0].Type(), it[0])
			}
			env[k] = c.copy(it[1])
		}
		return nil
	case map[string]any:
		for k, x := range d {
			v, err := ToStarlark(x)
			if err != nil {
				return newError(KindTypeError, err, "namespace entry %q: %v", k, err)
			}
			env[k] = v
		}
		return nil
	case starlark.Value:
		return newError(KindTypeError, nil, "a namespace must be a dict, not %s", d.Type())
	}
	return newError(KindTypeError, nil, "a namespace must be a dict, not Go type %T", ns)
}

// exprProgram is a compiled expression job.
type exprProgram struct {
	sess *Session
	fn   *starlark.Function
	view snapView
	self *jobRef
}

// Eval runs the expression on a new thread.
func (p *exprProgram) Eval(ctx context.Context, out io.Writer) (any, error) {
	return runJob(ctx, p.sess, out, p.view, p.self, p.fn, nil, nil)
}

// funcJob returns the bgjob.Func that runs fn(*args, **kwargs), already
// copied, on its own thread.
func (s *Session) funcJob(fn starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple, vw snapView, self *jobRef) bgjob.Func {
	return func(ctx context.Context) (any, error) {
		return runJob(ctx, s, bgjob.OutputFrom(ctx), vw, self, fn, args, kwargs)
	}
}

// runJob calls fn on a new thread for a job: print and ERROR lines go to
// out, global reads see vw, cancelling ctx cancels the thread. The result
// is frozen, so that whoever reads it (the shell, other jobs) can share it.
func runJob(ctx context.Context, s *Session, out io.Writer, vw snapView, self *jobRef, fn starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple) (any, error) {
	t := s.newThread(ctx, "job", out, out, vw, self)
	release := cancelOn(ctx, t)
	v, err := starlark.Call(t, fn, args, kwargs)
	release()
	if err != nil {
		return nil, &jobError{err}
	}
	v.Freeze()
	return v, nil
}

// jobError is the error of a Starlark job: its Backtrace is what the job's
// traceback shows.
type jobError struct{ err error }

func (e *jobError) Error() string     { return e.err.Error() }
func (e *jobError) Unwrap() error     { return e.err }
func (e *jobError) Backtrace() string { return FormatError(e.err) }

// exprNames returns the identifiers in expression src (nil if it does not
// parse: Compile reports that).
func exprNames(src string) []string {
	e, err := Dialect().ParseExpr(exprFilename, src, 0)
	if err != nil {
		return nil
	}
	var names []string
	syntax.Walk(e, func(n syntax.Node) bool {
		if id, ok := n.(*syntax.Ident); ok {
			names = append(names, id.Name)
		}
		return true
	})
	return names
}
