package wire_test

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/transport/wire"
)

// fuzzLimits are small limits, so that fuzzing reaches them.
var fuzzLimits = &wire.Limits{MaxSize: 1 << 16, MaxElements: 1 << 12}

// allocBound is the most a decode may allocate for an input of n bytes:
// a generous multiple of the input (a one-byte CBOR element becomes an
// interface value, a map entry, a string header...) plus a constant.
func allocBound(n int) uint64 { return uint64(n)*256 + 1<<20 }

// checkAlloc runs decode and fails if it allocated more than allocBound.
func checkAlloc(t *testing.T, data []byte, decode func()) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	decode()
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > allocBound(len(data)) {
		t.Fatalf("decoding %d bytes allocated %d bytes, over the bound %d", len(data), got, allocBound(len(data)))
	}
}

func frameSeeds(f *testing.F, c *wire.Codec) {
	from, to := messages()
	var buf bytes.Buffer
	for i := range from {
		buf.Reset()
		if err := c.AppendEngineFrame(&buf, &wire.EngineFrame{Kind: wire.Data, Session: 3, Seq: uint64(i + 1), Msgs: from[i : i+1]}); err == nil {
			f.Add(append([]byte(nil), buf.Bytes()...))
		}
	}
	for i := range to {
		buf.Reset()
		if err := c.AppendControllerFrame(&buf, &wire.ControllerFrame{Kind: wire.Data, Session: 3, Seq: uint64(i + 1), Msgs: to[i : i+1]}); err == nil {
			f.Add(append([]byte(nil), buf.Bytes()...))
		}
	}
	buf.Reset()
	_ = c.AppendEngineFrame(&buf, &wire.EngineFrame{Kind: wire.Heartbeat, Session: 3, Seq: 4, Ack: 2})
	f.Add(append([]byte(nil), buf.Bytes()...))
	// The acknowledgement and retransmission fields: Ack on controller
	// frames, Nack frames both ways.
	buf.Reset()
	_ = c.AppendEngineFrame(&buf, &wire.EngineFrame{Kind: wire.Nack, Session: 3, Seq: 5, Ack: 4})
	f.Add(append([]byte(nil), buf.Bytes()...))
	for _, k := range []wire.FrameKind{wire.Nack, wire.Sync} {
		buf.Reset()
		_ = c.AppendControllerFrame(&buf, &wire.ControllerFrame{Kind: k, Session: 3, Seq: 7, Ack: 6})
		f.Add(append([]byte(nil), buf.Bytes()...))
	}
	if len(to) > 0 {
		buf.Reset()
		_ = c.AppendControllerFrame(&buf, &wire.ControllerFrame{Kind: wire.Data, Session: 3, Seq: 8, Ack: 1 << 40, Msgs: to[:1]})
		f.Add(append([]byte(nil), buf.Bytes()...))
	}
	f.Add([]byte{})
	f.Add([]byte{0xa2, 0x00, 0x01, 0x01, 0x01})
	f.Add([]byte{0x9f, 0x81, 0x81, 0x81, 0xff})
}

func FuzzDecodeEngineFrame(f *testing.F) {
	c, err := wire.New(fuzzLimits)
	if err != nil {
		f.Fatal(err)
	}
	frameSeeds(f, c)
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr wire.EngineFrame
		var err error
		checkAlloc(t, data, func() { fr, err = c.DecodeEngineFrame(data) })
		if err != nil {
			return
		}
		// What decodes re-encodes, and decodes the same.
		var buf bytes.Buffer
		if err := c.AppendEngineFrame(&buf, &fr); err != nil {
			t.Fatalf("re-encoding a decoded frame: %v", err)
		}
		again, err := c.DecodeEngineFrame(buf.Bytes())
		if err != nil {
			t.Fatalf("decoding a re-encoded frame: %v", err)
		}
		if diff := cmp.Diff(fr, again, cmpOpts, nanEqual); diff != "" {
			t.Fatalf("re-encoded frame differs:\n%s", diff)
		}
	})
}

func FuzzDecodeControllerFrame(f *testing.F) {
	c, err := wire.New(fuzzLimits)
	if err != nil {
		f.Fatal(err)
	}
	frameSeeds(f, c)
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr wire.ControllerFrame
		var err error
		checkAlloc(t, data, func() { fr, err = c.DecodeControllerFrame(data) })
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := c.AppendControllerFrame(&buf, &fr); err != nil {
			t.Fatalf("re-encoding a decoded frame: %v", err)
		}
		again, err := c.DecodeControllerFrame(buf.Bytes())
		if err != nil {
			t.Fatalf("decoding a re-encoded frame: %v", err)
		}
		if diff := cmp.Diff(fr, again, cmpOpts, nanEqual); diff != "" {
			t.Fatalf("re-encoded frame differs:\n%s", diff)
		}
	})
}

func FuzzUnmarshalValue(f *testing.F) {
	c, err := wire.New(fuzzLimits)
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range values() {
		if data, err := c.MarshalValue(v); err == nil {
			f.Add(data)
		}
	}
	if data, err := c.MarshalValue(values()); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		var err error
		checkAlloc(t, data, func() { v, err = c.UnmarshalValue(data) })
		if err != nil {
			return
		}
		re, err := c.MarshalValue(v)
		if err != nil {
			t.Fatalf("re-encoding a decoded value %#v: %v", v, err)
		}
		again, err := c.UnmarshalValue(re)
		if err != nil {
			t.Fatalf("decoding a re-encoded value: %v", err)
		}
		if diff := cmp.Diff(v, again, cmpOpts, nanEqual); diff != "" {
			t.Fatalf("re-encoded value differs:\n%s", diff)
		}
	})
}

func FuzzUnmarshalTask(f *testing.F) {
	c, err := wire.New(fuzzLimits)
	if err != nil {
		f.Fatal(err)
	}
	for _, task := range sampleTasks() {
		if data, err := c.MarshalTask(task); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAlloc(t, data, func() { _, _ = c.UnmarshalTask(data) })
		task, err := c.UnmarshalTask(data)
		if err != nil {
			return
		}
		if _, err := c.MarshalTask(task); err != nil {
			t.Fatalf("re-encoding a decoded task: %v", err)
		}
	})
}

func FuzzUnmarshalResult(f *testing.F) {
	c, err := wire.New(fuzzLimits)
	if err != nil {
		f.Fatal(err)
	}
	if data, err := c.MarshalResult(values(), nil); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAlloc(t, data, func() { _, _, _ = c.UnmarshalResult(data) })
		v, te, err := c.UnmarshalResult(data)
		if err != nil {
			return
		}
		if _, err := c.MarshalResult(v, te); err != nil {
			t.Fatalf("re-encoding a decoded result: %v", err)
		}
	})
}
