package controlapi_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/controlapi"
	"github.com/drover-dev/drover/drovertest"
	"github.com/drover-dev/drover/drovertype"
)

// rowsFarm serves a farm with the Go functions echo (returns its
// argument) and boom (fails), and returns a typed client that has asked
// the controller's version.
func rowsFarm(t testing.TB) (*harness, *controlapi.Client) {
	t.Helper()
	reg := drovertest.Registry(t, map[string]drover.Func{
		"echo": func(_ context.Context, args []any, _ map[string]any) (any, error) { return args[0], nil },
		"boom": func(context.Context, []any, map[string]any) (any, error) { return nil, errors.New("boom") },
	})
	h := serve(t, &drover.Config{Registry: reg}, nil, nil, nil)
	c, err := controlapi.NewClient(h.client.Conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rows() {
		t.Fatal("Rows before Info")
	}
	if _, err := c.Info(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !c.Rows() {
		t.Fatalf("Rows after Info of version %s", controlapi.Version)
	}
	return h, c
}

func wireProto(t *testing.T, fn string) *controlapi.Task {
	t.Helper()
	w, err := controlapi.EncodeTask(&drovertype.Task{Kind: drovertype.MapTask, FuncName: fn, Args: []any{}})
	if err != nil {
		t.Fatal(err)
	}
	w.Args = nil
	return w
}

// TestSubmitRows: a map's tasks as a prototype and rows (API 1.1), in
// several requests (MaxBatch), and their outcomes in packed result
// responses: plain values packed, failures beside them, in order.
func TestSubmitRows(t *testing.T) {
	t.Parallel()
	h, c := rowsFarm(t)
	ctx := t.Context()
	small, err := controlapi.NewClient(h.client.Conn, &controlapi.ClientConfig{MaxBatch: 7})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Info(ctx); err != nil {
		t.Fatal(err)
	}
	rows := make([][]any, 50)
	want := make([]any, 50)
	for i := range rows {
		v := any(int64(i))
		switch i % 5 {
		case 1:
			v = fmt.Sprintf("s%d", i)
		case 2:
			v = nil
		case 3:
			v = map[string]any{"k": []any{1.5, []byte("b")}}
		}
		rows[i], want[i] = []any{v}, v
	}
	ids, failed, err := small.SubmitRows(ctx, wireProto(t, "echo"), rows)
	if err != nil || failed != -1 || len(ids) != len(rows) {
		t.Fatalf("SubmitRows = %v, %d, %v", ids, failed, err)
	}
	// A failing task among them.
	bad, _, err := c.SubmitRows(ctx, wireProto(t, "boom"), [][]any{{int64(0)}})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids[:10:10], append(bad, ids[10:]...)...)
	outs, err := c.Results(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	for i := range outs {
		v, err := outs[i].Decode()
		if i == 10 {
			var te *drovertype.TaskError
			if !errors.As(err, &te) || te.Kind != drovertype.TaskFailed {
				t.Errorf("outcome of boom: %v, %v", v, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("outcome %d: %v", i, err)
		}
		got = append(got, v)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("values (-want +got):\n%s", d)
	}
}

// TestSubmitRowsErrors: malformed prototype-and-rows submits get
// InvalidArgument errors naming what is wrong (and the row at fault), and
// queue nothing.
func TestSubmitRowsErrors(t *testing.T) {
	t.Parallel()
	h, c := rowsFarm(t)
	inv := drovertype.InvalidArgument
	for _, tt := range []struct {
		name, body, want string
		failed           any
	}{
		{"both", `{"tasks":[{"kind":"map","func_name":"echo","args":"gQE="}],"proto":{"kind":"map","func_name":"echo"},"rows":"gIA="}`, "not both", nil},
		{"no rows", `{"proto":{"kind":"map","func_name":"echo"}}`, "go together", nil},
		{"no proto", `{"rows":"gYEB"}`, "go together", nil},
		{"proto args", `{"proto":{"kind":"map","func_name":"echo","args":"gA=="},"rows":"gYEB"}`, "no args", nil},
		{"rows not CBOR", `{"proto":{"kind":"map","func_name":"echo"},"rows":"/w=="}`, "rows", nil},
		{"rows not a list", `{"proto":{"kind":"map","func_name":"echo"},"rows":"AQ=="}`, "want a list, got int", nil},
		{"row not a list", `{"proto":{"kind":"map","func_name":"echo"},"rows":"goEBAg=="}`, "want a list, got int", 1.0},
		{"string proto", `{"proto":{"kind":"string","code":"x = 1"},"rows":"gYEB"}`, "", 0.0},
	} {
		r := h.request(t, "submit", []byte(tt.body))
		r.wantError(t, tt.name, inv, tt.want)
		if r.body["failed"] != tt.failed {
			t.Errorf("%s: failed %v, want %v", tt.name, r.body["failed"], tt.failed)
		}
	}
	n, err := c.QueueCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n != (drovertype.QueueCounts{}) {
		t.Errorf("queued after refused submits: %+v", n)
	}
}
