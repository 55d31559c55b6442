package controlapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/controlapi"
	"github.com/drover-dev/drover/drovertest"
	"github.com/drover-dev/drover/drovertype"
	"github.com/drover-dev/drover/fabric"
	"github.com/drover-dev/drover/fabric/embedded"
	"github.com/drover-dev/drover/transport"
)

type harness struct {
	farm   *drover.Farm
	srv    *embedded.Server
	api    *controlapi.Server
	client *fabric.Conn
}

// serve starts a farm, an embedded server and the control API over farm
// (wrapped by wrap, if not nil), and connects a client.
func serve(t testing.TB, cfg *drover.Config, scfg *embedded.Config, acfg *controlapi.Config, wrap func(controlapi.Farm) controlapi.Farm) *harness {
	t.Helper()
	h := &harness{farm: drovertest.NewFarm(t, cfg)}
	var sc embedded.Config
	if scfg != nil {
		sc = *scfg
	}
	sc.DataDir = t.TempDir()
	ctx := t.Context()
	var err error
	if h.srv, err = embedded.Start(ctx, &sc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.srv.Shutdown(context.Background()) })
	var farm controlapi.Farm = h.farm.Controller()
	if wrap != nil {
		farm = wrap(farm)
	}
	if h.api, err = controlapi.New(h.srv.Conn().Conn, farm, acfg); err != nil {
		t.Fatal(err)
	}
	if err := h.api.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.api.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if h.client, err = fabric.Connect(ctx, h.srv.File(fabric.RoleClient), fabric.RoleClient, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.client.Close)
	return h
}

// reply is a decoded response with its micro error header.
type reply struct {
	body map[string]any
	raw  []byte
	code string
}

func (h *harness) request(t *testing.T, op string, body []byte) reply {
	t.Helper()
	m, err := h.client.RequestWithContext(t.Context(), h.client.Subjects.APIOp(op), body)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	var r reply
	r.raw, r.code = m.Data, m.Header.Get("Nats-Service-Error-Code")
	if err := json.Unmarshal(m.Data, &r.body); err != nil {
		t.Fatalf("%s: reply %q is not JSON: %v", op, m.Data, err)
	}
	return r
}

