// Package drovertype holds the plain data types shared by every part of
// drover's task farm: task and engine identifiers, task states, task
// definitions (map, string and command tasks and their options), task
// results, queue status, engine information, and error kinds with stable wire
// codes. It is a leaf: it imports nothing of drover's and nothing outside the
// standard library, so the controller, the scheduler, the engines, the
// transports and the Starlark layer can all share it.
//
// Everything here is data: it can be copied (Task.Clone), compared and
// serialized. The JSON forms use snake_case field names; the CBOR forms used
// for task data on the wire are added by the transport. Behaviour (running,
// scheduling, rendering in Starlark) lives in the packages that use these
// types.
//
// The seed is IPython 0.10's kernel.task module; names, validation messages
// and error texts follow it (see the individual docs), and each deliberate
// difference is documented where it is made.
//
// None of the types in this package synchronizes access: a value may be read
// from several goroutines at once, but must not be modified while anything
// else reads it. Task.Clone gives an independent copy.
package drovertype
