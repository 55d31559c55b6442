package drover

import (
	"context"
	"fmt"

	"github.com/drover-dev/drover/transport"
)

// caller performs engine calls; the controller and the remote client do.
type caller interface {
	Call(ctx context.Context, id EngineID, call transport.Call) (any, error)
}

// engineClient implements EngineClient over a caller.
type engineClient struct {
	c  caller
	id EngineID
}

func (e engineClient) ID() EngineID { return e.id }

func (e engineClient) do(ctx context.Context, c transport.Call) (any, error) {
	return e.c.Call(ctx, e.id, c)
}

func (e engineClient) Push(ctx context.Context, values map[string]any) error {
	_, err := e.do(ctx, transport.Call{Op: transport.OpPush, Values: values})
	return err
}

func (e engineClient) Pull(ctx context.Context, name string) (any, error) {
	return e.do(ctx, transport.Call{Op: transport.OpPull, Names: []string{name}, Single: true})
}

func (e engineClient) PullMany(ctx context.Context, names ...string) ([]any, error) {
	v, err := e.do(ctx, transport.Call{Op: transport.OpPull, Names: names})
	if err != nil {
		return nil, err
	}
	if len(names) == 1 {
		return []any{v}, nil // the seed's one-element rule gives the bare value
	}
	switch l := v.(type) {
	case []any:
		return l, nil
	case nil:
		return []any{}, nil
	}
	return nil, fmt.Errorf("pull on engine %d: unexpected reply of type %T", e.id, v)
}

func (e engineClient) Execute(ctx context.Context, code string) error {
	_, err := e.do(ctx, transport.Call{Op: transport.OpExecute, Code: code})
	return err
}

func (e engineClient) Reset(ctx context.Context) error {
	_, err := e.do(ctx, transport.Call{Op: transport.OpReset})
	return err
}

func (e engineClient) Keys(ctx context.Context) ([]string, error) {
	v, err := e.do(ctx, transport.Call{Op: transport.OpKeys})
	if err != nil {
		return nil, err
	}
	switch k := v.(type) {
	case []string:
		return k, nil
	case nil:
		return []string{}, nil
	case []any:
		out := make([]string, len(k))
		for i, x := range k {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("keys on engine %d: unexpected reply element of type %T", e.id, x)
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("keys on engine %d: unexpected reply of type %T", e.id, v)
}

func (e engineClient) Properties(ctx context.Context, names ...string) (map[string]any, error) {
	v, err := e.do(ctx, transport.Call{Op: transport.OpGetProperties, Names: names})
	if err != nil {
		return nil, err
	}
	switch p := v.(type) {
	case map[string]any:
		return p, nil
	case nil:
		return map[string]any{}, nil
	}
	return nil, fmt.Errorf("get_properties on engine %d: unexpected reply of type %T", e.id, v)
}

func (e engineClient) SetProperties(ctx context.Context, values map[string]any) error {
	_, err := e.do(ctx, transport.Call{Op: transport.OpSetProperties, Values: values})
	return err
}

func (e engineClient) DelProperties(ctx context.Context, names ...string) error {
	_, err := e.do(ctx, transport.Call{Op: transport.OpDelProperties, Names: names})
	return err
}

func (e engineClient) HasProperties(ctx context.Context, names ...string) ([]bool, error) {
	v, err := e.do(ctx, transport.Call{Op: transport.OpHasProperties, Names: names})
	if err != nil {
		return nil, err
	}
	switch b := v.(type) {
	case []bool:
		return b, nil
	case []any:
		out := make([]bool, len(b))
		for i, x := range b {
			out[i], _ = x.(bool)
		}
		return out, nil
	}
	return nil, fmt.Errorf("has_properties on engine %d: unexpected reply of type %T", e.id, v)
}

func (e engineClient) ClearProperties(ctx context.Context) error {
	_, err := e.do(ctx, transport.Call{Op: transport.OpClearProperties})
	return err
}
