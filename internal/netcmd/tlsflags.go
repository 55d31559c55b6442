package netcmd

import (
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/drover-dev/drover/fabric"
)

// TLSOptions are the TLS flags of engines and clients (also of drover shell
// and drover run with --connect): a client
// certificate (mutual TLS, for a controller started with
// --tls-verify-clients) and the certificate authorities that signed the
// server's certificate.
type TLSOptions struct {
	cert, key, ca string
}

// AddFlags registers --tls-cert, --tls-key and --tls-ca on f.
func (t *TLSOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&t.cert, "tls-cert", "", "client certificate (PEM), for a controller that verifies clients (--tls-verify-clients); overrides the connection file's")
	f.StringVar(&t.key, "tls-key", "", "the key of --tls-cert (PEM)")
	f.StringVar(&t.ca, "tls-ca", "", "certificate authorities (PEM) that signed the server's certificate (a tls:// URL to a private CA); overrides the connection file's")
}

// Check validates the flags; its errors are usage errors.
func (t *TLSOptions) Check() error {
	if (t.cert == "") != (t.key == "") {
		return usage("--tls-cert and --tls-key go together")
	}
	return nil
}

// Files returns the TLS files the flags name, with absolute paths, or nil
// when none is given (for fabric.ConnectOptions.TLS).
func (t *TLSOptions) Files() (*fabric.TLSFiles, error) {
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
