// Package shell is drover's interactive Starlark shell: a read-eval-print
// loop over a script.Session, on github.com/ergochat/readline.
//
// The shell prints the repr of an expression statement's value (None is not
// printed) and keeps it in `_`; errors print their Starlark backtrace and
// "Kind: message" (Python's exception names, see script.Classify) on
// standard error and the shell goes on. Lines that start with `%` are magics:
// %bg EXPR, %bg !COMMAND, %jobs, %kill N, %help. When a background job
// finishes, a notice line such as
//
//	[job 3 completed] fib(25)
//
// is written above the prompt without disturbing the line being typed;
// notices of jobs that finish together are coalesced ("[jobs 0-299
// completed]", see FormatNotices).
//
// Ctrl-C interrupts the running statement (also a busy loop, or a wait) and
// keeps the shell, printing the traceback and "KeyboardInterrupt" as
// Python does; at the prompt it clears the line. Ctrl-D on an empty line, or
// exit(), exits, first listing the running jobs that are not daemons and
// asking before it kills them.
//
// The history keeps whole statements (a block of several lines is one
// entry, indentation intact) in a file of Python 3.13's format, and pasted
// code may hold blank lines inside a block (the terminal's bracketed paste
// mode tells pasted lines from typed ones).
//
// When its input is not a terminal (Config.Interactive false) the shell reads
// lines without prompts, line editing, history or notices, runs them as it
// would interactively, and at the end of input waits for the running
// non-daemon jobs, like `drover run`.
package shell
