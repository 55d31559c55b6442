package scheduler

import (
	"container/heap"
	"fmt"
	"math"
	"strings"

	"github.com/drover-dev/drover/drovertype"
)

// Group identifies tasks that have the same eligibility (the same depend).
// Unconstrained means any engine may take the task. The scheduler forgets a
// group (and its cached Eligible results) when its last task leaves the
// queue, so a Group may be reused for another depend from then on.
type Group uint64

// Unconstrained is the Group of tasks without depend.
const Unconstrained Group = 0

// Class identifies engines that have the same eligibility for every task
// (the same properties). A Class must never be reused for other properties.
type Class uint64

// Eligible reports whether tasks of group g may run on engines of class c.
// It is never called with Unconstrained. It must be a pure function of g and
// c (its result is cached); a panic counts as false, as an exception in the
// seed's depend does.
type Eligible func(g Group, c Class) bool

// Item is a queued task as the scheduler sees it.
type Item struct {
	ID    drovertype.TaskID
	Group Group
}

// Policy selects the order of tasks and engines.
type Policy uint8

// Policies.
const (
	// FIFO: oldest runnable task to the longest-idle eligible engine.
	FIFO Policy = iota
	// LIFO: newest runnable task to the most recently freed eligible engine.
	LIFO
)

// String returns "fifo" or "lifo".
func (p Policy) String() string {
	switch p {
	case FIFO:
		return "fifo"
	case LIFO:
		return "lifo"
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// ParsePolicy parses "fifo" or "lifo" (any case).
func ParsePolicy(s string) (Policy, error) {
	switch strings.ToLower(s) {
	case "fifo":
		return FIFO, nil
	case "lifo":
		return LIFO, nil
	}
	return 0, fmt.Errorf("scheduler: unknown policy %q (want fifo or lifo): %w", s, drovertype.ErrInvalidArgument)
}

// MarshalText encodes the policy as "fifo" or "lifo".
func (p Policy) MarshalText() ([]byte, error) {
	if p > LIFO {
		return nil, fmt.Errorf("scheduler: invalid policy %d: %w", uint8(p), drovertype.ErrInvalidArgument)
	}
	return []byte(p.String()), nil
}

// UnmarshalText decodes "fifo" or "lifo".
func (p *Policy) UnmarshalText(b []byte) error {
	v, err := ParsePolicy(string(b))
	if err == nil {
		*p = v
	}
	return err
}

// Scheduler is a task queue and an idle-engine set with a placement policy.
// Implementations are not safe for concurrent use.
type Scheduler interface {
	// Policy returns the scheduler's policy.
	Policy() Policy
	// AddTask queues a task: a new one, a retry, or a recovery task (at the
	// back for FIFO, at the front for LIFO). Errors: the id is already
	// queued (ErrAlreadyExists); a constrained group without an Eligible
	// function (ErrInvalidArgument).
	AddTask(it Item) error
	// RemoveTask takes a queued task out (abort, idle timeout) and reports
	// whether it was queued.
	RemoveTask(id drovertype.TaskID) bool
	// AddEngine makes an engine idle (registered, freed, readmitted after a
	// penalty), with the class of its current properties. Error: the engine
	// is already idle (ErrAlreadyExists).
	AddEngine(id drovertype.EngineID, class Class) error
	// UpdateEngine changes the class of an idle engine whose properties
	// changed; its place in the idle order is kept (the seed re-reads
	// properties at every decision). It reports whether the engine is idle.
	UpdateEngine(id drovertype.EngineID, class Class) bool
	// RemoveEngine takes an idle engine out (unregistered, or used
	// elsewhere) and reports whether it was idle.
	RemoveEngine(id drovertype.EngineID) bool
	// Schedule makes one decision: it removes the chosen task and engine
	// and returns them, or returns ok=false if no queued task may run on
	// any idle engine.
	Schedule() (task drovertype.TaskID, engine drovertype.EngineID, ok bool)
	// NumTasks returns the number of queued tasks.
	NumTasks() int
	// NumEngines returns the number of idle engines.
	NumEngines() int
	// TaskIDs returns the queued tasks in queue order.
	TaskIDs() []drovertype.TaskID
	// EngineIDs returns the idle engines in idle order.
	EngineIDs() []drovertype.EngineID
}

// New returns a scheduler with policy p. eligible may be nil if no task
// will ever be constrained.
func New(p Policy, eligible Eligible) (Scheduler, error) {
	if p > LIFO {
		return nil, fmt.Errorf("scheduler: new: invalid policy %d: %w", uint8(p), drovertype.ErrInvalidArgument)
	}
	s := &queue{
		policy:   p,
		eligible: eligible,
		free:     nilNode,
		index:    pagedIndex{pages: make(map[int64]*indexPage)},
		groupIdx: make(map[Group]int32),
		engines:  make(map[drovertype.EngineID]*engineNode),
		classes:  make(map[Class]*classState),
	}
	s.groups = append(s.groups, groupState{key: Unconstrained, head: nilNode, tail: nilNode, pos: -1})
	return s, nil
}

// NewFIFO returns a FIFO scheduler (the seed's default).
func NewFIFO(eligible Eligible) Scheduler {
	s, _ := New(FIFO, eligible)
	return s
}

// NewLIFO returns a LIFO scheduler.
func NewLIFO(eligible Eligible) Scheduler {
	s, _ := New(LIFO, eligible)
	return s
}

const nilNode int32 = -1

// maxCache bounds one group's cache of Eligible results; a full cache is
// emptied (results are recomputed when needed).
const maxCache = 4096

// taskNode is a queued task. Nodes live in an arena and link by index, so
// the arena holds no pointers and costs the garbage collector nothing to
// scan.
type taskNode struct {
	id         drovertype.TaskID
	key        int64 // queue order: smaller first
	prev, next int32 // within the group, ordered by key
	group      int32 // index in queue.groups; next free node when free
}

// groupState is the queued tasks of one Group, in queue order.
type groupState struct {
	key        Group
	hkey       int64 // key of the head task (kept here: no arena access per group per decision)
	head, tail int32
	n          int32
	pos        int32 // index in queue.active; -1 for Unconstrained or free
	// dormant: no class that was idle at stamp dormantAt is eligible.
	dormant   bool
	dormantAt uint64
	cache     map[Class]bool
}

// engineNode is an idle engine.
type engineNode struct {
	id           drovertype.EngineID
	key          int64 // idle order: smaller first
	class        *classState
	prev, next   *engineNode // all idle engines, by key
	cprev, cnext *engineNode // idle engines of the class, by key
}

// classState is the idle engines of one Class.
type classState struct {
	id         Class
	n          int
	head, tail *engineNode
	// idleSince is the wake stamp at which the class last became idle
	// (went from no idle engine to one).
	idleSince  uint64
	prev, next *classState // idle classes, by idleSince
}

// queue implements Scheduler for both policies.
type queue struct {
	policy   Policy
	eligible Eligible

	nodes  []taskNode
	free   int32 // free-node list, linked through taskNode.group
	index  pagedIndex
	tseq   int64
	groups []groupState // [0] is Unconstrained; free entries have pos -1 and n 0
	// groupIdx maps constrained groups with queued tasks to their index in
	// groups; spare holds indices of free groups entries.
	groupIdx map[Group]int32
	spare    []int32
	active   []int32 // constrained groups with queued tasks

	engines      map[drovertype.EngineID]*engineNode
	ehead, etail *engineNode
	eseq         int64
	classes      map[Class]*classState // classes with idle engines
	chead, ctail *classState           // by idleSince
	wake         uint64                // last idleSince handed out
	// Spare nodes, so that a steady state of decisions and readmissions
	// does not allocate. They never outnumber the most engines ever idle.
	spareEngines []*engineNode
	spareClasses []*classState
}

func (s *queue) Policy() Policy  { return s.policy }
func (s *queue) NumTasks() int   { return s.index.n }
func (s *queue) NumEngines() int { return len(s.engines) }
func (s *queue) lifo() bool      { return s.policy == LIFO }

func (s *queue) AddTask(it Item) error {
	if it.Group != Unconstrained && s.eligible == nil {
		return fmt.Errorf("scheduler: add task %d: group %d needs an Eligible function (none given to New): %w",
			it.ID, it.Group, drovertype.ErrInvalidArgument)
	}
	if len(s.nodes) == math.MaxInt32 && s.free == nilNode {
		return fmt.Errorf("scheduler: add task %d: more than %d tasks queued: %w", it.ID, math.MaxInt32, drovertype.ErrInvalidArgument)
	}
	// A non-empty slot means its page exists: no empty page is left behind.
	page, slot := s.index.slot(it.ID)
	if page.slot[slot] != 0 {
		return fmt.Errorf("scheduler: add task %d: already queued: %w", it.ID, drovertype.ErrAlreadyExists)
	}
	gi := int32(0)
	if it.Group != Unconstrained {
		var ok bool
		if gi, ok = s.groupIdx[it.Group]; !ok {
			gi = s.newGroup(it.Group)
		}
	}
	ni := s.free
	if ni != nilNode {
		s.free = s.nodes[ni].group
	} else {
		ni = int32(len(s.nodes))
		s.nodes = append(s.nodes, taskNode{})
	}
	s.tseq++
	key := s.tseq
	if s.lifo() {
		key = -key
	}
	g := &s.groups[gi]
	n := &s.nodes[ni]
	*n = taskNode{id: it.ID, key: key, prev: nilNode, next: nilNode, group: gi}
	switch {
	case g.head == nilNode:
		g.head, g.tail, g.hkey = ni, ni, key
	case s.lifo():
		n.next = g.head
		s.nodes[g.head].prev = ni
		g.head, g.hkey = ni, key
	default:
		n.prev = g.tail
		s.nodes[g.tail].next = ni
		g.tail = ni
	}
	g.n++
	page.slot[slot] = ni + 1
	page.n++
	s.index.n++
	return nil
}

// newGroup takes a groups entry for constrained group key and activates it.
func (s *queue) newGroup(key Group) int32 {
	var gi int32
	if k := len(s.spare); k > 0 {
		gi = s.spare[k-1]
		s.spare = s.spare[:k-1]
	} else {
		gi = int32(len(s.groups))
		s.groups = append(s.groups, groupState{})
	}
	g := &s.groups[gi]
	cache := g.cache
	clear(cache)
	*g = groupState{key: key, head: nilNode, tail: nilNode, pos: int32(len(s.active)), cache: cache}
	s.active = append(s.active, gi)
	s.groupIdx[key] = gi
	return gi
}

func (s *queue) RemoveTask(id drovertype.TaskID) bool {
	ni, ok := s.index.get(id)
	if !ok {
		return false
	}
	s.unlinkTask(ni)
	return true
}

// unlinkTask removes node ni from its group and the index and frees it; a
// constrained group left empty is released.
func (s *queue) unlinkTask(ni int32) {
	n := &s.nodes[ni]
	gi := n.group
	g := &s.groups[gi]
	if n.prev != nilNode {
		s.nodes[n.prev].next = n.next
	} else {
		g.head = n.next
		if n.next != nilNode {
			g.hkey = s.nodes[n.next].key
		}
	}
	if n.next != nilNode {
		s.nodes[n.next].prev = n.prev
	} else {
		g.tail = n.prev
	}
	g.n--
	s.index.del(n.id)
	n.group = s.free
	s.free = ni
	if g.n == 0 && gi != 0 {
		delete(s.groupIdx, g.key)
		last := s.active[len(s.active)-1]
		s.active[g.pos] = last
		s.groups[last].pos = g.pos
		s.active = s.active[:len(s.active)-1]
		g.pos = -1
		if len(g.cache) > maxCache/4 {
			g.cache = nil // do not keep a large map for a reused entry
		}
		s.spare = append(s.spare, gi)
	}
}

func (s *queue) AddEngine(id drovertype.EngineID, class Class) error {
	if _, dup := s.engines[id]; dup {
		return fmt.Errorf("scheduler: add engine %d: already idle: %w", id, drovertype.ErrAlreadyExists)
	}
	s.eseq++
	var e *engineNode
	if k := len(s.spareEngines); k > 0 {
		e = s.spareEngines[k-1]
		s.spareEngines = s.spareEngines[:k-1]
	} else {
		e = new(engineNode)
	}
	*e = engineNode{id: id, key: s.eseq}
	if s.lifo() {
		e.key = -e.key
		e.next = s.ehead
		if s.ehead != nil {
			s.ehead.prev = e
		} else {
			s.etail = e
		}
		s.ehead = e
	} else {
		e.prev = s.etail
		if s.etail != nil {
			s.etail.next = e
		} else {
			s.ehead = e
		}
		s.etail = e
	}
	s.engines[id] = e
	s.joinClass(e, class)
	return nil
}

// joinClass puts idle engine e into class c's list, at its place by key.
func (s *queue) joinClass(e *engineNode, id Class) {
	c := s.classes[id]
	if c == nil {
		s.wake++
		if k := len(s.spareClasses); k > 0 {
			c = s.spareClasses[k-1]
			s.spareClasses = s.spareClasses[:k-1]
		} else {
			c = new(classState)
		}
		*c = classState{id: id, idleSince: s.wake, prev: s.ctail}
		if s.ctail != nil {
			s.ctail.next = c
		} else {
			s.chead = c
		}
		s.ctail = c
		s.classes[id] = c
	}
	e.class = c
	c.n++
	// Keep the list sorted by key. AddEngine lands at an end (the tail for
	// FIFO, the head for LIFO); only UpdateEngine walks.
	switch {
	case c.tail == nil || c.tail.key < e.key:
		e.cprev, e.cnext = c.tail, nil
		if c.tail != nil {
			c.tail.cnext = e
		} else {
			c.head = e
		}
		c.tail = e
		return
	case c.head.key > e.key:
		e.cprev, e.cnext = nil, c.head
		c.head.cprev = e
		c.head = e
		return
	}
	after := c.head
	for after.key < e.key {
		after = after.cnext
	}
	e.cnext, e.cprev = after, after.cprev
	after.cprev.cnext = e // after is not the head
	after.cprev = e
}

// leaveClass takes idle engine e out of its class; a class left without
// idle engines is dropped.
func (s *queue) leaveClass(e *engineNode) {
	c := e.class
	if e.cprev != nil {
		e.cprev.cnext = e.cnext
	} else {
		c.head = e.cnext
	}
	if e.cnext != nil {
		e.cnext.cprev = e.cprev
	} else {
		c.tail = e.cprev
	}
	e.cprev, e.cnext, e.class = nil, nil, nil
	c.n--
	if c.n > 0 {
		return
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		s.chead = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		s.ctail = c.prev
	}
	delete(s.classes, c.id)
	*c = classState{}
	s.spareClasses = append(s.spareClasses, c)
}

func (s *queue) UpdateEngine(id drovertype.EngineID, class Class) bool {
	e, ok := s.engines[id]
	if !ok {
		return false
	}
	if e.class.id != class {
		s.leaveClass(e)
		s.joinClass(e, class)
	}
	return true
}

func (s *queue) RemoveEngine(id drovertype.EngineID) bool {
	e, ok := s.engines[id]
	if !ok {
		return false
	}
	s.unlinkEngine(e)
	return true
}

func (s *queue) unlinkEngine(e *engineNode) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.ehead = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.etail = e.prev
	}
	s.leaveClass(e)
	delete(s.engines, e.id)
	*e = engineNode{}
	s.spareEngines = append(s.spareEngines, e)
}

