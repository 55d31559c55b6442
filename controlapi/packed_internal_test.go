package controlapi

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/drovertype"
)

// TestPackResults: a packed response round-trips values and errors in
// order; one that does not fit is refused (the server then answers
// unpacked).
func TestPackResults(t *testing.T) {
	t.Parallel()
	values := []any{int64(1), nil, "x", &drovertype.CommandResult{ExitCode: 3}, map[string]any{"a": []any{true}}}
	errs := []error{nil, nil, drovertype.NewTaskError(drovertype.TaskFailed, "E", "bad"), nil, nil}
	b, ok := packResults(values, errs, 1<<20)
	if !ok {
		t.Fatal("packResults: does not fit")
	}
	var resp ResultResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	outs, err := resp.unpack()
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	for i := range outs {
		v, err := outs[i].Decode()
		if i == 2 {
			var te *drovertype.TaskError
			if !errors.As(err, &te) || te.Message != "bad" {
				t.Errorf("outcome 2: %v", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("outcome %d: %v", i, err)
		}
		got = append(got, v)
	}
	want := []any{int64(1), nil, &drovertype.CommandResult{ExitCode: 3}, map[string]any{"a": []any{true}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("values (-want +got):\n%s", d)
	}
	if _, ok := packResults(values, errs, 10); ok {
		t.Error("packResults fits in 10 bytes")
	}
}

// FuzzUnpack: a packed result response from a hostile controller gives
// outcomes or an error, never a panic.
func FuzzUnpack(f *testing.F) {
	b, _ := packResults([]any{int64(1), "x"}, []error{nil, errors.New("e")}, 1<<20)
	f.Add(b)
	f.Add([]byte(`{"done":true,"count":2,"values":"gQE=","others":[{"index":5,"done":true}]}`))
	f.Add([]byte(`{"done":true,"count":-1,"values":"gA=="}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp ResultResponse
		if json.Unmarshal(data, &resp) != nil {
			return
		}
		outs, err := resp.unpack()
		if err != nil {
			return
		}
		if len(outs) != resp.Count {
			t.Fatalf("%d outcomes for count %d", len(outs), resp.Count)
		}
		for i := range outs {
			_, _ = outs[i].Decode()
		}
	})
}
