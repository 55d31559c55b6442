package netcmd

import (
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/drover-dev/drover/fabric"
)

// tlsOptions are the TLS flags of engines and clients: a client
// certificate (mutual TLS, for a controller started with
// --tls-verify-clients) and the certificate authorities that signed the
// server's certificate.
type tlsOptions struct {
	cert, key, ca string
}

func (t *tlsOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&t.cert, "tls-cert", "", "client certificate (PEM), for a controller that verifies clients (--tls-verify-clients); overrides the connection file's")
	f.StringVar(&t.key, "tls-key", "", "the key of --tls-cert (PEM)")
	f.StringVar(&t.ca, "tls-ca", "", "certificate authorities (PEM) that signed the server's certificate (a tls:// URL to a private CA); overrides the connection file's")
}

// check validates the flags; its errors are usage errors.
func (t *tlsOptions) check() error {
	if (t.cert == "") != (t.key == "") {
		return usage("--tls-cert and --tls-key go together")
	}
	return nil
}

// files returns the TLS files the flags name, with absolute paths, or nil
// when none is given.
func (t *tlsOptions) files() (*fabric.TLSFiles, error) {
	if t.cert == "" && t.ca == "" {
		return nil, nil
	}
	var tf fabric.TLSFiles
	for _, p := range []struct {
		flag     string
		from, to *string
	}{{"--tls-cert", &t.cert, &tf.Cert}, {"--tls-key", &t.key, &tf.Key}, {"--tls-ca", &t.ca, &tf.CA}} {
		if *p.from == "" {
			continue
		}
		abs, err := filepath.Abs(*p.from)
		if err != nil {
			return nil, usage("%s %s: %v", p.flag, *p.from, err)
		}
		*p.to = abs
	}
	return &tf, nil
}
