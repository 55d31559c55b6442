package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/drovertype"
)

// Seed texts of the namespace operations.
const (
	msgPullKeyType  = "keys must be a strong or a list/tuple of strings" // sic, as the seed
	msgPullElemType = "objects must be keyed by strings."
)

// Push merges values into the namespace (the seed's push: user_ns.update).
// Every value is converted first (plain data, or anything
// script.ToStarlark takes); if one cannot be, nothing is pushed and the
// error is a TypeError naming it.
func (e *Engine) Push(ctx context.Context, values map[string]any) error {
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.unlock()
	if err := e.push(values); err != nil {
		return err
	}
	return nil
}

func (e *Engine) push(values map[string]any) *drovertype.TaskError {
	if len(values) == 0 {
		return nil
	}
	conv := make(starlark.StringDict, len(values))
	for k, v := range values {
		if k == nsName {
			return drovertype.NewTaskError(drovertype.InvalidArgument, typeValueError, fmt.Sprintf("push: the name %q is reserved", k))
		}
		sv, err := toStarlark(v)
		if err != nil {
			te := typeError(fmt.Sprintf("push: %s: %v", k, err))
			te.Kind = drovertype.InvalidArgument
			return te
		}
		conv[k] = sv
	}
	for k, v := range conv {
		e.ns[k] = v
	}
	return nil
}

// Pull reads values from the namespace, in the seed's forms: keys is a
// string (→ that value), or a []string or []any of strings (→ a []any of
// the values, except that one name gives the bare value and no names give
// an empty []any). A missing name is NameError "name 'x' is not defined"; a
// key of another type is the seed's TypeError ("keys must be a strong or a
// list/tuple of strings", sic; "objects must be keyed by strings." for an
// element). Values are copied out as plain data; one that cannot be (a
// function) is a TypeError naming it.
func (e *Engine) Pull(ctx context.Context, keys any) (any, error) {
	names, single, err := pullNames(keys)
	if err != nil {
		return nil, err
	}
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	defer e.unlock()
	v, terr := e.pull(names, single)
	if terr != nil {
		return nil, terr
	}
	return v, nil
}

// pullNames converts the seed's forms of pull keys.
func pullNames(keys any) (names []string, single bool, err error) {
	switch k := keys.(type) {
	case string:
		return []string{k}, true, nil
	case []string:
		return k, false, nil
	case []any:
		names = make([]string, len(k))
		for i, x := range k {
			s, ok := x.(string)
			if !ok {
				return nil, false, typeError(msgPullElemType)
			}
			names[i] = s
		}
		return names, false, nil
	}
	return nil, false, typeError(msgPullKeyType)
}

// pull returns the values of names: with single the value itself, else the
// seed's list form.
func (e *Engine) pull(names []string, single bool) (any, *drovertype.TaskError) {
	vals := make([]any, len(names))
	for i, n := range names {
		v, err := e.pullOne(n)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	if single || len(vals) == 1 {
		if len(vals) != 1 {
			return nil, typeError(msgPullKeyType)
		}
		return vals[0], nil
	}
	return vals, nil
}

func (e *Engine) pullOne(name string) (any, *drovertype.TaskError) {
	sv, ok := e.ns[name]
	if !ok || name == nsName {
		return nil, nameError(name)
	}
	v, err := fromStarlark(sv)
	if err != nil {
		return nil, typeError(fmt.Sprintf("pull: %s: %v", name, err))
	}
	return v, nil
}

// Execute runs code in the namespace with the engine's step budget.
// Errors of the code are *drovertype.TaskError of kind TaskFailed whose
// Type is Python's name for the error (SyntaxError, NameError,
// ZeroDivisionError, ...) and whose Traceback is the Starlark backtrace.
func (e *Engine) Execute(ctx context.Context, code string) error {
	return e.ExecuteBudget(ctx, code, 0)
}

// ExecuteBudget is Execute with a step budget for this run (0: the
// engine's).
func (e *Engine) ExecuteBudget(ctx context.Context, code string, steps uint64) error {
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.unlock()
	if err := e.exec(ctx, code, steps); err != nil {
		return err
	}
	return nil
}

func (e *Engine) exec(ctx context.Context, code string, steps uint64) *drovertype.TaskError {
	p, err := e.cached(code, true)
	if err != nil {
		te := syntaxError(err)
		te.EngineID = e.ID()
		return te
	}
	return e.runStarlark(ctx, steps, func(th *starlark.Thread) error {
		_, err := p.prog.Init(th, e.ns)
		return err
	})
}

// Reset empties the namespace, re-seeds `id` (and `properties`) and clears
// the properties (the seed's reset; the seed also seeds `mpi`, which drover
// has not).
func (e *Engine) Reset(ctx context.Context) error {
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.unlock()
	e.reset()
	return nil
}

func (e *Engine) reset() {
	e.seed()
	if len(e.props) > 0 {
		clear(e.props)
		e.propsVer++
	}
}

// Keys returns the names in the namespace, sorted (including `id` and
// `properties`).
func (e *Engine) Keys(ctx context.Context) ([]string, error) {
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	defer e.unlock()
	return e.keys(), nil
}

func (e *Engine) keys() []string {
	out := make([]string, 0, len(e.ns))
	for k := range e.ns {
		if k != nsName {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// setID changes the engine's id and re-seeds `id` if the namespace holds
// the old one.
func (e *Engine) setID(id drovertype.EngineID) {
	old := e.id.Swap(int64(id))
	if v, ok := e.ns["id"].(starlark.Int); ok {
		if o, ok := v.Int64(); ok && o == old {
			e.ns["id"] = starlark.MakeInt64(int64(id))
		}
	}
}

// asTaskError returns err as a *drovertype.TaskError (nil for nil).
func asTaskError(err error) *drovertype.TaskError {
	if err == nil {
		return nil
	}
	if te, ok := errors.AsType[*drovertype.TaskError](err); ok && te != nil {
		return te
	}
	return drovertype.FromError(err)
}
