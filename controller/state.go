package controller

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/scheduler"
	"github.com/drover-dev/drover/transport"
)

// op is the kind of a request to the loop.
type op uint8

const (
	opPoll op = iota + 1
	opWait
	opAbort
	opSpin
	opStatus
	opCounts
	opClear
	opClearAll
	opEngines
	opWaitEngines
	opWaitAddr
	opCall
	opForget
	opDurable
)

// waitMode says what an opWait request waits for and answers.
type waitMode uint8

const (
	waitNone waitMode = iota // Barrier: nothing but completion
	waitOne                  // Result: the one task's result
	waitAll                  // Results: every task's result, in order
)

// request is a method call handed to the loop through the inbox (Run
// requests are queued apart: Controller.runs).
type request struct {
	op      op
	wait    waitMode
	before  int // number of Run requests queued before this one
	id      drovertype.TaskID
	ids     []drovertype.TaskID
	engine  drovertype.EngineID
	callMsg *transport.Call
	n       int
	addr    string
	ctx     context.Context // the caller's; waiting requests are dropped when it ends
	reply   chan response   // buffered (1)
}

// fail answers r with err.
func (r *request) fail(err error) {
	if r.reply != nil {
		r.reply <- response{err: err}
	}
}

// response is the loop's answer to a request.
type response struct {
	value   any
	err     error
	done    bool
	engine  drovertype.EngineID
	n       int
	values  []any
	errs    []error
	dropped []drovertype.TaskID // opClear: the ids dropped
	missing []drovertype.TaskID // opClear: the ids not dropped
	status  drovertype.QueueStatus
	counts  drovertype.QueueCounts
	engines []drovertype.EngineInfo
}

// task is the loop's record of a task. Written and read by the loop only,
// except that Run fills def, deps and retries before handing it over.
type task struct {
	id drovertype.TaskID
	// def is the step to run: the task itself, or the recovery task that
	// stands for it now. Shared read-only with the engines it is assigned
	// to. nil once finished.
	def *drovertype.Task
	// deps holds the compiled depend of each step of the recovery chain
	// (index: step); nil when no step has one.
	deps    []*compiled
	step    int32 // index of def in the chain
	retries int   // retries left for def
	state   drovertype.TaskState
	// aborting: Abort was called while an attempt was running; the task
	// finishes TaskAborted when the attempt ends.
	aborting bool
	// failed: finished with a failure (queue status).
	failed bool
	// forget: its journal write failed: drop it when it finishes, with no
	// result written.
	forget bool
	// unsaved: finished, its result handed to the journal and not durable
	// yet: waiters are answered (and Poll says done) once it is.
	unsaved bool
	grp     *group // eligibility of def; nil: any engine
	attempt transport.AttemptID
	eng     *engine // engine running the attempt, while Pending
	// value and err are the result once finished.
	value   any
	err     error
	waiters []*barrier // requests waiting for the task to finish
}

// barrier is a request waiting for a set of tasks to finish (Result,
// Results and Barrier).
type barrier struct {
	ctx   context.Context // the caller's
	mode  waitMode
	ids   []drovertype.TaskID
	left  int // tasks not finished yet (one count per waiter entry)
	done  bool
	reply chan response
}

// engine is the loop's record of a registered engine.
type engine struct {
	id     drovertype.EngineID
	addr   string
	name   string
	caps   transport.Capabilities
	props  map[string]any // last seen; read-only
	class  *class
	window int
	// inflight are the tasks assigned to the engine, in assignment order
	// (the engine runs them in that order).
	inflight  []*task
	idle      bool      // in the scheduler (has a free slot)
	penalized bool      // serving a failure penalty
	penEnd    time.Time // when the penalty ends
	gone      bool      // lost or left; the id is not reused
	out       []transport.ToEngine
	queued    bool // in loop.dirty
}

// busy reports whether the engine counts as not idle for the idle timeout
// (the seed: not in the scheduler).
func (e *engine) busy() bool { return len(e.inflight) > 0 || e.penalized }

// pendingCall is a Call waiting for the engine's Reply.
type pendingCall struct {
	eng   *engine
	op    transport.CallOp
	reply chan response
}

// penalty is an engine serving its failure penalty until at.
type penalty struct {
	at  time.Time
	eng *engine
}

// compiled is a compiled depend constraint.
type compiled struct {
	key  drovertype.Depend
	pred func(props map[string]any) bool
}

// dependCache caches compiled depend constraints by source, so that tasks
// with the same depend compile it once (and share a scheduler group).
// Safe for concurrent use.
type dependCache struct {
	mu sync.Mutex
	m  map[drovertype.Depend]*compiled
}

// maxDepends bounds the cache; a full cache is emptied.
const maxDepends = 1024

