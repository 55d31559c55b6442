package script

// The predeclared task client `tc` (the seed's BlockingTaskClient), its
// mappers, and engine handles.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.starlark.net/starlark"

	"github.com/drover-dev/drover/drovertype"
)

// TaskClient is the task farm behind `tc`: the methods of drover.Client
// that the Starlark layer uses, with an Engine method that returns this
// package's EngineClient. (Package script cannot import package drover,
// which imports the engines, which use this package; wrap a drover.Client
// in a struct that converts Engine's result, as drover's command does.)
// Implementations must be safe for concurrent use: jobs may call tc.
type TaskClient interface {
	Run(ctx context.Context, t *drovertype.Task) (drovertype.TaskID, error)
	// RunWait is Run then Result in one call (tc.run(task, block=True)):
	// id is drovertype.NoTask when the task was not queued.
	RunWait(ctx context.Context, t *drovertype.Task) (id drovertype.TaskID, value any, err error)
	Result(ctx context.Context, id drovertype.TaskID) (any, error)
	Poll(ctx context.Context, id drovertype.TaskID) (any, bool, error)
	Results(ctx context.Context, ids []drovertype.TaskID) ([]any, []error, error)
	Abort(ctx context.Context, id drovertype.TaskID) error
	Barrier(ctx context.Context, ids ...drovertype.TaskID) error
	Spin(ctx context.Context) (bool, error)
	QueueStatus(ctx context.Context) (drovertype.QueueStatus, error)
	QueueCounts(ctx context.Context) (drovertype.QueueCounts, error)
	Clear(ctx context.Context, ids ...drovertype.TaskID) (int, error)
	ClearAll(ctx context.Context) (int, error)
	MapAsync(ctx context.Context, proto *drovertype.Task, seqs ...[]any) ([]drovertype.TaskID, error)
	Engines(ctx context.Context) ([]drovertype.EngineInfo, error)
	Engine(id drovertype.EngineID) EngineClient
}

// EngineClient reaches one engine's namespace and properties: the methods
// of drover.EngineClient.
type EngineClient interface {
	ID() drovertype.EngineID
	Push(ctx context.Context, values map[string]any) error
	Pull(ctx context.Context, name string) (any, error)
	PullMany(ctx context.Context, names ...string) ([]any, error)
	Execute(ctx context.Context, code string) error
	Reset(ctx context.Context) error
	Keys(ctx context.Context) ([]string, error)
	Properties(ctx context.Context, names ...string) (map[string]any, error)
	SetProperties(ctx context.Context, values map[string]any) error
	DelProperties(ctx context.Context, names ...string) error
	HasProperties(ctx context.Context, names ...string) ([]bool, error)
	ClearProperties(ctx context.Context) error
}

// ProgressBar shows the progress of one foreground operation; see
// Config.Progress.
type ProgressBar interface {
	// Set reports that done of the operation's total steps are done.
	Set(done int)
	// Done ends the display (erasing it); it returns when the display has
	// stopped. It is called exactly once.
	Done()
}

// ctxOf returns the context of the thread's work (cancelled by Ctrl-C).
func ctxOf(thread *starlark.Thread) context.Context {
	if st := stateOf(thread); st != nil {
		return st.ctx
	}
	return context.Background()
}

// tcValue is the predeclared `tc`. Safe for concurrent use.
type tcValue struct {
	s *Session
	c TaskClient
}

var _ starlark.HasAttrs = (*tcValue)(nil)

