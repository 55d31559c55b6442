package cli

import (
	"github.com/spf13/cobra"

	"github.com/drover-dev/drover"
	"github.com/drover-dev/drover/script"
)

// sessionOptions are the flags of the commands that open a Starlark
// session (the shell and run): the in-process task farm's.
type sessionOptions struct {
	farm farmOptions
}

// addFlags registers the session flags on cmd.
func (o *sessionOptions) addFlags(cmd *cobra.Command) {
	o.farm.addFlags(cmd)
}

// config returns the session configuration for these options, with argv as
// the script's argv and farm (if not nil) behind tc.
func (o *sessionOptions) config(argv []string, farm drover.Client) script.Config {
	c := script.Config{Args: argv}
	if farm != nil {
		c.Tasks = farmClient{farm}
	}
	return c
}
