package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/drover-dev/drover/drovertype"
)

// Properties are the engine's dict of plain values (the seed's StrictDict):
// values are copied in and out, and a value that is not plain data (see
// drovertype.ValidateValue) is refused with the seed's InvalidProperty
// "can't be a value: ...". Engine code reads and changes them through the
// predeclared `properties` object.

// SetProperties merges props into the properties. Every value is checked
// first; if one is refused nothing changes.
func (e *Engine) SetProperties(ctx context.Context, props map[string]any) error {
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.unlock()
	defer e.propsChangedOutside(e.propsVer)
	if err := e.setProps(props); err != nil {
		return err
	}
	return nil
}

func (e *Engine) setProps(props map[string]any) *drovertype.TaskError {
	conv := make(map[string]any, len(props))
	for k, v := range props {
		x, err := normalizeProp(k, v)
		if err != nil {
			return asTaskError(err)
		}
		conv[k] = x
	}
	if len(conv) > 0 {
		maps.Copy(e.props, conv)
		e.propsVer++
	}
	return nil
}

// GetProperties returns a copy of the properties named by keys, or of all
// of them when keys is empty. A missing key is a KeyError.
func (e *Engine) GetProperties(ctx context.Context, keys ...string) (map[string]any, error) {
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	defer e.unlock()
	m, err := e.getProps(keys)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (e *Engine) getProps(keys []string) (map[string]any, *drovertype.TaskError) {
	if len(keys) == 0 {
		return cloneProps(e.props), nil
	}
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		v, ok := e.props[k]
		if !ok {
			return nil, keyError(k)
		}
		out[k] = drovertype.CloneValue(v)
	}
	return out, nil
}

// DelProperties deletes the properties named by keys. A missing key is a
// KeyError, and then nothing is deleted.
func (e *Engine) DelProperties(ctx context.Context, keys ...string) error {
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.unlock()
	defer e.propsChangedOutside(e.propsVer)
	if err := e.delProps(keys); err != nil {
		return err
	}
	return nil
}

func (e *Engine) delProps(keys []string) *drovertype.TaskError {
	for _, k := range keys {
		if _, ok := e.props[k]; !ok {
			return keyError(k)
		}
	}
	for _, k := range keys {
		delete(e.props, k)
	}
	if len(keys) > 0 {
		e.propsVer++
	}
	return nil
}

// HasProperties reports, for each key, whether it is a property.
func (e *Engine) HasProperties(ctx context.Context, keys ...string) ([]bool, error) {
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	defer e.unlock()
	return e.hasProps(keys), nil
}

func (e *Engine) hasProps(keys []string) []bool {
	out := make([]bool, len(keys))
	for i, k := range keys {
		_, out[i] = e.props[k]
	}
	return out
}

// ClearProperties deletes every property.
func (e *Engine) ClearProperties(ctx context.Context) error {
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.unlock()
	defer e.propsChangedOutside(e.propsVer)
	e.clearProps()
	return nil
}

func (e *Engine) clearProps() {
	if len(e.props) > 0 {
		clear(e.props)
		e.propsVer++
	}
}

// propsChangedOutside tells a running Serve that the properties changed
// through a direct call (it then sends them to the controller).
func (e *Engine) propsChangedOutside(before uint64) {
	if e.propsVer == before {
		return
	}
	if s := e.serving.Load(); s != nil {
		s.notifyProps()
	}
}

// propsObject is the Starlark value `properties`: a dict-like view of the
// engine's properties. Reads copy values out, writes copy them in.
type propsObject struct{ e *Engine }

var (
	_ starlark.HasSetKey = (*propsObject)(nil)
	_ starlark.HasAttrs  = (*propsObject)(nil)
	_ starlark.Iterable  = (*propsObject)(nil)
	_ starlark.Sequence  = (*propsObject)(nil)
)

func (p *propsObject) String() string {
	d, err := p.dict()
	if err != nil {
		return "properties(<error>)"
	}
	return "properties(" + d.String() + ")"
}
func (p *propsObject) Type() string          { return "properties" }
func (p *propsObject) Freeze()               {}
func (p *propsObject) Truth() starlark.Bool  { return len(p.e.props) > 0 }
func (p *propsObject) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: properties") }
func (p *propsObject) Len() int              { return len(p.e.props) }

func (p *propsObject) sortedKeys() []string { return slices.Sorted(maps.Keys(p.e.props)) }

func (p *propsObject) Iterate() starlark.Iterator {
	keys := p.sortedKeys()
	vals := make([]starlark.Value, len(keys))
	for i, k := range keys {
		vals[i] = starlark.String(k)
	}
	return starlark.NewList(vals).Iterate()
}