func (v *tcValue) String() string        { return "<TaskClient>" }
func (v *tcValue) Type() string          { return "TaskClient" }
func (v *tcValue) Freeze()               {}
func (v *tcValue) Truth() starlark.Bool  { return true }
func (v *tcValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: TaskClient") }

// tcMethods are the methods of tc.
var tcMethods = map[string]func(*tcValue, *starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error){
	"run":             (*tcValue).run,
	"get_task_result": (*tcValue).getTaskResult,
	"abort":           (*tcValue).abort,
	"barrier":         (*tcValue).barrier,
	"spin":            (*tcValue).spin,
	"queue_status":    (*tcValue).queueStatus,
	"clear":           (*tcValue).clear,
	"map":             (*tcValue).mapFn,
	"mapper":          (*tcValue).mapper,
	"parallel":        (*tcValue).parallel,
	"engines":         (*tcValue).engines,
	"engine":          (*tcValue).engine,
}

var tcAttrNames = func() []string {
	names := make([]string, 0, len(tcMethods))
	for n := range tcMethods {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}()

func (v *tcValue) AttrNames() []string { return tcAttrNames }

func (v *tcValue) Attr(name string) (starlark.Value, error) {
	m, ok := tcMethods[name]
	if !ok {
		return nil, nil
	}
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		return m(v, thread, b, args, kwargs)
	}).BindReceiver(v), nil
}

// taskID converts a task id argument (the seed's "an integer task id
// expected: 'x'" otherwise).
func taskID(v starlark.Value) (drovertype.TaskID, error) {
	if i, ok := v.(starlark.Int); ok {
		if n, ok := i.Int64(); ok {
			return drovertype.TaskID(n), nil
		}
	}
	return 0, newError(KindTypeError, nil, "an integer task id expected: %s", pyRepr(v))
}

// taskIDs converts an int or a sequence of ints.
func taskIDs(v starlark.Value) ([]drovertype.TaskID, error) {
	if _, ok := v.(starlark.Int); ok {
		id, err := taskID(v)
		return []drovertype.TaskID{id}, err
	}
	it, ok := v.(starlark.Iterable)
	if !ok || isString(v) {
		return nil, newError(KindTypeError, nil, "an integer task id or a list of them expected: %s", pyRepr(v))
	}
	var ids []drovertype.TaskID
	for x := range starlark.Elements(it) {
		id, err := taskID(x)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func isString(v starlark.Value) bool {
	switch v.(type) {
	case starlark.String, starlark.Bytes:
		return true
	}
	return false
}

// run implements tc.run(task, block=False).
func (v *tcValue) run(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var task, block starlark.Value = nil, starlark.False
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "task", &task, "block?", &block); err != nil {
		return nil, typeError(err)
	}
	tv, ok := task.(*taskValue)
	if !ok {
		return nil, newError(KindAssertionError, nil, "%s", drovertype.MsgNotATask)
	}
	ctx := ctxOf(thread)
	if block.Truth() {
		// One call: a remote client makes one request for both.
		_, r, err := v.c.RunWait(ctx, tv.t)
		if err != nil {
			return nil, taskError(err)
		}
		return resultOf(r)
	}
	id, err := v.c.Run(ctx, tv.t)
	if err != nil {
		return nil, taskError(err)
	}
	return starlark.MakeInt64(int64(id)), nil
}

// result waits for task id's result.
func (v *tcValue) result(ctx context.Context, id drovertype.TaskID) (starlark.Value, error) {
	r, err := v.c.Result(ctx, id)
	if err != nil {
		return nil, taskError(err)
	}
	return resultOf(r)
}

// getTaskResult implements tc.get_task_result(taskid, block=False).
func (v *tcValue) getTaskResult(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var idv, block starlark.Value = nil, starlark.False
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "taskid", &idv, "block?", &block); err != nil {
		return nil, typeError(err)
	}
	id, err := taskID(idv)
	if err != nil {
		return nil, err
	}
	ctx := ctxOf(thread)
	if block.Truth() {
		return v.result(ctx, id)
	}
	r, done, err := v.c.Poll(ctx, id)
	if err != nil {
		return nil, taskError(err)
	}
	if !done {
		return starlark.None, nil
	}
	return resultOf(r)
}

// abort implements tc.abort(taskid).
func (v *tcValue) abort(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var idv starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "taskid", &idv); err != nil {
		return nil, typeError(err)
	}
	id, err := taskID(idv)
	if err != nil {
		return nil, err
	}
	if err := v.c.Abort(ctxOf(thread), id); err != nil {
		return nil, taskError(err)
	}
	return starlark.None, nil
}

