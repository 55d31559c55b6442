// Package natstransport is drover's transport over NATS: the controller
// end and the engine ends of package transport, on *nats.Conn connections
// the caller supplies (the fabric builds them, with authentication and
// TLS). It passes the conformance suite of package transporttest.
//
// # Subjects
//
// With the prefix P (Config.Prefix, default "drover"; one controller per
// prefix) and an engine's key K (Config.Key: the identity the fabric gives
// the engine's connection, one subject token):
//
//	P.eng.K.in   controller → engine K: frames of transport.ToEngine
//	P.ctl.eng.K  engine K → controller: frames of transport.FromEngine,
//	             heartbeats, goodbye
//
// The controller end subscribes to P.ctl.eng.* and sets FromEngine.From to
// the K of the subject a frame came on, never to anything in the payload:
// with the fabric's permissions (engine K may publish only to P.ctl.eng.K
// and subscribe only to P.eng.K.in), an engine cannot speak for another.
// An engine end's address (Addr) is its key.
//
// # Frames
//
// Each NATS message is one frame, encoded in CBOR by package wire: a data
// frame carries a batch of transport messages; control frames carry none
// (heartbeat, close from an engine; sync, reset, closed from the
// controller; nack from either). Every Send publishes its messages at once, in one frame (or
// several when they do not fit in MaxMessageSize): there is no timer and
// no goroutine per message. Batching comes from the callers, which already
// gather what is ready (the controller sends everything its loop produced
// for an engine in one Send; an engine sends its outcomes when its queue
// runs dry or half its window is done), and from the NATS client, which
// writes everything published since its last write in one system call.
// A short queue is thus sent at once, and a long one in large frames.
//
// # Sessions
//
// NATS core delivers at most once: a frame published while a connection
// is down, or while the receiver's subscription is not yet back on a
// restarted server or another node of a cluster, is lost. The transport
// makes the sessions reliable over it: a lost frame is asked for and sent
// again, and only when that is impossible does the session end, so that
// a lost frame never hangs a task, and a short outage or failover loses
// nothing.
//
// An engine end works in sessions: a session has a random 64-bit id
// chosen by the engine end, starts with a frame 1 that begins with the
// engine's Register, and numbers the data frames of each direction 1, 2,
// 3, ... Every frame carries its session. Every frame from the engine
// carries in Ack the number of the last controller data frame it received
// in sequence; so do the controller's data, sync and nack frames for the
// engine's frames. A heartbeat (every HeartbeatInterval, and at once when
// the engine's connection comes back) also carries in Seq the number of
// the last data frame the engine sent.
//
// Each end keeps the data frames it sent and the other side has not
// acknowledged, at most ResendFrames frames and ResendBytes bytes
// (defaults 1024 and 4 MiB; past either bound the oldest are dropped,
// and so is a frame larger than ResendBytes alone), and drops them when
// an acknowledgement covers them. An acknowledgement of frames never sent
// is ignored, with a log line. The controller answers a heartbeat with a
// sync frame (Seq: its last data frame sent; Ack: the last engine frame
// received) when the heartbeat's Ack is behind what the controller sent,
// or when the engine's frames are not acknowledged yet: an idle engine's
// frames are acknowledged within one heartbeat; a busy one's by the
// controller's next data frame.
//
// A receiver accepts data frames only in sequence. It drops a duplicate
// (a frame sent again that it had already) and a frame out of sequence
// (go-back-N: the frames after a lost one are sent again with it); when
// it finds frames missing (a frame out of sequence, a heartbeat or sync
// whose Seq is beyond what arrived) it sends a nack frame: Seq is the
// first frame missing, and the frames before it are acknowledged. It asks
// at once, then again at most once per quarter interval for the same
// frame (when frames keep arriving out of sequence), and while frames are
// missing again at each heartbeat (engine end) or each loss check, every
// half interval (controller end), since the nack or the frames sent again
// may be lost too. The sender of the missing frames
// then publishes again every frame it keeps from Seq on, in order, before
// any later frame; it serves the same request at most once per eighth of
// an interval (a repeat sooner is ignored). A nack for frames never sent,
// for frames already acknowledged, or of another session is dropped with
// a log line (rate-limited); the session goes on. A failed publish of a
// data frame that is kept is not an error: the frame is as if lost on the
// way and is sent again when asked for.
//
// The controller end drops (with a log line, rate-limited) a frame from a
// key that never registered, an old or forged session, a malformed frame;
// a frame 1 beginning with a Register opens a new session (ending the
// key's previous one); a sender whose session is unknown is sent a reset.
// It reports an engine's session lost, with a FromEngine whose Lost is
// set, queued after every message already received from it, when:
//
//   - the engine end closes (its Close frame; the frames it sent that did
//     not arrive before it are lost with the session);
//   - nothing came from the engine for MissedHeartbeats intervals (default
//     3 × 1 s, checked every half interval; time during which the
//     controller's own connection is down does not count, and the count
//     starts again when it comes back);
//   - the engine asked for frames the controller no longer keeps (its
//     resend buffer overflowed while they were lost);
//   - frames from the engine are missing and did not come, although asked
//     for, within 2 × MissedHeartbeats intervals of the gap being found
//     or last narrowed (not counting the controller's own outage): the
//     engine no longer keeps them, or does not answer nacks (an engine end
//     of an earlier release drops them as malformed frames);
//   - the engine opened a new session (it re-registered);
//   - a publish to the engine of a frame not kept failed, or its messages
//     could not be sent;
//   - the controller end's backlog is full (see below).
//
// After Lost the key is unknown (Send fails with transport.ErrUnknownAddr)
// until the engine registers again, which the controller package treats
// as a new engine: a new EngineID (ids are never reused), and the lost
// engine's attempts failed with EngineLost, retried elsewhere when they
// have retries left. Frames of the lost session that arrive later are
// dropped: a stale engine is never confused with its successor.
//
// An engine end abandons its session when the controller sends it a reset
// for it, when the controller asks for frames the engine no longer keeps,
// or when frames from the controller are missing and did not come, though
// asked for, within 2 × MissedHeartbeats intervals (not counting the
// engine's own outage). It then queues for its engine a Cancel (kind
// EngineLost) of every attempt it handed to it in that session, drops the
// Outcomes and Replies of that session's attempts and calls when the
// engine sends them, and registers again in a new session with the last
// Register it sent (its properties updated by every Props it sent since).
// After the engine's Bye it does not register again. The engine keeps its
// namespace across a re-registration.
//
// So a lost frame is noticed by the next frame in the same direction or
// within about one heartbeat interval (plus a round trip), and sent
// again: a lost Assign or Outcome neither hangs a task nor runs it twice.
// A task runs twice only when a session ends (its first attempt may
// complete on the engine, unseen), and the controller keeps only one
// result per task. Both connections reconnect by themselves (nats.go
// restores the subscriptions), and the sessions go on.
//
// A controller end that closes sends a closed frame to every engine it
// knows, whose ends close too (their Recv and Send fail with
// transport.ErrClosed, and engine.Serve returns). A controller that dies
// without closing leaves the engines heartbeating; a new controller on the
// same prefix answers them with resets, and they register with it. Closing
// the NATS connection under an end closes the end (without telling the
// other side: the controller finds the engine lost by its heartbeats).
//
// # Limits and flow
//
// MaxMessageSize (default: the server's max_payload, 1 MiB unless
// configured) bounds a frame. A batch larger than that is split into
// frames that fit. A single message that does not fit even alone is not
// sent: an Assign or a Call (controller) is answered at once by the
// controller end itself with a failed Outcome or Reply whose error (kind
// InvalidArgument, type "MessageTooLarge") names its size and the limit,
// and Send returns an error wrapping ErrTooLarge; an Outcome or Reply
// (engine) is sent instead as a failure with that error, and Send
// succeeds, so that the engine keeps serving; any other message too large
// is an error (and, from the controller, loses the engine). Large task
// data through the JetStream object store is not implemented.
//
// The messages an engine sends the controller are bounded by the
// controller's window (attempts outstanding per engine) and calls, so the
// controller end's backlog (messages received, not yet taken by Recv)
// stays small. Against a flood (a misbehaving engine), the backlog is
// bounded by MaxBacklog messages: a data frame arriving when it is full is
// dropped and its engine reported lost (and reset). Before that, the NATS
// client holds the frames not yet handled in its pending buffer (default
// limits 500,000 messages or 64 MiB per subscription); past them it drops
// messages ("slow consumer"), which the sequence numbers find missing and
// have sent again as above.
//
// # Goroutines
//
// Each end has one NATS subscription, whose handler (run by nats.go, one
// frame at a time) decodes frames and queues their messages, and one
// goroutine of its own: the engine end's heartbeat timer, the controller
// end's loss checker (it wakes every half interval). Close stops and
// waits for it and unsubscribes. Neither end closes the NATS connection.
package natstransport
