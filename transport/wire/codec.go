package wire

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"

	"github.com/drover-dev/drover/drovertype"
)

// Defaults of Limits.
const (
	// DefaultMaxSize is the largest encoded item (a frame, a task, a value)
	// a Codec encodes or decodes by default: 64 MiB, NATS's largest
	// max_payload. A transport lowers it to its own message limit.
	DefaultMaxSize = 64 << 20
	// DefaultMaxElements is the largest number of elements of one array,
	// and of pairs of one map, a Codec decodes by default.
	DefaultMaxElements = 1 << 20
	// envelopeDepth is the nesting a frame adds around task values (frame,
	// message list, message, Outcome, TaskResult, Results, bignum tag...),
	// with room to spare.
	envelopeDepth = 16
)

// ErrTooLarge is wrapped by the errors of encoding or decoding an item
// larger than Limits.MaxSize.
var ErrTooLarge = errors.New("wire: too large")

// ErrMalformed is wrapped by every decoding error: the input is not the
// CBOR of what was asked for, or breaks a limit, or holds data that is not
// drover's plain data.
var ErrMalformed = errors.New("wire: malformed input")

// Limits bound what a Codec decodes (and encodes: an item larger than
// MaxSize is refused on both sides). Zero fields take their defaults.
type Limits struct {
	// MaxSize is the largest encoded item, in bytes. Default DefaultMaxSize.
	MaxSize int
	// MaxElements bounds the elements of one array and the pairs of one
	// map (at least 16). Default DefaultMaxElements.
	MaxElements int
}

// Codec encodes and decodes drover's data in CBOR with limits. It is safe
// for concurrent use (it holds no mutable state).
type Codec struct {
	maxSize int
	enc     cbor.UserBufferEncMode
	dec     cbor.DecMode
}

// New returns a Codec with the limits lim (nil: defaults). It fails if a
// limit is out of range.
func New(lim *Limits) (*Codec, error) {
	var l Limits
	if lim != nil {
		l = *lim
	}
	switch {
	case l.MaxSize < 0:
		return nil, fmt.Errorf("wire: new codec: Limits.MaxSize is %d, want >= 0", l.MaxSize)
	case l.MaxSize == 0:
		l.MaxSize = DefaultMaxSize
	}
	switch {
	case l.MaxElements < 0 || (l.MaxElements > 0 && l.MaxElements < 16):
		return nil, fmt.Errorf("wire: new codec: Limits.MaxElements is %d, want 0 (default) or >= 16", l.MaxElements)
	case l.MaxElements == 0:
		l.MaxElements = DefaultMaxElements
	}
	enc, err := cbor.EncOptions{
		Sort:          cbor.SortNone,
		ShortestFloat: cbor.ShortestFloatNone, // float64 stays float64 bits on the wire
		BigIntConvert: cbor.BigIntConvertNone, // *big.Int is always a tagged bignum (tag 2 or 3)
		NilContainers: cbor.NilContainerAsEmpty,
		IndefLength:   cbor.IndefLengthForbidden,
		TagsMd:        cbor.TagsAllowed,
		String:        cbor.StringToTextString,
		ByteArray:     cbor.ByteArrayToByteSlice,
	}.UserBufferEncMode()
	if err != nil {
		return nil, fmt.Errorf("wire: new codec: %w", err)
	}
	dec, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  drovertype.MaxValueDepth + envelopeDepth,
		MaxArrayElements: l.MaxElements,
		MaxMapPairs:      l.MaxElements,
		IndefLength:      cbor.IndefLengthAllowed,
		TagsMd:           cbor.TagsAllowed,
		IntDec:           cbor.IntDecConvertSignedOrBigInt,
		BigIntDec:        cbor.BigIntDecodePointer,
		DefaultMapType:   reflect.TypeFor[map[any]any](),
		UTF8:             cbor.UTF8RejectInvalid,
		MapKeyByteString: cbor.MapKeyByteStringForbidden,
		// Unknown struct fields are ignored (a newer peer may add some);
		// data after the item is an error.
	}.DecMode()
	if err != nil {
		return nil, fmt.Errorf("wire: new codec: %w", err)
	}
	return &Codec{maxSize: l.MaxSize, enc: enc, dec: dec}, nil
}

// MaxSize returns the codec's size limit in bytes.
func (c *Codec) MaxSize() int { return c.maxSize }

