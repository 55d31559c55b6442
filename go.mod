module github.com/drover-dev/drover

go 1.26.0

require (
	github.com/creack/pty v1.1.24
	github.com/ergochat/readline v0.1.3
	github.com/google/go-cmp v0.7.0
	github.com/spf13/cobra v1.10.2
	go.starlark.net v0.0.0-20260908191801-89a6a09411d5
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.49.0
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	golang.org/x/text v0.43.0 // indirect
)
