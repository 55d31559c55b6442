// Package engine is drover's task engine: the Go port of an IPython 0.10
// engine as the task farm uses it (SEED-SPEC B2, B3). An Engine runs one
// command at a time against its own persistent Starlark namespace and its
// properties, and runs the attempts of map, string and command tasks.
//
// # Use
//
// In-process callers and tests call the methods directly (Push, Pull,
// Execute, Reset, Keys, the property methods, RunTask, Call); all take a
// ctx first and are serialized, each waiting for the previous one. A
// controller drives an engine through a transport: Serve registers the
// engine and runs the Assign, Cancel and Call messages it receives (see
// package transport).
//
// # Namespace
//
// The namespace holds Starlark values. Push converts plain Go data in
// (copies), Pull converts it out (copies; tuples and sets come back as
// lists, since the plain data of tasks has neither). A new or reset
// namespace holds `id` (the engine id) and `properties` (see below). Code
// is the shell's Python-like dialect (script.Dialect): top-level if, for
// and while, `i += 1` on a pushed or earlier name, sets, recursion.
// Globals live in the namespace, as in Python: a function defined by
// engine code, or shipped by a map task, reads the globals it names when
// it runs, so a later push or assignment is seen. Built-in names can be
// shadowed by namespace names. Compiled programs are cached by source.
// Hot loops run about three times faster inside a function than at top
// level (top-level names are namespace entries, function locals are
// slots).
//
// # Errors
//
// Errors of user code are *drovertype.TaskError of kind TaskFailed whose
// Type is Python's name for the error, whose Message is Starlark's text
// and whose Traceback is the Starlark backtrace:
//
//	undefined name                          NameError "name 'x' is not defined"
//	local read before assignment            UnboundLocalError
//	division or modulo by zero              ZeroDivisionError
//	missing dict key                        KeyError
//	index out of range, pop from empty      IndexError
//	wrong type, bad call, unhashable        TypeError
//	bad literal, value not found            ValueError
//	missing attribute                       AttributeError
//	fail(...)                               AssertionError (Starlark has no assert)
//	parse or resolve error, load            SyntaxError
//	property that cannot be stored          InvalidProperty "can't be a value: ..."
//	anything else                           Error
//
// A Go function's error keeps its *drovertype.TaskError type if it has
// one, else its Go type name ("Error" for errors.New and fmt.Errorf); a
// panic is type GoPanic with the stack as traceback, and never crashes the
// process.
//
// # Guards
//
// Every Starlark run (an Execute, a string task's code, a call of a map
// task's function) has a step budget: Config.StepBudget, or the task's or
// call's own. Past it the run fails with type StepBudgetExceeded
// (ErrStepBudget). The default, DefaultStepBudget, is far above ordinary
// work (a loop of ten million iterations takes a few percent of it). The
// call depth is bounded too (RecursionError, ErrRecursion), so that runaway
// recursion cannot overflow the goroutine stack. Every run stops promptly
// when its ctx ends.
//
// # Tasks
//
// RunTask runs the seed's chain: clear_before, the body, clear_after (on
// success and failure), with the attempt's start and end times. A map
// task calls a Go function registered by name (Registry) or a Starlark
// function shipped as source and name: the source is compiled once and
// its function is defined with the namespace as its globals (a closure
// over local variables is refused). A function whose defaults are all
// literals is reused from one task to the next, which is
// indistinguishable from defining it again; any other is defined afresh
// for every task, as the seed's push_function does. A string task pushes,
// executes and pulls (the seed's pull forms give results {name: value}).
// A command task, on an engine with AllowCommands, runs argv or a shell
// line in a process group of its own; its result is a
// *drovertype.CommandResult (exit code, stdout, stderr; a non-zero exit is
// a result); cancelling it kills the group, and whatever the command left
// running in its group is killed when it exits. The task's Timeout limits
// the attempt (TaskTimeout). Unlike the seed, the engine leaves no names
// of its own (_ipython_task_*) in the namespace.
//
// # Properties
//
// Properties are a dict of plain data (drovertype.ValidateValue), copied
// in and out; a value that is not plain data is refused with the seed's
// InvalidProperty "can't be a value: ...". Engine code sees them as the
// predeclared `properties` object: p["k"], p["k"] = v, "k" in p, len(p),
// iteration over the keys, and get, keys, values, items, pop, update and
// clear. An outcome or reply carries the properties when they changed
// during the attempt or call, and Serve sends them when a direct method
// call changed them, so that a controller's copy (used by depend) stays
// current.
package engine