func (s *queue) Schedule() (drovertype.TaskID, drovertype.EngineID, bool) {
	if s.ehead == nil {
		return 0, 0, false
	}
	best, bestKey := int32(-1), int64(math.MaxInt64)
	if g := &s.groups[0]; g.head != nilNode {
		best, bestKey = 0, g.hkey
	}
	for _, gi := range s.active {
		g := &s.groups[gi]
		if g.hkey < bestKey && s.runnable(g) {
			best, bestKey = gi, g.hkey
		}
	}
	if best < 0 {
		return 0, 0, false
	}
	g := &s.groups[best]
	e := s.ehead
	if best != 0 {
		e = s.firstEngine(g)
	}
	ni := g.head
	id, eid := s.nodes[ni].id, e.id
	s.unlinkTask(ni) // may release g
	s.unlinkEngine(e)
	return id, eid, true
}

// runnable reports whether some idle engine may take group g's tasks.
func (s *queue) runnable(g *groupState) bool {
	if g.dormant && g.dormantAt == s.wake {
		return false // no class became idle since g was last found dormant
	}
	var since uint64
	if g.dormant {
		since = g.dormantAt // classes idle since then are known ineligible
	}
	for c := s.ctail; c != nil && c.idleSince > since; c = c.prev {
		if s.check(g, c.id) {
			g.dormant = false
			return true
		}
	}
	g.dormant, g.dormantAt = true, s.wake
	return false
}

