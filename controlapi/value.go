package controlapi

import (
	"fmt"
	"math/big"

	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/transport/wire"
)

// Task data (args, kwargs, push, results, pulled and pushed values,
// properties) travels in CBOR inside the JSON envelopes (base64, as JSON
// encodes bytes), with package wire's value encoding and limits — the same
// as between the controller and its engines: integers and floats, byte and
// text strings, int64 and *big.Int stay apart; what decodes is exactly the
// plain data of drovertype.ValidateValue; arrays and maps have at most
// wire.DefaultMaxElements elements, values nest at most
// drovertype.MaxValueDepth deep; anything else (other CBOR tags, simple
// values, byte-string or container keys, duplicate keys, invalid UTF-8,
// trailing bytes) is refused. A message is bounded by the NATS max
// payload.
var codec = mustCodec()

func mustCodec() *wire.Codec {
	c, err := wire.New(nil)
	if err != nil {
		panic(err) // the defaults are valid
	}
	return c
}

// EncodeValue encodes a plain value (drovertype.ValidateValue) in CBOR. It
// checks v first; the error (kind InvalidArgument) names what is wrong.
func EncodeValue(v any) ([]byte, error) {
	if err := drovertype.ValidateValue(v); err != nil {
		return nil, err
	}
	b, err := codec.MarshalValue(v)
	if err != nil {
		te := drovertype.NewValueError("cannot encode value: " + err.Error())
		te.Cause = err
		return nil, te
	}
	return b, nil
}

// DecodeValue decodes one CBOR value into plain data. Any other input is
// an error of kind InvalidArgument naming what is wrong (it also matches
// wire.ErrMalformed). It never panics.
func DecodeValue(b []byte) (any, error) {
	v, err := codec.UnmarshalValue(b)
	if err != nil {
		te := drovertype.NewValueError("invalid CBOR value: " + err.Error())
		te.Cause = err
		return nil, te
	}
	return v, nil
}

// DecodeList decodes a CBOR array ([]any); what names it in errors.
func DecodeList(b []byte, what string) ([]any, error) {
	v, err := DecodeValue(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: %w", what, drovertype.NewTypeError(fmt.Sprintf("want a list, got %s", typeName(v))))
	}
	return l, nil
}

// DecodeDict decodes a CBOR map with text keys (map[string]any); what
// names it in errors. An empty map decodes as an empty, non-nil map.
func DecodeDict(b []byte, what string) (map[string]any, error) {
	v, err := DecodeValue(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: %w", what, drovertype.NewTypeError(fmt.Sprintf("want a dict with string keys, got %s", typeName(v))))
	}
	return d, nil
}

// typeName names a decoded value's type for messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "string"
	case []byte:
		return "bytes"
	case []any:
		return "list"
	case map[string]any, map[any]any:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

// encodeChecked encodes a value already validated (wire checks it again,
// cheaply).
func encodeChecked(v any) ([]byte, error) {
	b, err := codec.MarshalValue(v)
	if err != nil {
		te := drovertype.NewValueError("cannot encode value: " + err.Error())
		te.Cause = err
		return nil, te
	}
	return b, nil
}