// barrier implements tc.barrier(taskids): wait for them all; failures are
// not reported (the seed).
func (v *tcValue) barrier(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var idsv starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "taskids", &idsv); err != nil {
		return nil, typeError(err)
	}
	ids, err := taskIDs(idsv)
	if err != nil {
		return nil, err
	}
	err = v.s.inChunks(thread, "tc.barrier", len(ids), func(ctx context.Context, lo, hi int) error {
		return v.c.Barrier(ctx, ids[lo:hi]...)
	})
	if err != nil {
		return nil, taskError(err)
	}
	return starlark.None, nil
}

// progressChunks is how many steps a foreground wait with a progress bar
// is cut into.
const progressChunks = 100

// inChunks calls wait on [0, n) with the thread's context: in one call,
// or, on the session's foreground thread when it has a progress bar (see
// Config.Progress), in up to progressChunks calls, reporting the progress in
// between.
func (s *Session) inChunks(thread *starlark.Thread, title string, n int, wait func(ctx context.Context, lo, hi int) error) error {
	ctx := ctxOf(thread)
	st := stateOf(thread)
	if s.progress == nil || n < 2 || st == nil || !st.foreground {
		return wait(ctx, 0, n)
	}
	bar := s.progress(title, n)
	defer bar.Done()
	step := max(1, (n+progressChunks-1)/progressChunks)
	for lo := 0; lo < n; lo += step {
		hi := min(n, lo+step)
		if err := wait(ctx, lo, hi); err != nil {
			return err
		}
		bar.Set(hi)
	}
	return nil
}

// spin implements tc.spin().
func (v *tcValue) spin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, typeError(err)
	}
	ok, err := v.c.Spin(ctxOf(thread))
	if err != nil {
		return nil, taskError(err)
	}
	return starlark.Bool(ok), nil
}

// queueStatus implements tc.queue_status(verbose=False).
func (v *tcValue) queueStatus(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var verbose starlark.Value = starlark.False
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "verbose?", &verbose); err != nil {
		return nil, typeError(err)
	}
	ctx := ctxOf(thread)
	d := starlark.NewDict(4)
	if !verbose.Truth() {
		c, err := v.c.QueueCounts(ctx)
		if err != nil {
			return nil, taskError(err)
		}
		d.SetKey(starlark.String("pending"), starlark.MakeInt(c.Pending))
		d.SetKey(starlark.String("scheduled"), starlark.MakeInt(c.Scheduled))
		d.SetKey(starlark.String("succeeded"), starlark.MakeInt(c.Succeeded))
		d.SetKey(starlark.String("failed"), starlark.MakeInt(c.Failed))
		return d, nil
	}
	q, err := v.c.QueueStatus(ctx)
	if err != nil {
		return nil, taskError(err)
	}
	d.SetKey(starlark.String("pending"), idList(q.Pending))
	d.SetKey(starlark.String("scheduled"), idList(q.Scheduled))
	d.SetKey(starlark.String("succeeded"), idList(q.Succeeded))
	d.SetKey(starlark.String("failed"), idList(q.Failed))
	return d, nil
}

func idList(ids []drovertype.TaskID) *starlark.List {
	l := make([]starlark.Value, len(ids))
	for i, id := range ids {
		l[i] = starlark.MakeInt64(int64(id))
	}
	return starlark.NewList(l)
}

// clear implements tc.clear(taskids=None).
func (v *tcValue) clear(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var idsv starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "taskids?", &idsv); err != nil {
		return nil, typeError(err)
	}
	ctx := ctxOf(thread)
	var (
		n   int
		err error
	)
	if idsv == starlark.None {
		n, err = v.c.ClearAll(ctx)
	} else {
		ids, ierr := taskIDs(idsv)
		if ierr != nil {
			return nil, ierr
		}
		n, err = v.c.Clear(ctx, ids...)
	}
	if err != nil {
		return nil, taskError(err)
	}
	return starlark.MakeInt(n), nil
}

// mapOptions are a mapper's task options and block flag.
type mapOptions struct {
	opts  drovertype.Options
	block bool
	desc  string // for printing
}