func (p *propsObject) dict() (*starlark.Dict, error) {
	keys := p.sortedKeys()
	d := starlark.NewDict(len(keys))
	for _, k := range keys {
		v, err := toStarlark(p.e.props[k])
		if err != nil {
			return nil, err
		}
		d.SetKey(starlark.String(k), v)
	}
	return d, nil
}

func propKey(k starlark.Value) (string, error) {
	s, ok := starlark.AsString(k)
	if !ok {
		return "", fmt.Errorf("properties: key must be a string, got %s", k.Type())
	}
	return s, nil
}

// Get implements properties[k] and `k in properties`.
func (p *propsObject) Get(k starlark.Value) (starlark.Value, bool, error) {
	name, err := propKey(k)
	if err != nil {
		return nil, false, err
	}
	v, ok := p.e.props[name]
	if !ok {
		return nil, false, nil
	}
	sv, err := toStarlark(v)
	if err != nil {
		return nil, false, err
	}
	return sv, true, nil
}

// SetKey implements properties[k] = v.
func (p *propsObject) SetKey(k, v starlark.Value) error {
	name, err := propKey(k)
	if err != nil {
		return err
	}
	x, err := p.convert(v)
	if err != nil {
		return err
	}
	p.e.props[name] = x
	p.e.propsVer++
	return nil
}

func (p *propsObject) convert(v starlark.Value) (any, error) {
	x, err := fromStarlark(v)
	if err != nil {
		te := drovertype.NewTaskError(drovertype.InvalidProperty, "InvalidProperty", "can't be a value: "+v.String())
		te.Cause = err
		return nil, te
	}
	return x, nil
}

var propsMethods = []string{"clear", "get", "items", "keys", "pop", "update", "values"}

func (p *propsObject) AttrNames() []string { return propsMethods }

func (p *propsObject) Attr(name string) (starlark.Value, error) {
	if !slices.Contains(propsMethods, name) {
		return nil, nil
	}
	return starlark.NewBuiltin(name, func(th *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		return p.method(b, args, kwargs)
	}).BindReceiver(p), nil
}

func (p *propsObject) method(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	e := p.e
	switch b.Name() {
	case "get":
		var k, dflt starlark.Value = nil, starlark.None
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &k, &dflt); err != nil {
			return nil, err
		}
		v, ok, err := p.Get(k)
		if err != nil {
			return nil, err
		}
		if !ok {
			return dflt, nil
		}
		return v, nil
	case "keys", "values", "items":
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		d, err := p.dict()
		if err != nil {
			return nil, err
		}
		switch b.Name() {
		case "keys":
			return starlark.NewList(d.Keys()), nil
		case "values":
			items := d.Items()
			vals := make([]starlark.Value, len(items))
			for i, it := range items {
				vals[i] = it[1]
			}
			return starlark.NewList(vals), nil
		}
		items := d.Items()
		out := make([]starlark.Value, len(items))
		for i, it := range items {
			out[i] = it
		}
		return starlark.NewList(out), nil
	case "pop":
		var k, dflt starlark.Value
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &k, &dflt); err != nil {
			return nil, err
		}
		v, ok, err := p.Get(k)
		if err != nil {
			return nil, err
		}
		if !ok {
			if dflt != nil {
				return dflt, nil
			}
			name, _ := propKey(k)
			return nil, keyError(name)
		}
		name, _ := propKey(k)
		delete(e.props, name)
		e.propsVer++
		return v, nil
	case "clear":
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		e.clearProps()
		return starlark.None, nil
	case "update":
		if len(args) > 1 {
			return nil, fmt.Errorf("update: got %d arguments, want at most 1", len(args))
		}
		conv := map[string]any{}
		add := func(k, v starlark.Value) error {
			name, err := propKey(k)
			if err != nil {
				return err
			}
			x, err := p.convert(v)
			if err != nil {
				return err
			}
			conv[name] = x
			return nil
		}
		if len(args) == 1 {
			switch src := args[0].(type) {
			case *starlark.Dict:
				for _, it := range src.Items() {
					if err := add(it[0], it[1]); err != nil {
						return nil, err
					}
				}
			case *propsObject:
				maps.Copy(conv, cloneProps(src.e.props))
			default:
				return nil, fmt.Errorf("update: got %s, want dict", args[0].Type())
			}
		}
		for _, kv := range kwargs {
			if err := add(kv[0], kv[1]); err != nil {
				return nil, err
			}
		}
		if len(conv) > 0 {
			maps.Copy(e.props, conv)
			e.propsVer++
		}
		return starlark.None, nil
	}
	return nil, fmt.Errorf("properties has no .%s method", b.Name())
}

// CompareSameType makes properties == properties work (identity).
func (p *propsObject) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	switch op {
	case syntax.EQL:
		return p == y, nil
	case syntax.NEQ:
		return p != y, nil
	}
	return false, fmt.Errorf("properties: unsupported comparison %s", op)
}
