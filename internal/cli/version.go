package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print drover's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionLine())
			return err
		},
	}
}

// versionLine is what drover version and drover --version print:
// "drover v0.1.0 (go1.26.0 linux/amd64)".
func versionLine() string { return "drover " + versionString() }

// versionString is the module version of the binary (or "(devel)"), the VCS
// revision when the build recorded one, the Go version and the platform:
// "v0.1.0 (go1.26.0 linux/amd64)", "(devel) 1a2b3c4d5e6f (go1.26.0 linux/amd64)".
func versionString() string {
	v := "(devel)"
	rev, dirty := "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
				if len(rev) > 12 {
					rev = rev[:12]
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if rev != "" && dirty {
		rev += "+dirty"
	}
	if rev != "" && v == "(devel)" {
		v += " " + rev
	}
	return fmt.Sprintf("%s (%s %s/%s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