// firstEngine returns the first idle engine, in idle order, that may take
// group g's tasks; g is runnable. The first engine of each eligible class
// is a candidate, so looking at the K idle classes suffices; but when most
// classes hold one engine (a class per engine), walking the idle engines
// from the front finds it sooner. So walk at most K engines, then fall back
// to the classes: at most 2K cache look-ups.
func (s *queue) firstEngine(g *groupState) *engineNode {
	k := len(s.classes)
	for e := s.ehead; e != nil && k > 0; e, k = e.next, k-1 {
		if s.check(g, e.class.id) {
			return e
		}
	}
	var best *engineNode
	for c := s.chead; c != nil; c = c.next {
		if (best == nil || c.head.key < best.key) && s.check(g, c.id) {
			best = c.head
		}
	}
	return best
}

// check returns Eligible(g, c), cached per group.
func (s *queue) check(g *groupState, c Class) bool {
	if v, ok := g.cache[c]; ok {
		return v
	}
	v := s.call(g.key, c)
	if g.cache == nil {
		g.cache = make(map[Class]bool)
	} else if len(g.cache) >= maxCache {
		clear(g.cache)
	}
	g.cache[c] = v
	return v
}

func (s *queue) call(g Group, c Class) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return s.eligible(g, c)
}

func (s *queue) EngineIDs() []drovertype.EngineID {
	out := make([]drovertype.EngineID, 0, len(s.engines))
	for e := s.ehead; e != nil; e = e.next {
		out = append(out, e.id)
	}
	return out
}

