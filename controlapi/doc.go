// Package controlapi is the control API between drover's clients and its
// controller: a nats.go micro service (ServiceName "drover-controller",
// Version "1.2.0") served by the controller (Server, over any Farm such as
// *controller.Controller), and its client side (Client; drover.Dial builds
// drover's remote client on it).
//
// # Subjects and messages
//
// One endpoint per operation, on P.api.v1.<op> (P the prefix, "drover" by
// default). Requests and responses are JSON objects; the task data inside
// them (args, kwargs, push, values, results, properties, engine call
// values and replies) is CBOR (package transport/wire's value encoding),
// carried as base64 strings, since JSON cannot keep int and float, bytes
// and text, or big integers apart. Every response may carry "error":
// {"code": the drovertype.Kind wire code, "type", "message", "traceback",
// "task_id", "engine_id", "text": the controller's full error text when it
// says more}; a request-level error also sets micro's error headers
// (Nats-Service-Error-Code 400, 404, 409, 500 or 503). Unknown request
// fields are ignored, so a 1.x client talks to any 1.y controller; an empty
// body is an empty request.
//
//	op            request                         response
//	submit        {tasks: [Task...]} or           {ids, failed?}
//	              {proto: Task, rows} (1.1)
//	result        {ids, wait_ms, packed? (1.1)}   {done, results: [Outcome...]}
//	                                              or {done, count, values,
//	                                              others} (packed)
//	poll          {id}                            {done, outcome?}
//	abort         {id}                            {}
//	barrier       {ids, wait_ms}                  {done}
//	spin          {}                              {dispatched}
//	queue_status  {verbose}                       {status} or {counts}
//	clear         {ids} or {all: true}            {cleared}
//	engines       {}                              {engines: [EngineInfo...]}
//	engine_call   {engine, op, values, names,     {value}
//	               single, code, wait_ms}
//	run_wait      {task: Task, wait_ms} (1.2)     {id?, done, outcome?}
//	info          {}                              {service, version, api,
//	                                               controller_id, prefix,
//	                                               max_payload, max_wait_ms,
//	                                               max_call_wait_ms}
//
// See the types of this package (SubmitRequest, Task, Outcome, ...) for
// the fields.
//
// # Batches (1.1)
//
// A map's tasks travel as one prototype and its rows: submit's proto (a
// Task without args) and rows (a CBOR array of the tasks' args lists),
// so a batch of 10,000 tasks costs one task's JSON and one CBOR array
// rather than 10,000 tasks' JSON and base64. A result request with packed
// gets the plain values of its outcomes as one CBOR array (values, count
// elements) and the others (errors, task and command results) with their
// index in others. A client uses them only with a controller whose info
// says 1.1 or later (Client.Rows); a 1.0 controller ignores the fields.
//
// # Run and wait (1.2)
//
// run_wait queues one task, as a submit of it would, and answers when the
// task has finished, with its id and its outcome (what result would give):
// a blocking run (Run then Result) costs one round trip to the controller
// instead of two. If the task has not finished within wait_ms (capped and
// floored as result's), the answer is {id, done: false} and the client asks
// result for id. A task the controller refuses gets an error and no id. A
// client uses run_wait only with a controller whose info says 1.2 or later
// (Client.RunWaits); otherwise Client.RunWait submits and asks result.
//
// # Waiting
//
// result and barrier long-poll: the controller waits up to wait_ms (at
// least 50ms, at most Config.MaxWait, 10s by default) and answers
// {"done": false} if the tasks have not finished; the client asks again
// until they have or its ctx ends. A result response that would exceed the
// NATS max payload holds only the first outcomes; the client asks for the
// rest. A single result larger than the max payload is an error of kind
// Internal, type TooLarge, naming its size (the JetStream object store is
// not used yet). engine_call waits up to its wait_ms (at most
// Config.MaxCallWait, 5 minutes): the call runs in the engine's command
// order, behind the attempts already assigned to it.
//
// # Hostile input
//
// Every request gets an answer: malformed JSON or CBOR, wrong types,
// values nested too deep or with too many elements, unknown task kinds,
// ids or engines, batches of more than Config.MaxIDs tasks or ids, more
// than Config.MaxWaiters waiting requests, engine calls asking for a
// larger step budget than Config.MaxStepBudget (0 by default: clients
// cannot raise the engines' budgets) all get an error; a panic in a handler
// becomes an Internal error. A request whose reply subject is not under
// _INBOX. (Config.ReplyPrefix) is dropped with a log line, so that nobody
// can make the controller publish on an engine's subject.
package controlapi