// mapFn implements tc.map(func, *seqs): the default mapper's map.
func (v *tcValue) mapFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(kwargs) > 0 {
		return nil, newError(KindTypeError, nil, "%s: unexpected keyword argument %s (use tc.mapper(...) for options)", b.Name(), kwargs[0][0])
	}
	if len(args) == 0 {
		return nil, newError(KindTypeError, nil, "%s: missing the function to map", b.Name())
	}
	proto, err := v.s.mapTaskOf(args[0], nil, nil, drovertype.Options{})
	if err != nil {
		return nil, err
	}
	return v.doMap(thread, "tc.map", proto, true, args[1:])
}

// doMap maps proto over seqs: with block, the results in input order (or
// the first failing element's error); without, the task ids.
func (v *tcValue) doMap(thread *starlark.Thread, title string, proto *drovertype.Task, block bool, seqs starlark.Tuple) (starlark.Value, error) {
	gseqs := make([][]any, len(seqs))
	for i, sq := range seqs {
		it, ok := sq.(starlark.Iterable)
		if !ok || isString(sq) {
			return nil, newError(KindTypeError, nil, "%s: argument %d must be a sequence, not %s", title, i+2, sq.Type())
		}
		var elems []any
		for x := range starlark.Elements(it) {
			e, err := ToTaskData(x)
			if err != nil {
				return nil, newError(KindTypeError, err, "%s: sequence %d[%d]: %v", title, i+1, len(elems), err)
			}
			elems = append(elems, e)
		}
		gseqs[i] = elems
	}
	ctx := ctxOf(thread)
	ids, err := v.c.MapAsync(ctx, proto, gseqs...)
	if err != nil {
		return nil, taskError(err)
	}
	if !block {
		return idList(ids), nil
	}
	out := make([]starlark.Value, len(ids))
	err = v.s.inChunks(thread, title, len(ids), func(ctx context.Context, lo, hi int) error {
		vals, errs, err := v.c.Results(ctx, ids[lo:hi])
		if err != nil {
			return err
		}
		for i, e := range errs {
			if e != nil {
				return e // the first failing element's own error (the seed)
			}
			r, err := resultOf(vals[i])
			if err != nil {
				return err
			}
			out[lo+i] = r
		}
		return nil
	})
	if err != nil {
		return nil, taskError(err)
	}
	return starlark.NewList(out), nil
}

// mapperArgs unpacks the seed's mapper arguments (and timeout=).
func (v *tcValue) mapperArgs(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (*mapOptions, error) {
	var block starlark.Value = starlark.True
	o := newTaskOptions()
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, o.pairs("block?", &block)...); err != nil {
		return nil, typeError(err)
	}
	opts, err := o.options(v.s, "tc."+b.Name())
	if err != nil {
		return nil, err
	}
	parts := optionStrings(opts, o.depend, o.recovery)
	if !block.Truth() {
		parts = append(parts, "block=False")
	}
	return &mapOptions{opts: opts, block: bool(block.Truth()), desc: strings.Join(parts, ", ")}, nil
}

