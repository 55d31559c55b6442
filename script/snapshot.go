package script

// Snapshots: what a job reads is copied when the job is created.
//
// A job runs on its own goroutine while the shell keeps running chunks that
// may mutate any list, dict or set in the namespace. Starlark values are not
// safe for concurrent mutation, so a job never shares a mutable value with
// the thread that created it: jobs.new deep-copies the job's arguments, the
// namespaces of an expression job, and every global the job's functions may
// read (found from the rewrite, see namespace.go), on the creating thread,
// before the job starts. The job then owns its copies; its thread's view of
// the globals is the snapshot. Values that cannot be copied are frozen
// (made immutable) and shared instead: functions (their default values and
// captured variables are frozen) and values of unknown types. drover's own
// values (jobs, job objects, errors) are safe for concurrent use and shared.

import (
	"go.starlark.net/starlark"
)

// snapshotter copies the values a job reads from src, the creating
// thread's view of the globals. It must be used on the creating thread.
type snapshotter struct {
	s       *Session
	src     view
	memo    map[starlark.Value]starlark.Value // copies of lists, dicts, sets
	globals snapView                          // globals copied so far
	pending []string                          // globals to copy
}

func (s *Session) newSnapshotter(src view) *snapshotter {
	return &snapshotter{s: s, src: src, memo: map[starlark.Value]starlark.Value{}, globals: snapView{}}
}

// need adds global names the job reads.
func (c *snapshotter) need(names ...string) {
	c.pending = append(c.pending, names...)
}

// view copies the pending globals (and those their functions read) and
// returns the snapshot of globals.
func (c *snapshotter) view() snapView {
	for len(c.pending) > 0 {
		name := c.pending[len(c.pending)-1]
		c.pending = c.pending[:len(c.pending)-1]
		if _, done := c.globals[name]; done {
			continue
		}
		v, ok := c.src.lookup(name)
		if !ok {
			continue // a NameError when (if) the job reads it
		}
		c.globals[name] = nil // mark before copying: a function may need itself
		c.globals[name] = c.copy(v)
	}
	return c.globals
}

// copy returns a copy of v that shares no mutable state with v.
func (c *snapshotter) copy(v starlark.Value) starlark.Value {
	switch x := v.(type) {
	case nil:
		return nil
	case starlark.NoneType, starlark.Bool, starlark.Int, starlark.Float, starlark.String, starlark.Bytes:
		return v
	case *starlark.List:
		if m, ok := c.memo[x]; ok {
			return m
		}
		out := starlark.NewList(make([]starlark.Value, 0, x.Len()))
		c.memo[x] = out
		for i := range x.Len() {
			out.Append(c.copy(x.Index(i))) // cannot fail: new list
		}
		return out
	case starlark.Tuple:
		out := make(starlark.Tuple, len(x))
		for i, e := range x {
			out[i] = c.copy(e)
		}
		return out
	case *starlark.Dict:
		if m, ok := c.memo[x]; ok {
			return m
		}
		out := starlark.NewDict(x.Len())
		c.memo[x] = out
		for _, it := range x.Items() {
			out.SetKey(c.copy(it[0]), c.copy(it[1])) // cannot fail: the keys were hashable
		}
		return out
	case *starlark.Set:
		if m, ok := c.memo[x]; ok {
			return m
		}
		out := starlark.NewSet(x.Len())
		c.memo[x] = out
		for _, e := range setElems(x) {
			out.Insert(c.copy(e)) // cannot fail: the elements were hashable
		}
		return out
	case *starlark.Function:
		x.Freeze() // defaults and captured variables
		if info := c.s.moduleInfo(x.Module()); info != nil {
			c.need(info.funcs[posKey(x.Position())]...)
		}
		return x
	case *starlark.Builtin:
		// A method closure (l.append) must act on the copy of its receiver.
		switch r := x.Receiver().(type) {
		case nil, starlark.String, starlark.Bytes, *jobsValue, *jobValue, *errorValue:
			return x
		case *starlark.List, *starlark.Dict, *starlark.Set:
			return x.BindReceiver(c.copy(r))
		}
		x.Freeze() // freezes the receiver
		return x
	case *jobsValue, *jobValue, *errorValue, *nsRef:
		return v
	}
	v.Freeze()
	return v
}

// setElems returns the elements of a set.
func setElems(s *starlark.Set) []starlark.Value {
	out := make([]starlark.Value, 0, s.Len())
	for e := range s.Elements() {
		out = append(out, e)
	}
	return out
}
