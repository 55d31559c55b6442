package drovertype

import (
	"strings"
	"time"
)

// TimeLayout is the seed's format of TaskResult.Submitted and Completed
// (Python's '%Y/%m/%d %H:%M:%S').
const TimeLayout = "2006/01/02 15:04:05"

// FormatTime formats t in TimeLayout, in t's own location (the seed uses
// local time).
func FormatTime(t time.Time) string { return t.Format(TimeLayout) }

// TaskResult is the outcome of a task: which task and engine, when, and
// either the values or the failure. Which value field is set depends on the
// kind of the task that produced it (a recovery task may be of another kind
// than the task it stands for): a map task sets Value (the function's return
// value, the seed's raw result); a string task sets Results and Keys (the
// seed's TaskResult); a command task sets Command. On failure Failure is
// set, Results is empty and Keys is nil, as in the seed.
//
// The seed gives a failed map task no TaskResult (retrieval raises); the
// controller and client decide how each kind surfaces, using this one
// record on the wire.
type TaskResult struct {
	TaskID   TaskID   `json:"task_id"`
	EngineID EngineID `json:"engine_id"`
	// Kind is the kind of the task that produced the result.
	Kind TaskKind `json:"kind"`
	// Submitted and Completed are SubmittedAt and CompletedAt in TimeLayout.
	// As in the seed, "submitted" is the start of the last attempt.
	Submitted string `json:"submitted"`
	Completed string `json:"completed"`
	// SubmittedAt and CompletedAt are the start and end of the last attempt.
	SubmittedAt time.Time `json:"submitted_at"`
	CompletedAt time.Time `json:"completed_at"`
	// Duration is CompletedAt - SubmittedAt (the seed's float seconds).
	Duration time.Duration `json:"duration"`
	// Value is a map task's return value.
	Value any `json:"value,omitempty"`
	// Results holds a string task's pulled values by name; Keys gives their
	// names in pull order (the seed's results and keys).
	Results map[string]any `json:"results,omitempty"`
	Keys    []string       `json:"keys,omitempty"`
	// Command is a command task's outcome.
	Command *CommandResult `json:"command,omitempty"`
	// Failure is why the task failed; nil on success.
	Failure *TaskError `json:"failure,omitempty"`
}

// CommandResult is what a command task produced. A non-zero exit code is a
// result, not a failure; a command that could not be started, or was
// stopped, is a failure (TaskResult.Failure).
type CommandResult struct {
	ExitCode int    `json:"exit_code"`
	Stdout   []byte `json:"stdout,omitempty"`
	Stderr   []byte `json:"stderr,omitempty"`
}

// SetTimes records an attempt's start and stop: SubmittedAt, CompletedAt,
// the seed's strings Submitted and Completed, and Duration.
func (r *TaskResult) SetTimes(start, stop time.Time) {
	r.SubmittedAt, r.CompletedAt = start, stop
	r.Submitted, r.Completed = FormatTime(start), FormatTime(stop)
	r.Duration = stop.Sub(start)
}

// Succeeded reports whether the task succeeded.
func (r *TaskResult) Succeeded() bool { return r.Failure == nil }

// Err returns the failure as an error, or nil on success (the seed's
// raise_exception). Use it rather than Failure where an error is expected:
// a nil *TaskError in an error variable is not nil.
func (r *TaskResult) Err() error {
	if r.Failure == nil {
		return nil
	}
	return r.Failure
}

// NS returns the result namespace of a string task (the seed's tr.ns), or
// the failure if the task failed.
func (r *TaskResult) NS() (ResultNS, error) {
	if r.Failure != nil {
		return ResultNS{}, r.Failure
	}
	return NewResultNS(r.Keys, r.Results), nil
}

// Get returns the pulled value name (the seed's tr[name]): the failure if
// the task failed, a KeyError (kind NotFound) if there is no such value.
func (r *TaskResult) Get(name string) (any, error) {
	if r.Failure != nil {
		return nil, r.Failure
	}
	v, ok := r.Results[name]
	if !ok {
		return nil, NewTaskError(NotFound, "KeyError", pyQuote(name))
	}
	return v, nil
}

