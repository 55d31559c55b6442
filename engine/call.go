package engine

import (
	"context"
	"fmt"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport"
)

// Call runs one namespace or property operation, as Serve does for a
// transport.Call, and returns its reply: Value and Err as documented for
// each transport.CallOp, and Props when the call changed the properties.
func (e *Engine) Call(ctx context.Context, c *transport.Call) *transport.Reply {
	if c == nil {
		te := typeError("engine call: nil call")
		te.Kind = drovertype.InvalidArgument
		return &transport.Reply{Err: te}
	}
	if err := e.lock(ctx); err != nil {
		return &transport.Reply{ID: c.ID, Err: asTaskError(err)}
	}
	defer e.unlock()
	return e.call(ctx, c)
}

// call is Call with the engine locked.
func (e *Engine) call(ctx context.Context, c *transport.Call) *transport.Reply {
	r := &transport.Reply{ID: c.ID}
	ver := e.propsVer
	var terr *drovertype.TaskError
	switch c.Op {
	case transport.OpPush:
		terr = e.push(c.Values)
	case transport.OpPull:
		if c.Single && len(c.Names) != 1 {
			terr = typeError(msgPullKeyType)
			break
		}
		r.Value, terr = e.pull(c.Names, c.Single)
	case transport.OpExecute:
		terr = e.exec(ctx, c.Code, c.StepBudget)
	case transport.OpReset:
		e.reset()
	case transport.OpKeys:
		keys := e.keys()
		v := make([]any, len(keys))
		for i, k := range keys {
			v[i] = k
		}
		r.Value = v
	case transport.OpSetProperties:
		terr = e.setProps(c.Values)
	case transport.OpGetProperties:
		var m map[string]any
		m, terr = e.getProps(c.Names)
		if terr == nil {
			r.Value = m
		}
	case transport.OpDelProperties:
		terr = e.delProps(c.Names)
	case transport.OpHasProperties:
		has := e.hasProps(c.Names)
		v := make([]any, len(has))
		for i, b := range has {
			v[i] = b
		}
		r.Value = v
	case transport.OpClearProperties:
		e.clearProps()
	default:
		terr = drovertype.NewValueError(fmt.Sprintf("engine call: unknown operation %v", c.Op))
	}
	if terr != nil {
		r.Value = nil
		r.Err = terr
		if r.Err.EngineID == drovertype.NoEngine {
			te := *r.Err
			te.EngineID = e.ID()
			r.Err = &te
		}
	}
	if e.propsVer != ver {
		r.Props = &transport.Props{Properties: cloneProps(e.props)}
	}
	return r
}
