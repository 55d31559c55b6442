package cli

import (
	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/script"
)

// sessionOptions are the flags of the commands that open a Starlark
// session (the shell and run). Engines, scheduler and connection flags go
// here, with their use in config.
type sessionOptions struct{}

// addFlags registers the session flags on cmd.
func (o *sessionOptions) addFlags(cmd *cobra.Command) {}

// config returns the session configuration for these options, with argv as
// the script's argv.
func (o *sessionOptions) config(argv []string) script.Config {
	return script.Config{Args: argv}
}