func (s *queue) TaskIDs() []drovertype.TaskID {
	out := make([]drovertype.TaskID, 0, s.index.n)
	h := cursorHeap{nodes: s.nodes}
	if s.groups[0].head != nilNode {
		h.at = append(h.at, s.groups[0].head)
	}
	for _, gi := range s.active {
		h.at = append(h.at, s.groups[gi].head)
	}
	heap.Init(&h)
	for len(h.at) > 0 {
		ni := h.at[0]
		out = append(out, s.nodes[ni].id)
		if next := s.nodes[ni].next; next != nilNode {
			h.at[0] = next
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return out
}

// cursorHeap merges the groups' lists by key.
type cursorHeap struct {
	nodes []taskNode
	at    []int32
}

func (h *cursorHeap) Len() int           { return len(h.at) }
func (h *cursorHeap) Less(i, j int) bool { return h.nodes[h.at[i]].key < h.nodes[h.at[j]].key }
func (h *cursorHeap) Swap(i, j int)      { h.at[i], h.at[j] = h.at[j], h.at[i] }
func (h *cursorHeap) Push(x any)         { h.at = append(h.at, x.(int32)) }
func (h *cursorHeap) Pop() any {
	x := h.at[len(h.at)-1]
	h.at = h.at[:len(h.at)-1]
	return x
}

// pagedIndex maps task ids to arena nodes. Task ids are mostly consecutive
// (a controller hands them out from 0), so it is a map of small pages
// rather than a map of ids: a Go map with a million entries and a delete and
// an insert per decision spends most of a decision probing past deleted
// slots and missing the cache, while the page map stays small and rarely
// changes. A page costs 516 bytes while any of its 128 ids is queued.
type pagedIndex struct {
	pages map[int64]*indexPage
	spare []*indexPage
	n     int // queued tasks
}

const (
	pageBits  = 7
	pageSize  = 1 << pageBits
	pageMask  = pageSize - 1
	maxSpares = 16
)

// indexPage holds node index + 1 per id (0: not queued).
type indexPage struct {
	slot [pageSize]int32
	n    int32
}

func (x *pagedIndex) get(id drovertype.TaskID) (int32, bool) {
	p := x.pages[int64(id)>>pageBits]
	if p == nil {
		return 0, false
	}
	v := p.slot[int64(id)&pageMask]
	return v - 1, v != 0
}

// slot returns the page and the slot of id, creating the page if needed;
// the caller fills the slot (and counts it) unless it is taken.
func (x *pagedIndex) slot(id drovertype.TaskID) (*indexPage, int) {
	pn := int64(id) >> pageBits
	p := x.pages[pn]
	if p == nil {
		if k := len(x.spare); k > 0 {
			p = x.spare[k-1]
			x.spare = x.spare[:k-1]
		} else {
			p = new(indexPage)
		}
		x.pages[pn] = p
	}
	return p, int(int64(id) & pageMask)
}

// del forgets id, which is queued.
func (x *pagedIndex) del(id drovertype.TaskID) {
	pn := int64(id) >> pageBits
	p := x.pages[pn]
	p.slot[int64(id)&pageMask] = 0
	p.n--
	x.n--
	if p.n == 0 {
		delete(x.pages, pn)
		if len(x.spare) < maxSpares {
			x.spare = append(x.spare, p)
		}
	}
}
