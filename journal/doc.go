// Package journal keeps a drover controller's state durable in NATS
// JetStream (file storage), so that a controller restarted on the same
// store loses no accepted task and no result, never reuses a task id, and
// keeps one result per task. A *Journal implements controller.Journal:
// hand it to controller.Config.Journal. A *Lease elects one leader among
// controllers started on the same prefix (a standby waits for it).
//
// # What is kept, and how (prefix P; stream names: P with dots as "_")
//
//   - Accepted tasks, stream P_tasks: one message per Run or RunBatch call
//     (subject P.j.t.<first id>, the tasks' CBOR records framed in one
//     payload, split when over the NATS payload limit), written before Run
//     returns the ids. When every task of a message has its result durable
//     (or was forgotten), a tombstone with a per-message TTL (1 s)
//     replaces it (one message per subject), so a restart reads only the
//     messages with unfinished tasks and the tombstones of the last second:
//     its cost follows the unfinished work, not the history.
//   - Results, stream P_results (direct get allowed): one message per task,
//     subject P.j.r.s.<id> (succeeded) or P.j.r.f.<id> (failed), written
//     with an expected last sequence of 0 over P.j.r.*.<id>: a second
//     result for an id, of either outcome, is refused; the first one is
//     kept. Kept until cleared (a purge of the subject: the space is freed)
//     or dropped by the stream limits (Config.MaxAge, Config.MaxResults).
//     The counts by outcome after a restart are the server's counts of the
//     two subject spaces (a filtered consumer's pending count), not a scan.
//   - Results over the NATS payload limit, object store P_objects (stream
//     OBJ_P_objects; its objects expire after Config.MaxAge, like the
//     results; replicas as the streams'): the encoded result is written as
//     object r.<id>.<random suffix>, then an empty record on the task's
//     result subject (header Drover-Object naming the object), with the
//     same first-result-wins condition; if that record is refused (the
//     task has a result already) the object is deleted. Result reads the
//     object back; Clear deletes it (and its deletion marker) after the
//     record, ClearAll purges the bucket; such results are counted like
//     any other. Recover deletes the objects no record points to (a crash
//     between the object and its record, or a record dropped by
//     Config.MaxResults). A result over Config.MaxObject (64 MiB by
//     default) is written as a failure ResultTooLarge, and one the object
//     store refuses (storage full, ...) as a failure ResultNotStored, each
//     saying why: the controller still serves the value from memory until
//     a restart, and no result is lost silently.
//   - Ids, P.j.m.ids in P_tasks: the first id never reserved, written (with
//     an expected last sequence, so two controllers cannot take the same
//     block) before any id of a block of Config.IDBlock is handed out. A
//     store without it but with results or task records is damaged (its
//     first block lost, say): Recover refuses it (ErrCorrupt) rather than
//     hand out the same ids again.
//   - The low watermark, P.j.m.done in P_tasks: W, the first id of the
//     first task message with a task not settled (every task below W has
//     its result durable, or was forgotten), and a P_tasks sequence at or
//     below every task message at or above W (the messages are written in
//     id order). It is written with an acknowledgement and an expected last
//     sequence when it advances, at most every 100 ms and at Close, and
//     only once what it covers is settled. Recover reads it first, scans
//     P_tasks from that sequence and ignores the task messages below W.
//     This matters after a kill -9 of the server: the file store rebuilds
//     from its block files, where a tombstone, its expiry and the removal
//     of the record it replaced may not be recorded, so the records of
//     finished tasks can come back; without the watermark, a task whose
//     result was cleared or dropped by retention would run again (and its
//     scan would follow the history).
//   - Metadata, P.j.m.meta in P_tasks: the format version and the prefix; a
//     store whose streams exist without it, or with another prefix or a
//     newer format, is refused (ErrForeign). CheckDir checks a store
//     directory before a server is started on it (ErrStoreDir).
//
// # Writing
//
// Task messages are published asynchronously, in id order, and Run waits
// for their acknowledgement. Results are encoded and written by the
// journal's own goroutine as plain NATS publishes (JetStream still checks
// their expected sequence), each group followed by a barrier message
// (P.j.r.b.barrier) that is acknowledged: JetStream numbers the messages
// it stores consecutively and only the journal writes to P_results, so
// when the barrier's sequence is the previous barrier's plus the group's
// size plus one, every result of the group is stored; otherwise each one
// is looked up. Only then are the tasks reported durable (the controller
// answers Result for a task only from then on) and their task messages
// tombstoned.
//
// Recover reads the id reservation, the watermark, the live task messages
// at or above it, looks up the results of their tasks (a task whose result
// is on disk finished just before a crash: it is not queued again) and the
// counts.
//
// # What a kill -9 can still bring back
//
// The watermark covers the tasks below the first unfinished one. A task
// above it that finished and whose result was then cleared (or dropped by
// Config.MaxResults or MaxAge) while an earlier task was still unfinished,
// or within the 100 ms before the watermark's next write, can have its
// record brought back by a kill -9 of the server: with no result on disk,
// Recover takes it for unfinished and it runs again (a second result for
// its id, its earlier one having been cleared). Its id is never reused,
// and a task whose result is still on disk never runs again. A clean
// shutdown (Close, then the server's) leaves nothing of the kind.
package journal
