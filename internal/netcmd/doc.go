// Package netcmd holds drover's commands for the task farm over NATS:
// drover controller, drover engine, drover status, drover engines (and
// drover bench). Each is a constructor of a *cobra.Command that takes an
// IO (standard streams, environment, signals and how to start engine
// processes are injected), so that tests run the commands in-process and,
// for process-level tests, re-execute the test binary.
//
// # Processes
//
// drover controller runs, in one process, an embedded nats-server (package
// fabric/embedded: authentication on by default, drover's auth callout,
// optional TLS) or a connection to an external NATS server (--nats), the
// controller (package controller) on the NATS transport (package
// transport/natstransport), and the control API (package controlapi). It
// writes the engine and client connection files and runs until SIGINT or
// SIGTERM.
//
// drover engine runs one engine process (package engine) connected with
// the engine connection file; with -n N it starts N such processes (the
// same program with -n 1, each in a process group of its own) and
// supervises them: it passes the first SIGTERM or SIGINT on as SIGTERM and
// a second SIGINT as SIGINT, restarts none, and exits when all have
// exited. An engine started before its controller waits for it (the
// connection file, then its servers; --wait bounds it). An engine
// survives its controller: when the controller stops (or its NATS server
// goes away), the engine keeps its connection trying and registers again
// with the next controller on the same prefix. On SIGTERM or SIGINT an
// engine drains: it takes no new task, hands back those queued on it, lets
// the running one finish (for up to --grace, or until a second SIGINT),
// then says goodbye (Bye); a task still running after the grace period is
// stopped and handed back too. Handed-back attempts are queued again by
// the controller without using a retry. Engines and clients take
// --tls-cert, --tls-key and --tls-ca (mutual TLS; a private CA), which
// override the connection file's TLS settings.
//
// drover status and drover engines are clients (drover.Dial; Dial here
// resolves the default connection file with IO.Getenv) that print the
// queue and the engines. drover bench starts a controller in its own
// process and engine processes, and measures throughput and round trips
// as a client over loopback.
//
// # Hooking the commands up
//
// internal/cli adds Controller, Engine, Status, Engines and Bench to its
// root command (its IO is this package's IO) and maps their errors to exit
// statuses (an *ExitError carries ExitFailure or ExitUsage). drover engine
// -n and drover bench start engine processes as IO.Executable with the
// engine command's path under the root ("engine -n 1 ..."), so Engine must
// be a direct child of the root. drover shell and drover run use Dial for
// their --connect flag.
package netcmd
