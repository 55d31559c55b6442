package fabric_test

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/fabric"
)

func TestOverrideTLS(t *testing.T) {
	t.Parallel()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	base := &fabric.TLSFiles{CA: "/file/ca.pem", CAPEM: "PEM", ServerName: "srv"}
	for _, tc := range []struct {
		name       string
		base, over *fabric.TLSFiles
		want       *fabric.TLSFiles
	}{
		{"nil over", base, nil, base},
		{"nil base", nil, &fabric.TLSFiles{CA: "/x/ca.pem"}, &fabric.TLSFiles{CA: "/x/ca.pem"}},
		{"cert only: the file's CA stays", base, &fabric.TLSFiles{Cert: "/c.pem", Key: "/k.pem"},
			&fabric.TLSFiles{CA: "/file/ca.pem", CAPEM: "PEM", ServerName: "srv", Cert: "/c.pem", Key: "/k.pem"}},
		{"CA replaces both", base, &fabric.TLSFiles{CA: "/mine.pem"},
			&fabric.TLSFiles{CA: "/mine.pem", ServerName: "srv"}},
		{"relative paths: made absolute", nil, &fabric.TLSFiles{CA: "ca.pem", Cert: "c.pem", Key: "k.pem", ServerName: "s"},
			&fabric.TLSFiles{CA: abs("ca.pem"), Cert: abs("c.pem"), Key: abs("k.pem"), ServerName: "s"}},
	} {
		got := fabric.OverrideTLS(tc.base, tc.over)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	if base.Cert != "" || base.CA != "/file/ca.pem" {
		t.Errorf("OverrideTLS modified its base: %+v", base)
	}
}