// mapper implements tc.mapper(clear_before=False, clear_after=False,
// retries=0, recovery_task=None, depend=None, block=True, timeout=None).
func (v *tcValue) mapper(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	mo, err := v.mapperArgs(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return &mapperValue{tc: v, mo: mo}, nil
}

// parallel implements tc.parallel(...same arguments as mapper): it returns
// a function that takes f and returns a function mapping f over its
// sequences (the seed's decorator).
func (v *tcValue) parallel(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	mo, err := v.mapperArgs(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return starlark.NewBuiltin("parallel", func(_ *starlark.Thread, pb *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var f starlark.Value
		if err := starlark.UnpackPositionalArgs(pb.Name(), args, kwargs, 1, &f); err != nil {
			return nil, typeError(err)
		}
		proto, err := v.s.mapTaskOf(f, nil, nil, mo.opts)
		if err != nil {
			return nil, err
		}
		name := "parallel"
		if fn, ok := f.(*starlark.Function); ok {
			name = "parallel " + fn.Name()
		} else {
			name = "parallel " + f.String()
		}
		return starlark.NewBuiltin(name, func(thread *starlark.Thread, _ *starlark.Builtin, seqs starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if len(kwargs) > 0 {
				return nil, newError(KindTypeError, nil, "%s: unexpected keyword argument %s", name, kwargs[0][0])
			}
			return v.doMap(thread, "tc.map", proto, mo.block, seqs)
		}), nil
	}), nil
}

// mapperValue is the seed's mapper: map(f, *seqs) with fixed options.
type mapperValue struct {
	tc *tcValue
	mo *mapOptions
}

var _ starlark.HasAttrs = (*mapperValue)(nil)

func (m *mapperValue) String() string        { return "<TaskMapper(" + m.mo.desc + ")>" }
func (m *mapperValue) Type() string          { return "TaskMapper" }
func (m *mapperValue) Freeze()               {}
func (m *mapperValue) Truth() starlark.Bool  { return true }
func (m *mapperValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: TaskMapper") }
func (m *mapperValue) AttrNames() []string   { return []string{"map"} }

func (m *mapperValue) Attr(name string) (starlark.Value, error) {
	if name != "map" {
		return nil, nil
	}
	return starlark.NewBuiltin("map", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if len(kwargs) > 0 {
			return nil, newError(KindTypeError, nil, "map: unexpected keyword argument %s", kwargs[0][0])
		}
		if len(args) == 0 {
			return nil, newError(KindTypeError, nil, "map: missing the function to map")
		}
		proto, err := m.tc.s.mapTaskOf(args[0], nil, nil, m.mo.opts)
		if err != nil {
			return nil, err
		}
		return m.tc.doMap(thread, "tc.map", proto, m.mo.block, args[1:])
	}).BindReceiver(m), nil
}

// engines implements tc.engines(): the registered engines, as the
// controller last saw them.
func (v *tcValue) engines(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, typeError(err)
	}
	infos, err := v.c.Engines(ctxOf(thread))
	if err != nil {
		return nil, taskError(err)
	}
	l := make([]starlark.Value, len(infos))
	for i, info := range infos {
		l[i] = &engineValue{c: v.c.Engine(info.ID), info: info}
	}
	return starlark.NewList(l), nil
}

// engine implements tc.engine(id).
func (v *tcValue) engine(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var idv starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "id", &idv); err != nil {
		return nil, typeError(err)
	}
	var n int64
	if i, ok := idv.(starlark.Int); ok {
		n, ok = i.Int64()
		if !ok {
			return nil, newError(KindKeyError, drovertype.ErrNotFound, "no engine with id %s", i)
		}
	} else {
		return nil, newError(KindTypeError, nil, "tc.engine: an integer engine id expected: %s", pyRepr(idv))
	}
	infos, err := v.c.Engines(ctxOf(thread))
	if err != nil {
		return nil, taskError(err)
	}
	for _, info := range infos {
		if int64(info.ID) == n {
			return &engineValue{c: v.c.Engine(info.ID), info: info}, nil
		}
	}
	return nil, newError(KindKeyError, drovertype.ErrNotFound, "no engine with id %d", n)
}

// engineValue is one engine: a snapshot of what the controller knew of it
// (id, properties...) and methods that reach its namespace and properties.
// Immutable; safe for concurrent use.
type engineValue struct {
	c    EngineClient
	info drovertype.EngineInfo
}

var _ starlark.HasAttrs = (*engineValue)(nil)

func (e *engineValue) String() string        { return fmt.Sprintf("<engine %d>", e.info.ID) }
func (e *engineValue) Type() string          { return "engine" }
func (e *engineValue) Freeze()               {}
func (e *engineValue) Truth() starlark.Bool  { return true }
func (e *engineValue) Hash() (uint32, error) { return uint32(e.info.ID), nil }

var engineMethods = map[string]func(*engineValue, context.Context, string, starlark.Tuple, []starlark.Tuple) (starlark.Value, error){
	"push":             (*engineValue).push,
	"pull":             (*engineValue).pull,
	"execute":          (*engineValue).execute,
	"reset":            (*engineValue).reset,
	"keys":             (*engineValue).keys,
	"set_properties":   (*engineValue).setProperties,
	"get_properties":   (*engineValue).getProperties,
	"del_properties":   (*engineValue).delProperties,
	"has_properties":   (*engineValue).hasProperties,
	"clear_properties": (*engineValue).clearProperties,
}