// wantError checks r carries a request error of kind with text containing
// want.
func (r reply) wantError(t *testing.T, what string, kind drovertype.Kind, want string) {
	t.Helper()
	e, _ := r.body["error"].(map[string]any)
	if e == nil {
		t.Errorf("%s: no error in %s", what, r.raw)
		return
	}
	text, _ := e["text"].(string)
	if text == "" {
		text, _ = e["message"].(string)
	}
	if e["code"] != string(kind) || !strings.Contains(text, want) || r.code == "" {
		t.Errorf("%s: error %s (header code %q), want %s containing %q", what, r.raw, r.code, kind, want)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestHostileRequests: malformed, wrong-typed, huge, deep and unknown
// input on every endpoint gets an error reply; the service keeps serving.
func TestHostileRequests(t *testing.T) {
	t.Parallel()
	h := serve(t, &drover.Config{Engines: 1}, nil, &controlapi.Config{MaxIDs: 1000}, nil)
	inv := drovertype.InvalidArgument
	for _, op := range controlapi.Ops() {
		h.request(t, op, []byte(`{"ids":`)).wantError(t, op+" truncated JSON", inv, op+": invalid request")
		h.request(t, op, []byte(`[1,2]`)).wantError(t, op+" array", inv, op+": invalid request")
		h.request(t, op, []byte("\xff\xfe")).wantError(t, op+" binary", inv, op+": invalid request")
		h.request(t, op, []byte(strings.Repeat("[", 100000))).wantError(t, op+" deep JSON", inv, op+": invalid request")
	}
	deepCBOR := append([]byte(strings.Repeat("\x81", 500)), 1)
	bigList := []byte{0x9a, 0x7f, 0xff, 0xff, 0xff}
	for _, tc := range []struct {
		op, body string
		kind     drovertype.Kind
		want     string
	}{
		{"submit", `{"tasks":"x"}`, inv, "cannot unmarshal string"},
		{"submit", `{"tasks":[{"kind":"nope"}]}`, inv, `unknown task kind "nope"`},
		{"submit", `{"tasks":[{"kind":"map","func_name":"f","args":"` + b64(deepCBOR) + `"}]}`, inv, "exceeded max nested level"},
		{"submit", `{"tasks":[{"kind":"map","func_name":"f","args":"` + b64(bigList) + `"}]}`, inv, "exceeded max number of elements"},
		{"submit", `{"tasks":[{"kind":"map","func_name":"f","args":"!!!"}]}`, inv, "illegal base64"},
		{"submit", `{"tasks":[{"kind":"map","func_name":"f"},{"kind":"map"}]}`, inv, "a task function must be a FunctionType"},
		{"submit", `{"tasks":[null]}`, inv, "task must be a Task object!"},
		{"submit", `{"tasks":[` + strings.TrimSuffix(strings.Repeat(`{"kind":"string"},`, 1001), ",") + `]}`, inv, "1001 ids or tasks in one request, more than 1000"},
		{"submit", `{"tasks":[{"kind":"string","depend":{"source":"x"}}]}`, inv, "no depend compiler"},
		{"result", `{"ids":["a"]}`, inv, "cannot unmarshal string"},
		{"result", `{"ids":[1.5]}`, inv, "cannot unmarshal number 1.5"},
		{"result", `{"ids":[` + strings.TrimSuffix(strings.Repeat("1,", 1001), ",") + `]}`, inv, "more than 1000"},
		{"poll", `{"id":"x"}`, inv, "cannot unmarshal"},
		{"poll", `{"id":123456789}`, drovertype.NotFound, "poll: task ID not registered: 123456789"},
		{"abort", `{"id":-1}`, drovertype.NotFound, "No task #-1"},
		{"abort", `{"id":99999999999999999999}`, inv, "cannot unmarshal number"},
		{"barrier", `{"ids":{}}`, inv, "cannot unmarshal object"},
		{"clear", `{"ids":[1],"all":true}`, inv, "give ids or all, not both"},
		{"clear", `{"ids":[-5]}`, drovertype.NotFound, "Cleared 0 results, but no tasks found for ids: -5"},
		{"queue_status", `{"verbose":"yes"}`, inv, "cannot unmarshal string"},
		{"engine_call", `{"engine":0,"op":"rm_rf"}`, inv, `unknown engine call operation "rm_rf"`},
		{"engine_call", `{"engine":42,"op":"keys"}`, drovertype.NotFound, "keys on engine 42"},
		{"engine_call", `{"engine":0,"op":"push","values":"` + b64([]byte{0x81, 0x01}) + `"}`, inv, "values: want a dict"},
		{"engine_call", `{"engine":0,"op":"push","values":"` + b64(deepCBOR) + `"}`, inv, "exceeded max nested level"},
		{"engine_call", `{"engine":0,"op":"execute","code":"def f(:"}`, drovertype.TaskFailed, "SyntaxError"},
	} {
		h.request(t, tc.op, []byte(tc.body)).wantError(t, tc.op+" "+tc.body[:min(len(tc.body), 60)], tc.kind, tc.want)
	}
	// Unknown ids where they are not errors of the request.
	r := h.request(t, "result", []byte(`{"ids":[-3, 7777],"wait_ms":-5}`))
	res, _ := r.body["results"].([]any)
	if r.body["done"] != true || len(res) != 2 || !strings.Contains(string(r.raw), "task ID not registered: 7777") {
		t.Errorf("result of unknown ids: %s", r.raw)
	}
	if r := h.request(t, "barrier", []byte(`{"ids":[-3, 7777]}`)); r.body["done"] != true {
		t.Errorf("barrier of unknown ids: %s", r.raw)
	}
	// An empty body is an empty request.
	if r := h.request(t, "info", nil); r.body["version"] != controlapi.Version {
		t.Errorf("info: %s", r.raw)
	}
	if r := h.request(t, "queue_status", nil); r.body["counts"] == nil {
		t.Errorf("queue_status: %s", r.raw)
	}
	// Unknown fields are ignored (a newer client).
	if r := h.request(t, "spin", []byte(`{"future":1}`)); r.body["error"] != nil {
		t.Errorf("spin with an unknown field: %s", r.raw)
	}
	// Still serving, and the farm still works.
	st, _ := drover.NewStringTask("x = 6 * 7", nil, "x", drover.Options{})
	w, _ := controlapi.EncodeTask(st)
	body, _ := json.Marshal(controlapi.SubmitRequest{Tasks: []*controlapi.Task{w}})
	r = h.request(t, "submit", body)
	var sub controlapi.SubmitResponse
	if err := json.Unmarshal(r.raw, &sub); err != nil || sub.Error != nil || len(sub.IDs) != 1 {
		t.Fatalf("submit: %s", r.raw)
	}
	v, err := h.farm.Result(t.Context(), sub.IDs[0])
	if err != nil || v.(*drover.TaskResult).Results["x"] != int64(42) {
		t.Fatalf("Result = %v, %v", v, err)
	}
}

// TestReplySubject: a request whose reply subject is not an inbox (here an
// engine's subject, which only the controller may publish to) is dropped.
func TestReplySubject(t *testing.T) {
	t.Parallel()
	h := serve(t, &drover.Config{Engines: 1}, nil, nil, nil)
	ctl, err := h.srv.ConnectController(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	target := ctl.Subjects.EngineIn("VICTIM")
	victim, err := ctl.SubscribeSync(target)
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := ctl.SubscribeSync("_INBOX.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.PublishRequest(ctl.Subjects.APIOp("info"), target, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := ctl.Publish(ctl.Subjects.APIOp("info"), []byte("{}")); err != nil { // no reply subject at all
		t.Fatal(err)
	}
	if err := ctl.PublishRequest(ctl.Subjects.APIOp("info"), "_INBOX.test", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := inbox.NextMsgWithContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The requests are served in order: had the first been answered, its
	// reply would be queued on victim already.
	if n, _, _ := victim.Pending(); n != 0 {
		t.Fatalf("%d replies published on %s", n, target)
	}
}

// faulty wraps a Farm and injects faults.
type faulty struct {
	controlapi.Farm
	block   chan struct{} // Results waits for it (or ctx)
	entered chan struct{} // Results signals its calls
}

func (f *faulty) Spin(ctx context.Context) (bool, error) { panic("injected fault") }

func (f *faulty) Results(ctx context.Context, ids []drovertype.TaskID) ([]any, []error, error) {
	select {
	case f.entered <- struct{}{}:
	default:
	}
	select {
	case <-f.block:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("results: %w", ctx.Err())
	}
	return f.Farm.Results(ctx, ids)
}

// TestServerFaults: a panic becomes an Internal error reply; waiting
// requests beyond MaxWaiters are refused; Stop ends the waits in progress.
func TestServerFaults(t *testing.T) {
	t.Parallel()
	var f *faulty
	h := serve(t, &drover.Config{Engines: 1}, nil, &controlapi.Config{MaxWaiters: 1, MaxWait: time.Minute},
		func(farm controlapi.Farm) controlapi.Farm {
			f = &faulty{Farm: farm, block: make(chan struct{}), entered: make(chan struct{}, 1)}
			return f
		})
	h.request(t, "spin", nil).wantError(t, "spin panics", drovertype.Internal, "spin: internal error: injected fault")
	if r := h.request(t, "info", nil); r.body["error"] != nil {
		t.Fatalf("info after a panic: %s", r.raw)
	}
	// One waiter holds the only slot.
	waiting := make(chan *nats.Msg, 1)
	go func() {
		m, err := h.client.RequestWithContext(context.Background(), h.client.Subjects.APIOp("result"), []byte(`{"ids":[1,2],"wait_ms":60000}`))
		if err != nil {
			waiting <- &nats.Msg{Data: []byte(err.Error())}
			return
		}
		waiting <- m
	}()
	<-f.entered
	h.request(t, "result", []byte(`{"ids":[1]}`)).wantError(t, "second waiter", drovertype.Internal, "1 requests are waiting already")
	// Stop: the waiter gets Closed at once.
	if err := h.api.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	m := <-waiting
	if !strings.Contains(string(m.Data), `"code":"Closed"`) {
		t.Fatalf("waiter after Stop: %s", m.Data)
	}
	// After Stop nobody answers.
	if _, err := h.client.Request(h.client.Subjects.APIOp("info"), nil, 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("info after Stop: %v", err)
	}
}

// TestTooLarge: results and replies over the NATS max payload get a clear
// error; a batch of results is cut to fit and the client asks for the
// rest.
func TestTooLarge(t *testing.T) {
	t.Parallel()
	h := serve(t, &drover.Config{Engines: 1}, &embedded.Config{MaxPayload: 64 << 10}, nil, nil)
	ctx := t.Context()
	api, err := controlapi.NewClient(h.client.Conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	big, _ := drover.NewStringTask("s = 'x' * 100000", nil, "s", drover.Options{})
	mid, _ := drover.NewStringTask("s = 'y' * 20000", nil, "s", drover.Options{})
	var tasks []*controlapi.Task
	for _, tk := range []*drover.Task{big, mid, mid, mid, mid} {
		w, _ := controlapi.EncodeTask(tk)
		tasks = append(tasks, w)
	}
	ids, _, err := api.Submit(ctx, tasks)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := api.Results(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := outs[0].Decode(); err == nil || !strings.Contains(err.Error(), "more than the NATS max payload") {
		t.Fatalf("big result: %v", err)
	}
	for _, o := range outs[1:] {
		v, err := o.Decode()
		if err != nil || len(v.(*drovertype.TaskResult).Results["s"].(string)) != 20000 {
			t.Fatalf("mid result: %v", err)
		}
	}
	if n := h.api.Stats(); n.Endpoints == nil {
		t.Fatal("no stats")
	}
	// A reply over the limit.
	_, err = api.Call(ctx, 0, transport.Call{Op: transport.OpExecute, Code: "big = 'z' * 100000"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = api.Call(ctx, 0, transport.Call{Op: transport.OpPull, Names: []string{"big"}, Single: true})
	if err == nil || !strings.Contains(err.Error(), "more than the NATS max payload") || drovertype.KindOf(err) != drovertype.Internal {
		t.Fatalf("big pull: %v", err)
	}
	// A request over the limit is refused by the client.
	huge, _ := drover.NewStringTask(strings.Repeat("#", 100000), nil, nil, drover.Options{})
	w, _ := controlapi.EncodeTask(huge)
	if _, _, err := api.Submit(ctx, []*controlapi.Task{w}); err == nil || !strings.Contains(err.Error(), "more than the NATS max payload") {
		t.Fatalf("huge submit: %v", err)
	}
}
