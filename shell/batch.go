package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/drover-dev/drover/script"
)

// inputLine is one line read by the batch reader, or the error that ended
// the input.
type inputLine struct {
	text string
	err  error
}

// runBatch is the non-interactive shell: no prompts, no line editing, no
// notices. Ctrl-C stops the shell (ErrInterrupted); at the end of input, or
// after exit(), it waits for the running non-daemon jobs.
func (sh *shell) runBatch(ctx context.Context, interrupts <-chan os.Signal) (err error) {
	sh.out, sh.errw = sh.cfg.Stdout, sh.cfg.Stderr
	if err := sh.newSession(nil); err != nil {
		return err
	}
	defer sh.closeSession(ctx)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		sh.watch(ctx, watchers{interrupts: interrupts, stopOnInterrupt: true}, stop)
	})
	defer func() {
		close(stop)
		wg.Wait()
	}()

	// The reader goroutine is joined when the input ends. If the shell is
	// stopped (Ctrl-C, ctx) while it is blocked in a Read, it cannot be
	// interrupted; it returns at the next line or at the end of the input,
	// and quit keeps it from blocking on the channel.
	lines := make(chan inputLine)
	quit := make(chan struct{})
	readerDone := make(chan struct{})
	go readLines(sh.cfg.Stdin, lines, quit, readerDone)
	defer close(quit)

	failed := false
	var exit *script.SystemExit // set by exit() or quit(): stop reading
	var buf []string
	flush := func() {
		if len(buf) == 0 {
			return
		}
		src := strings.Join(buf, "\n")
		buf = nil
		ok, ex := sh.execute(ctx, src)
		if !ok {
			failed = true
		}
		if ex != nil {
			exit = ex
		}
	}
read:
	for !sh.isStopping() && exit == nil {
		select {
		case <-sh.stopped:
			break read
		case in := <-lines:
			if in.err != nil {
				<-readerDone
				if !errors.Is(in.err, io.EOF) {
					flush()
					return fmt.Errorf("shell: read input: %w", in.err)
				}
				break read
			}
			if len(buf) == 0 {
				t := strings.TrimSpace(in.text)
				if t == "" {
					continue
				}
				if strings.HasPrefix(t, "%") {
					if !sh.magic(ctx, t) {
						failed = true
					}
					continue
				}
			}
			buf = append(buf, in.text)
			if !script.IsIncomplete(strings.Join(buf, "\n")) {
				flush()
			}
		}
	}
	if sh.isStopping() {
		return sh.stopErr(ctx)
	}
	flush()
	if sh.isStopping() {
		return sh.stopErr(ctx)
	}
	if err := sh.waitJobs(ctx); err != nil {
		return err
	}
	if exit != nil {
		return exitErr(exit)
	}
	if failed {
		return ErrStatementFailed
	}
	return nil
}

// stopErr is the error Run returns when the shell was stopped. Stopped by
// Ctrl-C without a terminal, the shell says "KeyboardInterrupt", as Python
// does, unless the interrupted statement has already said it.
func (sh *shell) stopErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !sh.cfg.Interactive && !sh.interruptShown {
		sh.interruptShown = true
		fmt.Fprintln(sh.errw, "KeyboardInterrupt")
	}
	return ErrInterrupted
}

// waitJobs waits for the running non-daemon jobs; Ctrl-C or ctx stops the
// wait (the jobs are then killed by closeSession).
func (sh *shell) waitJobs(ctx context.Context) error {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if !sh.setForeground(cancel) {
		return sh.stopErr(ctx)
	}
	err := sh.sess.Jobs().WaitAll(wctx)
	sh.setForeground(nil)
	if err != nil {
		if sh.isStopping() {
			return sh.stopErr(ctx)
		}
		return fmt.Errorf("shell: wait for jobs: %w", err)
	}
	return nil
}

// readLines sends the lines of r (without their line ending) on lines, then
// the error that ended them (io.EOF at the end), and closes done. It returns
// early when quit is closed.
func readLines(r io.Reader, lines chan<- inputLine, quit <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	br := bufio.NewReader(r)
	for {
		s, err := br.ReadString('\n')
		if s != "" {
			s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
			select {
			case lines <- inputLine{text: s}:
			case <-quit:
				return
			}
		}
		if err != nil {
			select {
			case lines <- inputLine{err: err}:
			case <-quit:
			}
			return
		}
	}
}