// marshal appends the encoding of v to buf, refusing items over the limit.
func (c *Codec) marshal(what string, v any, buf *bytes.Buffer) error {
	n := buf.Len()
	if err := c.enc.MarshalToBuffer(v, buf); err != nil {
		buf.Truncate(n)
		return fmt.Errorf("wire: encode %s: %w", what, err)
	}
	if size := buf.Len() - n; size > c.maxSize {
		buf.Truncate(n)
		return &SizeError{What: what, Size: size, Limit: c.maxSize}
	}
	return nil
}

// unmarshal decodes data into v (a pointer to a wire struct or an any).
func (c *Codec) unmarshal(what string, data []byte, v any) error {
	if len(data) > c.maxSize {
		return fmt.Errorf("wire: decode %s: %d bytes, over the limit of %d: %w (%w)", what, len(data), c.maxSize, ErrMalformed, ErrTooLarge)
	}
	if err := c.dec.Unmarshal(data, v); err != nil {
		return fmt.Errorf("wire: decode %s: %w: %w", what, ErrMalformed, err)
	}
	return nil
}

// SizeError reports an encoded item over the size limit. It matches
// ErrTooLarge with errors.Is.
type SizeError struct {
	What  string // what was encoded ("engine frame", "task", ...)
	Size  int    // its encoded size in bytes
	Limit int    // the limit in bytes
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("wire: encode %s: %d bytes, over the limit of %d bytes", e.What, e.Size, e.Limit)
}

// Is makes a *SizeError match ErrTooLarge.
func (e *SizeError) Is(target error) bool { return target == ErrTooLarge }

// MarshalValue encodes plain data (see drovertype.ValidateValue). A value
// that is not plain data is refused with an error naming where it is.
func (c *Codec) MarshalValue(v any) ([]byte, error) {
	if err := checkPlain(v, 0); err != nil {
		return nil, fmt.Errorf("wire: encode value: %w", err)
	}
	var buf bytes.Buffer
	if err := c.marshal("value", v, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// UnmarshalValue decodes plain data encoded by MarshalValue. The result is
// made of nil, bool, int64, *big.Int, float64, string, []byte, []any,
// map[string]any and map[any]any (only when some key is not a string), as
// ValidateValue accepts, nested at most drovertype.MaxValueDepth deep.
func (c *Codec) UnmarshalValue(data []byte) (any, error) {
	var v any
	if err := c.unmarshal("value", data, &v); err != nil {
		return nil, err
	}
	v, err := normalize(v, 0)
	if err != nil {
		return nil, fmt.Errorf("wire: decode value: %w: %w", ErrMalformed, err)
	}
	return v, nil
}

// MarshalTask encodes a task (with its options and recovery chain).
func (c *Codec) MarshalTask(t *drovertype.Task) ([]byte, error) {
	w, err := toTask(t, 0)
	if err != nil {
		return nil, fmt.Errorf("wire: encode task: %w", err)
	}
	var buf bytes.Buffer
	if err := c.marshal("task", w, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// UnmarshalTask decodes a task encoded by MarshalTask. The task is not
// validated (drovertype.Task.Validate): its values are plain data.
func (c *Codec) UnmarshalTask(data []byte) (*drovertype.Task, error) {
	var w wTask
	if err := c.unmarshal("task", data, &w); err != nil {
		return nil, err
	}
	t, err := w.task(0)
	if err != nil {
		return nil, fmt.Errorf("wire: decode task: %w: %w", ErrMalformed, err)
	}
	return t, nil
}

// MarshalResult encodes the end of a task as a client sees it: its value
// (plain data, a *drovertype.TaskResult or a *drovertype.CommandResult) and
// its error (nil on success).
func (c *Codec) MarshalResult(value any, err *drovertype.TaskError) ([]byte, error) {
	var w wResult
	if e := w.set(value, err); e != nil {
		return nil, fmt.Errorf("wire: encode result: %w", e)
	}
	var buf bytes.Buffer
	if e := c.marshal("result", &w, &buf); e != nil {
		return nil, e
	}
	return buf.Bytes(), nil
}

// UnmarshalResult decodes what MarshalResult encoded.
func (c *Codec) UnmarshalResult(data []byte) (any, *drovertype.TaskError, error) {
	var w wResult
	if err := c.unmarshal("result", data, &w); err != nil {
		return nil, nil, err
	}
	v, te, err := w.get()
	if err != nil {
		return nil, nil, fmt.Errorf("wire: decode result: %w: %w", ErrMalformed, err)
	}
	return v, te, nil
}
