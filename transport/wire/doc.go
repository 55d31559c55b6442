// Package wire is drover's encoding of its data in CBOR (RFC 8949, with
// github.com/fxamacker/cbor/v2): task values, tasks, results, and the
// frames of the NATS transport. The control API uses it for the task data
// inside its JSON envelopes.
//
// # Values
//
// Plain data (drovertype.ValidateValue) maps to CBOR one to one, so that
// what arrives is what was sent:
//
//	nil                       null
//	bool                      true, false
//	Go integers               integer (major type 0 or 1)
//	*big.Int                  bignum, tag 2 or 3, whatever its size
//	float32, float64          float64 (major type 7)
//	string                    text string (valid UTF-8)
//	[]byte                    byte string
//	[]any                     array
//	map[string]any            map with text keys
//	map[any]any               map (keys: null, bool, integer, float, text)
//
// Decoding gives nil, bool, int64, *big.Int, float64, string, []byte,
// []any, map[string]any and map[any]any: integers that fit in int64 are
// int64 (other Go integer types, and uint64 values up to MaxInt64, come
// back as int64; larger uint64 values as *big.Int); a bignum is always a
// *big.Int, so int64 and *big.Int stay apart; float32 comes back as
// float64; a map whose keys are all strings is a map[string]any (also when
// it was sent as a map[any]any, as the engine's Starlark conversion
// produces it). A nil []any, map or []byte inside a value comes back
// empty. Anything else is refused, when encoding with an error naming
// where the value is, when decoding with ErrMalformed: CBOR tags other
// than bignums (times included), byte-string, array and map keys,
// duplicate keys, invalid UTF-8, indefinite-length items when encoding.
//
// # Limits
//
// A Codec decodes at most Limits.MaxSize bytes, arrays and maps of at most
// Limits.MaxElements elements or pairs, nested at most
// drovertype.MaxValueDepth deep inside task values (and 16 more levels of
// envelope); each is an error wrapping ErrMalformed. A decoding allocates
// memory bounded by a small multiple of its input (the fuzz tests check
// it), since every element takes at least one byte of input.
//
// # Structures
//
// Tasks, results, errors and transport messages are CBOR maps with small
// integer keys, one per field; empty fields are left out; keys are never
// reused for another meaning, and a decoder ignores keys it does not know,
// so that a newer peer may add fields. Times are [seconds, nanoseconds]
// since the Unix epoch (absent: the zero time); durations are integer
// nanoseconds; a TaskError's Cause does not travel. A frame is
//
//	{0: version (1), 1: kind, 2: session, 3: seq, 4: ack, 5: reason, 6: [messages]}
//
// (ack, on controller frames, and the kind nack were added to version 1
// later: an older decoder ignores the one and refuses the other.)
//
// where a message is a map with exactly one key set (1 Register, 2
// Outcome, 3 Reply, 4 Props, 5 Bye from an engine; 1 Registered, 2
// Assign, 3 Cancel, 4 Call, 5 Shutdown to one). Package natstransport
// documents what the frame kinds mean.
package wire
