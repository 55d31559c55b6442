package fabric_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drover-dev/drover/fabric"
)

func engineFile() *fabric.ConnFile {
	return &fabric.ConnFile{
		Version: fabric.FileVersion, Role: fabric.RoleEngine, ControllerID: "0123456789abcdef",
		URLs: []string{"nats://127.0.0.1:4222"}, Prefix: "drover", Secret: fabric.NewSecret(),
		TLS: &fabric.TLSFiles{CAPEM: "-----BEGIN CERTIFICATE-----\n..."}, Written: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func TestWriteReadFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, fabric.FileName(fabric.RoleEngine))
	want := engineFile()
	if err := fabric.WriteFile(path, want); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != mode {
			t.Fatalf("%s: mode %v, %v; want %v", p, fi.Mode().Perm(), err, mode)
		}
	}
	got, err := fabric.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Path() != path {
		t.Errorf("Path = %q", got.Path())
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(fabric.ConnFile{})); diff != "" {
		t.Fatalf("read back (-want +got):\n%s", diff)
	}
	// Rewriting replaces the file atomically and leaves no temporary file.
	want.URLs = []string{"tls://h:1", "tls://h:2"}
	if err := fabric.WriteFile(path, want); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("dir holds %v", ents)
	}
	// An invalid file is not written.
	bad := engineFile()
	bad.Version = 9
	if err := fabric.WriteFile(filepath.Join(dir, "bad.json"), bad); !errors.Is(err, fabric.ErrFileVersion) {
		t.Fatalf("WriteFile(bad) = %v", err)
	}
}

func TestReadFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask
			t.Fatal(err)
		}
		return p
	}
	const ok = `{"version":1,"role":"engine","urls":["nats://h:1"],"secret":"s"}`
	seed, _, _ := fabric.NewUserSeed()
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		is            error
		want          string
	}{
		{"world readable", ok, 0o644, fabric.ErrInsecureFile, "its mode is 0644 but it holds credentials and must be private to its owner (chmod 600 "},
		{"group writable", ok, 0o620, fabric.ErrInsecureFile, "chmod 600"},
		{"version 2", `{"version":2,"role":"engine","urls":["nats://h:1"],"secret":"s","new_field":1}`, 0o600, fabric.ErrFileVersion, "version 2, this drover reads version 1"},
		{"version 0", `{"version":0}`, 0o600, fabric.ErrFileVersion, "version 0"},
		{"no version", `{"role":"engine"}`, 0o600, fabric.ErrInvalidFile, "no version"},
		{"not json", `version: 1`, 0o600, fabric.ErrInvalidFile, "invalid character"},
		{"trailing data", ok + ` {}`, 0o600, fabric.ErrInvalidFile, "after top-level value"},
		{"unknown field", `{"version":1,"role":"engine","urls":["nats://h:1"],"secert":"s"}`, 0o600, fabric.ErrInvalidFile, `unknown field "secert"`},
		{"bad role", `{"version":1,"role":"boss","urls":["nats://h:1"]}`, 0o600, fabric.ErrInvalidFile, `role "boss"`},
		{"no urls", `{"version":1,"role":"engine","urls":[]}`, 0o600, fabric.ErrInvalidFile, "no urls"},
		{"bad scheme", `{"version":1,"role":"engine","urls":["http://h:1"]}`, 0o600, fabric.ErrInvalidFile, `scheme "http"`},
		{"credentials in url", `{"version":1,"role":"engine","urls":["nats://me:pw@h:1"]}`, 0o600, fabric.ErrInvalidFile, "credentials in a URL"},
		{"two credentials", `{"version":1,"role":"engine","urls":["nats://h:1"],"secret":"s","token":"t"}`, 0o600, fabric.ErrInvalidFile, "several credentials (secret, token)"},
		{"user without password", `{"version":1,"role":"engine","urls":["nats://h:1"],"user":"u"}`, 0o600, fabric.ErrInvalidFile, "user and password go together"},
		{"bad seed", `{"version":1,"role":"engine","urls":["nats://h:1"],"nkey_seed":"SUxyz"}`, 0o600, fabric.ErrInvalidFile, "nkey_seed"},
		{"bad prefix", `{"version":1,"role":"engine","urls":["nats://h:1"],"prefix":"a.*"}`, 0o600, fabric.ErrInvalidFile, `token "*"`},
		{"keys in engine file", `{"version":1,"role":"engine","urls":["nats://h:1"],"controller":{"issuer_seed":"x"}}`, 0o600, fabric.ErrInvalidFile, "cannot hold the controller's keys"},
		{"bad controller keys", `{"version":1,"role":"controller","urls":["nats://h:1"],"nkey_seed":"` + seed + `","controller":{"issuer_seed":"` + seed + `","engine_secret":"0123456789abcdef","client_secret":"fedcba9876543210"}}`, 0o600, fabric.ErrInvalidFile, "not an account seed"},
		{"tls cert without key", `{"version":1,"role":"engine","urls":["tls://h:1"],"tls":{"cert":"c.pem"}}`, 0o600, fabric.ErrInvalidFile, "cert and key go together"},
	} {
		p := write(strings.ReplaceAll(tc.name, " ", "_")+".json", tc.content, tc.mode)
		_, err := fabric.ReadFile(p)
		if !errors.Is(err, tc.is) || err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: ReadFile = %v\nwant %v containing %q and the path", tc.name, err, tc.is, tc.want)
		}
	}
	if _, err := fabric.ReadFile(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := fabric.ReadFile(dir); err == nil {
		t.Error("a directory: no error")
	}
	// The good one reads.
	if _, err := fabric.ReadFile(write("ok.json", ok, 0o600)); err != nil {
		t.Errorf("ok: %v", err)
	}
}

func TestConnectErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "e.json")
	if err := fabric.WriteFile(p, engineFile()); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, tc := range []struct {
		target string
		role   fabric.Role
		opts   *fabric.ConnectOptions
		is     error
		want   string
	}{
		{p, fabric.RoleClient, nil, fabric.ErrWrongRole, "is the engine connection file, not the client one (drover-client.json)"},
		{p, "boss", nil, nil, `role "boss"`},
		{filepath.Join(dir, "nope.json"), fabric.RoleEngine, nil, os.ErrNotExist, "nope.json"},
		{"nats://u:p@127.0.0.1:1", fabric.RoleClient, nil, fabric.ErrInvalidFile, "credentials in a URL"},
		{"nats://127.0.0.1:1", fabric.RoleClient, &fabric.ConnectOptions{CredentialsFile: p}, nil, "neither a NATS .creds file, a user nkey seed (SU...) nor a token"},
		{"nats://127.0.0.1:1", fabric.RoleClient, &fabric.ConnectOptions{Prefix: "_INBOX"}, nil, "must not start with $ or _INBOX"},
	} {
		_, err := fabric.Connect(ctx, tc.target, tc.role, tc.opts)
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Connect(%q, %s) = %v, want %q", tc.target, tc.role, err, tc.want)
		}
	}
	// A URL with nothing listening: an error naming it, within ctx.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := fabric.Connect(cctx, "nats://127.0.0.1:1", fabric.RoleClient, nil)
	if err == nil || !strings.Contains(err.Error(), "nats://127.0.0.1:1") {
		t.Errorf("Connect(nothing listening) = %v", err)
	}
	// Credentials files must be private.
	seed, _, _ := fabric.NewUserSeed()
	loose := filepath.Join(dir, "seed.nk")
	if err := os.WriteFile(loose, []byte(seed), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(loose, 0o644)
	if _, err := fabric.Connect(ctx, "nats://127.0.0.1:1", fabric.RoleClient, &fabric.ConnectOptions{CredentialsFile: loose}); !errors.Is(err, fabric.ErrInsecureFile) {
		t.Errorf("Connect(loose credentials) = %v", err)
	}
}

// TestDefaultFile: the files of the controller started by this user live
// in drover's state directory (DROVER_STATE_DIR overrides it).
func TestDefaultFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DROVER_STATE_DIR", dir)
	p, err := fabric.DefaultFile(fabric.RoleClient)
	if err != nil || p != filepath.Join(dir, "drover-client.json") {
		t.Fatalf("DefaultFile = %q, %v", p, err)
	}
	_, err = fabric.Connect(t.Context(), "", fabric.RoleClient, nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), p) {
		t.Fatalf("Connect(default) = %v", err)
	}
}

func TestSubjects(t *testing.T) {
	t.Parallel()
	var zero fabric.Subjects
	s, err := fabric.NewSubjects("")
	if err != nil || s != zero && s.Prefix() != "drover" {
		t.Fatalf("NewSubjects(\"\") = %v, %v", s, err)
	}
	s, err = fabric.NewSubjects("farm.one")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{s.EngineIn("K"), s.EngineInAll(), s.EngineOut("K"), s.EngineOutAll(), s.API(), s.APIOp("submit"),
		s.APIAll(), fabric.InboxPrefix("K"), zero.EngineIn("K")}
	want := []string{"farm.one.eng.K.in", "farm.one.eng.*.in", "farm.one.ctl.eng.K", "farm.one.ctl.eng.*", "farm.one.api.v1",
		"farm.one.api.v1.submit", "farm.one.api.>", "_INBOX.K", "drover.eng.K.in"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("subjects (-want +got):\n%s", diff)
	}
	for subj, want := range map[string]string{"farm.one.ctl.eng.K1": "K1", "farm.one.ctl.eng.a.b": "", "farm.one.ctl.eng.": "", "drover.ctl.eng.K": ""} {
		if k, ok := s.EngineKeyOf(subj); k != want || ok != (want != "") {
			t.Errorf("EngineKeyOf(%q) = %q, %v", subj, k, ok)
		}
	}
	for _, p := range []string{"a.", ".a", "a b", "a.>", "$JS", "_INBOX.x", "é"} {
		if _, err := fabric.NewSubjects(p); err == nil {
			t.Errorf("NewSubjects(%q): no error", p)
		}
	}
}

func FuzzParseFile(f *testing.F) {
	b, _ := os.ReadFile("testdata/engine.json")
	f.Add(b)
	f.Add([]byte(`{"version":1,"role":"controller","urls":["nats://h:1"],"controller":{"issuer_seed":"SA"}}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cf, err := fabric.ParseFile(b)
		if err != nil {
			return
		}
		if err := cf.Validate(); err != nil {
			t.Fatalf("ParseFile accepted a file Validate refuses: %v", err)
		}
	})
}
