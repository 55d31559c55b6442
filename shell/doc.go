// Package shell is drover's interactive Starlark shell: a read-eval-print
// loop over a script.Session, on github.com/ergochat/readline.
//
// The shell prints the repr of an expression statement's value (None is not
// printed) and keeps it in `_`; errors print their Starlark backtrace on
// standard error and the shell goes on. Lines that start with `%` are magics:
// %bg EXPR, %bg !COMMAND, %jobs, %kill N, %help. When a background job
// finishes, a notice line such as
//
//	[job 3 completed] fib(25)
//
// is written above the prompt without disturbing the line being typed (see
// FormatNotice for the exact forms).
//
// Ctrl-C interrupts the running statement (also a busy loop) and keeps the
// shell; at the prompt it clears the line. Ctrl-D on an empty line exits,
// first listing the running jobs and asking before it kills them.
//
// When its input is not a terminal (Config.Interactive false) the shell reads
// lines without prompts, line editing, history or notices, runs them as it
// would interactively, and at the end of input waits for the running
// non-daemon jobs, like `drover run`.
package shell
