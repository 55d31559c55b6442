package controlapi

import (
	"encoding/json"
	"testing"

	"github.com/drover-dev/drover/drovertype"
)

// mapBatch returns n wire tasks as the remote client's Map makes them:
// one prototype, each with its own args.
func mapBatch(b *testing.B, n int) []*Task {
	proto := &drovertype.Task{Kind: drovertype.MapTask, FuncName: "noop", Args: []any{}}
	base, err := EncodeTask(proto)
	if err != nil {
		b.Fatal(err)
	}
	ws := make([]Task, n)
	tasks := make([]*Task, n)
	for i := range ws {
		ws[i] = *base
		if ws[i].Args, err = EncodeValue([]any{int64(i)}); err != nil {
			b.Fatal(err)
		}
		tasks[i] = &ws[i]
	}
	return tasks
}

// BenchmarkSubmitCodec: a submit request of 1,000 map tasks, encoded by
// the client and decoded by the server (JSON envelope, CBOR args), per
// task.
func BenchmarkSubmitCodec(b *testing.B) {
	const n = 1000
	tasks := mapBatch(b, n)
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(SubmitRequest{Tasks: tasks}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
	})
	data, _ := json.Marshal(SubmitRequest{Tasks: tasks})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			var req SubmitRequest
			if err := json.Unmarshal(data, &req); err != nil {
				b.Fatal(err)
			}
			for _, w := range req.Tasks {
				if _, err := w.Decode(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
	})
}

// BenchmarkSubmitRowsCodec: the same 1,000 map tasks as a prototype and
// rows (API 1.1), per task: rows encoded by the client, the request
// decoded into tasks by the server.
func BenchmarkSubmitRowsCodec(b *testing.B) {
	const n = 1000
	proto, err := EncodeTask(&drovertype.Task{Kind: drovertype.MapTask, FuncName: "noop", Args: []any{}})
	if err != nil {
		b.Fatal(err)
	}
	proto.Args = nil
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int64(i)}
	}
	encode := func() []byte {
		buf := appendArrayHeader(nil, n)
		for _, r := range rows {
			e, err := codec.MarshalValue(r)
			if err != nil {
				b.Fatal(err)
			}
			buf = append(buf, e...)
		}
		data, err := json.Marshal(SubmitRequest{Proto: proto, Rows: buf})
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			encode()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
	})
	data := encode()
	s := &Server{cfg: Config{MaxIDs: DefaultMaxIDs}}
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			var req SubmitRequest
			if err := json.Unmarshal(data, &req); err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.mapTasks(&req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
	})
}

// BenchmarkPackedResultCodec: the same 1,000 values as a packed result
// response (API 1.1), per task.
func BenchmarkPackedResultCodec(b *testing.B) {
	const n = 1000
	values, errs := make([]any, n), make([]error, n)
	for i := range values {
		values[i] = int64(i)
	}
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, ok := packResults(values, errs, 1<<20); !ok {
				b.Fatal("does not fit")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
	})
	data, _ := packResults(values, errs, 1<<20)
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			var resp ResultResponse
			if err := json.Unmarshal(data, &resp); err != nil {
				b.Fatal(err)
			}
			outs, err := resp.unpack()
			if err != nil {
				b.Fatal(err)
			}
			for i := range outs {
				if _, err := outs[i].Decode(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
	})
}

// BenchmarkResultCodec: a result response of 1,000 int64 values, encoded
// by the server and decoded by the client, per task.
func BenchmarkResultCodec(b *testing.B) {
	const n = 1000
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			outs := make([]Outcome, n)
			for i := range outs {
				outs[i] = EncodeOutcome(int64(i), nil)
			}
			if _, err := json.Marshal(ResultResponse{Done: true, Results: outs}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
	})
	outs := make([]Outcome, n)
	for i := range outs {
		outs[i] = EncodeOutcome(int64(i), nil)
	}
	data, _ := json.Marshal(ResultResponse{Done: true, Results: outs})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			var resp ResultResponse
			if err := json.Unmarshal(data, &resp); err != nil {
				b.Fatal(err)
			}
			for i := range resp.Results {
				if _, err := resp.Results[i].Decode(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
	})
}