func (dc *dependCache) compile(f DependCompiler, d drovertype.Depend) (*compiled, error) {
	dc.mu.Lock()
	c := dc.m[d]
	dc.mu.Unlock()
	if c != nil {
		return c, nil
	}
	pred, err := safeCompile(f, d)
	if err != nil {
		if k := drovertype.KindOf(err); k == drovertype.Internal {
			te := drovertype.NewValueError("invalid depend: " + err.Error())
			te.Cause = err
			err = te
		}
		return nil, err
	}
	if pred == nil {
		return nil, drovertype.NewValueError("invalid depend: the compiler returned no predicate")
	}
	c = &compiled{key: d, pred: pred}
	dc.mu.Lock()
	if dc.m == nil || len(dc.m) >= maxDepends {
		dc.m = make(map[drovertype.Depend]*compiled)
	}
	if old := dc.m[d]; old != nil {
		c = old
	} else {
		dc.m[d] = c
	}
	dc.mu.Unlock()
	return c, nil
}

// safeCompile calls f, turning a panic into an error.
func safeCompile(f DependCompiler, d drovertype.Depend) (pred func(map[string]any) bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			pred, err = nil, fmt.Errorf("depend compiler panicked: %v", r)
		}
	}()
	return f(&d)
}

// groupKey identifies tasks with the same eligibility.
type groupKey struct {
	dep    drovertype.Depend
	hasDep bool
	cmd    bool // needs an engine that runs commands
}

// group is a scheduler.Group: tasks with the same depend (and command
// need). Alive while tasks refer to it; ids are never reused.
type group struct {
	id   scheduler.Group
	key  groupKey
	pred func(map[string]any) bool
	refs int
}

// class is a scheduler.Class: engines with equal properties and
// capabilities. Alive while engines refer to it; ids are never reused.
type class struct {
	id    scheduler.Class
	key   string
	props map[string]any // of one of its engines; equal for all
	cmd   bool
	refs  int
}

// classKey returns a canonical text of an engine's eligibility: whether it
// runs commands and its properties. Equal properties give equal keys;
// integers of every Go type (and *big.Int) with the same value are equal,
// floats are not equal to integers (Starlark's type() tells them apart).
func classKey(cmd bool, props map[string]any) string {
	var b strings.Builder
	if cmd {
		b.WriteByte('C')
	} else {
		b.WriteByte('-')
	}
	writeValue(&b, props, 0)
	return b.String()
}

func writeValue(b *strings.Builder, v any, depth int) {
	if depth > drovertype.MaxValueDepth {
		b.WriteString("?deep")
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteByte('N')
	case bool:
		if x {
			b.WriteByte('T')
		} else {
			b.WriteByte('F')
		}
	case int:
		writeInt(b, int64(x))
	case int8:
		writeInt(b, int64(x))
	case int16:
		writeInt(b, int64(x))
	case int32:
		writeInt(b, int64(x))
	case int64:
		writeInt(b, x)
	case uint:
		writeUint(b, uint64(x))
	case uint8:
		writeUint(b, uint64(x))
	case uint16:
		writeUint(b, uint64(x))
	case uint32:
		writeUint(b, uint64(x))
	case uint64:
		writeUint(b, x)
	case uintptr:
		writeUint(b, uint64(x))
	case *big.Int:
		if x == nil {
			b.WriteString("N")
			return
		}
		b.WriteByte('i')
		b.WriteString(x.String())
		b.WriteByte(';')
	case float32:
		writeFloat(b, float64(x))
	case float64:
		writeFloat(b, x)
	case string:
		writeStr(b, 's', x)
	case []byte:
		writeStr(b, 'b', string(x))
	case []any:
		b.WriteByte('[')
		for _, e := range x {
			writeValue(b, e, depth+1)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for _, k := range keys {
			writeStr(b, 's', k)
			writeValue(b, x[k], depth+1)
		}
		b.WriteByte('}')
	case map[any]any:
		type kv struct{ k, v string }
		pairs := make([]kv, 0, len(x))
		for k, e := range x {
			var kb, vb strings.Builder
			writeValue(&kb, k, depth+1)
			writeValue(&vb, e, depth+1)
			pairs = append(pairs, kv{kb.String(), vb.String()})
		}
		slices.SortFunc(pairs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
		b.WriteByte('D')
		for _, p := range pairs {
			b.WriteString(p.k)
			b.WriteString(p.v)
		}
		b.WriteByte('}')
	default:
		// Not plain data (ValidateValue refuses it): a key unique to this
		// value's text, so that it never compares equal by accident.
		writeStr(b, '?', fmt.Sprintf("%T:%#v", v, v))
	}
}

func writeInt(b *strings.Builder, x int64) {
	b.WriteByte('i')
	b.WriteString(strconv.FormatInt(x, 10))
	b.WriteByte(';')
}

func writeUint(b *strings.Builder, x uint64) {
	b.WriteByte('i')
	b.WriteString(strconv.FormatUint(x, 10))
	b.WriteByte(';')
}

func writeFloat(b *strings.Builder, x float64) {
	b.WriteByte('f')
	if math.IsNaN(x) {
		// NaN != NaN: give each its own key would be exact, but a NaN
		// property is compared by depend, not by us; one key is enough.
		b.WriteString("nan")
	} else {
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	}
	b.WriteByte(';')
}

func writeStr(b *strings.Builder, tag byte, s string) {
	b.WriteByte(tag)
	b.WriteString(strconv.Itoa(len(s)))
	b.WriteByte(':')
	b.WriteString(s)
}