var engineAttrNames = func() []string {
	names := []string{"allow_commands", "busy", "functions", "id", "name", "properties", "task"}
	for n := range engineMethods {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}()

func (e *engineValue) AttrNames() []string { return engineAttrNames }

func (e *engineValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "id":
		return starlark.MakeInt64(int64(e.info.ID)), nil
	case "name":
		return starlark.String(e.info.Name), nil
	case "properties":
		if e.info.Properties == nil {
			return starlark.NewDict(0), nil
		}
		return FromTaskData(e.info.Properties)
	case "busy":
		return starlark.Bool(e.info.Busy), nil
	case "task":
		if !e.info.Busy || e.info.Task == drovertype.NoTask {
			return starlark.None, nil
		}
		return starlark.MakeInt64(int64(e.info.Task)), nil
	case "allow_commands":
		return starlark.Bool(e.info.AllowCommands), nil
	case "functions":
		l := make([]starlark.Value, len(e.info.Functions))
		for i, f := range e.info.Functions {
			l[i] = starlark.String(f)
		}
		return starlark.NewList(l), nil
	}
	m, ok := engineMethods[name]
	if !ok {
		return nil, nil
	}
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		v, err := m(e, ctxOf(thread), b.Name(), args, kwargs)
		if err != nil {
			return nil, taskError(err)
		}
		return v, nil
	}).BindReceiver(e), nil
}