// ResultNS is the seed's ResultNS as data: the values of a string task by
// name, read as attributes. A missing name is an AttributeError (also for
// ns[name], as in the seed). The zero value is an empty namespace. A
// ResultNS shares its values with the TaskResult it came from; treat it as
// read-only.
type ResultNS struct {
	keys   []string
	values map[string]any
}

// NewResultNS returns a namespace holding values, whose names are listed in
// keys order (names in values but not in keys follow, in no fixed order).
func NewResultNS(keys []string, values map[string]any) ResultNS {
	ordered := make([]string, 0, len(values))
	seen := make(map[string]bool, len(values))
	for _, k := range keys {
		if _, ok := values[k]; ok && !seen[k] {
			seen[k] = true
			ordered = append(ordered, k)
		}
	}
	for k := range values {
		if !seen[k] {
			ordered = append(ordered, k)
		}
	}
	return ResultNS{keys: ordered, values: values}
}

// Attr returns the value called name (the seed's ns.name and ns[name]), or
// the seed's AttributeError "'ResultNS' object has no attribute 'x'" (kind
// NotFound).
func (ns ResultNS) Attr(name string) (any, error) {
	v, ok := ns.values[name]
	if !ok {
		return nil, NewTaskError(NotFound, "AttributeError",
			"'ResultNS' object has no attribute "+pyQuote(name))
	}
	return v, nil
}

// Names returns every name, in order.
func (ns ResultNS) Names() []string { return append([]string(nil), ns.keys...) }

// Len returns the number of names.
func (ns ResultNS) Len() int { return len(ns.keys) }

// ReprNames returns the names the seed's repr shows ("NS{...}"): those that
// neither start nor end with "__", in order.
func (ns ResultNS) ReprNames() []string {
	var out []string
	for _, k := range ns.keys {
		if !strings.HasPrefix(k, "__") && !strings.HasSuffix(k, "__") {
			out = append(out, k)
		}
	}
	return out
}

// pyQuote quotes s as Python's repr of a str does in the common cases.
func pyQuote(s string) string {
	q := "'"
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = `"`
	}
	var b strings.Builder
	b.WriteString(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case string(r) == q:
			b.WriteString(`\` + q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(q)
	return b.String()
}

// QueueStatus is the seed's queue_status(verbose=True): the ids of the tasks
// running now (a running recovery task shows the original id), queued (in
// queue order), finished successfully and finished with a failure. Counts
// gives the non-verbose form. Which finished tasks count as succeeded or
// failed is the controller's documented rule (the seed counts only string
// tasks).
type QueueStatus struct {
	Pending   []TaskID `json:"pending"`
	Scheduled []TaskID `json:"scheduled"`
	Succeeded []TaskID `json:"succeeded"`
	Failed    []TaskID `json:"failed"`
}

// QueueCounts is the seed's queue_status(verbose=False).
type QueueCounts struct {
	Pending   int `json:"pending"`
	Scheduled int `json:"scheduled"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
}

// Counts returns the number of ids in each list.
func (q QueueStatus) Counts() QueueCounts {
	return QueueCounts{len(q.Pending), len(q.Scheduled), len(q.Succeeded), len(q.Failed)}
}

// EngineInfo describes an engine as the controller sees it.
type EngineInfo struct {
	ID EngineID `json:"id"`
	// Name is the engine's self-description (host and process), if any.
	Name string `json:"name,omitempty"`
	// Properties are the engine's properties as the controller last saw
	// them (what depend is evaluated against).
	Properties map[string]any `json:"properties,omitempty"`
	// Busy reports that an attempt is running on the engine; Task is its
	// task id, or NoTask.
	Busy bool   `json:"busy"`
	Task TaskID `json:"task"`
	// AllowCommands reports that the engine runs command tasks.
	AllowCommands bool `json:"allow_commands,omitempty"`
	// Functions are the names of the Go functions registered on the engine.
	Functions []string `json:"functions,omitempty"`
}