// namespaceArg converts a dict (or keyword arguments) of names to values.
func namespaceArg(fname string, args starlark.Tuple, kwargs []starlark.Tuple, what string) (map[string]any, error) {
	if len(args) > 1 {
		return nil, newError(KindTypeError, nil, "%s: want one dict, got %d arguments", fname, len(args))
	}
	out := map[string]any{}
	add := func(k string, x starlark.Value) error {
		v, err := ToTaskData(x)
		if err != nil {
			if what == "properties" {
				return drovertype.NewTaskError(drovertype.InvalidProperty, "InvalidProperty", "can't be a value: "+x.String())
			}
			return newError(KindTypeError, err, "%s: %s%v", fname, starlark.String(k), err)
		}
		out[k] = v
		return nil
	}
	if len(args) == 1 {
		d, ok := args[0].(*starlark.Dict)
		if !ok {
			return nil, newError(KindTypeError, nil, "%s: want a dict, not %s", fname, args[0].Type())
		}
		if err := stringKeys(fname, what, d); err != nil {
			return nil, err
		}
		for _, it := range d.Items() {
			if err := add(string(it[0].(starlark.String)), it[1]); err != nil {
				return nil, err
			}
		}
	}
	for _, kv := range kwargs {
		if err := add(string(kv[0].(starlark.String)), kv[1]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// names converts a name or a sequence of names; one is true when a single
// string was given.
func names(fname string, v starlark.Value) (out []string, one bool, err error) {
	if s, ok := v.(starlark.String); ok {
		return []string{string(s)}, true, nil
	}
	switch v.(type) {
	case *starlark.List, starlark.Tuple:
	default:
		return nil, false, newError(KindTypeError, nil, "keys must be a strong or a list/tuple of strings") // sic, as the seed
	}
	for x := range starlark.Elements(v.(starlark.Iterable)) {
		s, ok := x.(starlark.String)
		if !ok {
			return nil, false, newError(KindTypeError, nil, "objects must be keyed by strings.")
		}
		out = append(out, string(s))
	}
	return out, false, nil
}

// push implements e.push(dict) (or e.push(a=1, b=2)).
func (e *engineValue) push(ctx context.Context, fname string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	ns, err := namespaceArg(fname, args, kwargs, "namespace")
	if err != nil {
		return nil, err
	}
	return starlark.None, e.c.Push(ctx, ns)
}

// pull implements e.pull(keys) with the seed's forms: a name gives its
// value; a list of names gives a list of values, except that a list of one
// name gives the bare value.
func (e *engineValue) pull(ctx context.Context, fname string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var keys starlark.Value
	if err := starlark.UnpackArgs(fname, args, kwargs, "keys", &keys); err != nil {
		return nil, typeError(err)
	}
	ns, one, err := names(fname, keys)
	if err != nil {
		return nil, err
	}
	if one || len(ns) == 1 {
		v, err := e.c.Pull(ctx, ns[0])
		if err != nil {
			return nil, err
		}
		return FromTaskData(v)
	}
	if len(ns) == 0 {
		return starlark.NewList(nil), nil
	}
	vals, err := e.c.PullMany(ctx, ns...)
	if err != nil {
		return nil, err
	}
	return FromTaskData(vals)
}

// execute implements e.execute(code).
func (e *engineValue) execute(ctx context.Context, fname string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var code string
	if err := starlark.UnpackArgs(fname, args, kwargs, "code", &code); err != nil {
		return nil, typeError(err)
	}
	return starlark.None, e.c.Execute(ctx, code)
}

// reset implements e.reset().
func (e *engineValue) reset(ctx context.Context, fname string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(fname, args, kwargs); err != nil {
		return nil, typeError(err)
	}
	return starlark.None, e.c.Reset(ctx)
}

// keys implements e.keys(): the names in the namespace, sorted.
func (e *engineValue) keys(ctx context.Context, fname string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(fname, args, kwargs); err != nil {
		return nil, typeError(err)
	}
	keys, err := e.c.Keys(ctx)
	if err != nil {
		return nil, err
	}
	l := make([]starlark.Value, len(keys))
	for i, k := range keys {
		l[i] = starlark.String(k)
	}
	return starlark.NewList(l), nil
}

// setProperties implements e.set_properties(dict) (or keyword arguments).
func (e *engineValue) setProperties(ctx context.Context, fname string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	props, err := namespaceArg(fname, args, kwargs, "properties")
	if err != nil {
		return nil, err
	}
	return starlark.None, e.c.SetProperties(ctx, props)
}

// propNames unpacks an optional keys argument of the property methods.
func propNames(fname string, args starlark.Tuple, kwargs []starlark.Tuple, optional bool) ([]string, error) {
	var keys starlark.Value = starlark.None
	spec := "keys"
	if optional {
		spec = "keys?"
	}
	if err := starlark.UnpackArgs(fname, args, kwargs, spec, &keys); err != nil {
		return nil, typeError(err)
	}
	if keys == starlark.None {
		return nil, nil
	}
	ns, _, err := names(fname, keys)
	return ns, err
}

// getProperties implements e.get_properties(keys=None): a dict of all the
// properties, or of those named.
func (e *engineValue) getProperties(ctx context.Context, fname string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	keys, err := propNames(fname, args, kwargs, true)
	if err != nil {
		return nil, err
	}
	props, err := e.c.Properties(ctx, keys...)
	if err != nil {
		return nil, err
	}
	if props == nil {
		return starlark.NewDict(0), nil
	}
	return FromTaskData(props)
}

// delProperties implements e.del_properties(keys).
func (e *engineValue) delProperties(ctx context.Context, fname string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	keys, err := propNames(fname, args, kwargs, false)
	if err != nil {
		return nil, err
	}
	return starlark.None, e.c.DelProperties(ctx, keys...)
}

// hasProperties implements e.has_properties(keys): a list of bools.
func (e *engineValue) hasProperties(ctx context.Context, fname string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	keys, err := propNames(fname, args, kwargs, false)
	if err != nil {
		return nil, err
	}
	has, err := e.c.HasProperties(ctx, keys...)
	if err != nil {
		return nil, err
	}
	l := make([]starlark.Value, len(has))
	for i, h := range has {
		l[i] = starlark.Bool(h)
	}
	return starlark.NewList(l), nil
}

// clearProperties implements e.clear_properties().
func (e *engineValue) clearProperties(ctx context.Context, fname string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(fname, args, kwargs); err != nil {
		return nil, typeError(err)
	}
	return starlark.None, e.c.ClearProperties(ctx)
}
