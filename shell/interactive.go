package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"

	"github.com/ergochat/readline"

	"github.com/drover-dev/drover/bgjob"
	"github.com/drover-dev/drover/script"
)

// runInteractive is the line-editing shell.
func (sh *shell) runInteractive(ctx context.Context, interrupts <-chan os.Signal) error {
	hist, err := openHistory(sh.cfg.HistoryFile, sh.cfg.HistoryLimit)
	if err != nil {
		fmt.Fprintf(sh.cfg.Stderr, "drover: no history: %v\n", err)
	}
	defer hist.close()
	var onResize func()
	rl, err := readline.NewFromConfig(&readline.Config{
		Prompt: PS1,
		// The shell keeps the history (history.go): whole statements,
		// indentation intact.
		HistoryLimit:           sh.cfg.HistoryLimit,
		DisableAutoSaveHistory: true,
		AutoComplete:           completer{sh: sh},
		InterruptPrompt:        "^C",
		EOFPrompt:              "\n", // readline's spelling of "print nothing but the newline"
		Stdin:                  newPasteReader(sh.cfg.Stdin),
		Painter:                hidePasteBlank,
		Stdout:                 sh.cfg.Stdout,
		Stderr:                 sh.cfg.Stderr,
		FuncIsTerminal:         func() bool { return true },
		// Called once, synchronously, by NewFromConfig; watch then calls
		// the callback on SIGWINCH (instead of readline's own goroutine,
		// which nobody could stop).
		FuncOnWidthChanged: func(f func()) { onResize = f },
	})
	if err != nil {
		return fmt.Errorf("shell: start line editor: %w", err)
	}
	defer rl.Close()
	// Pasted code arrives in brackets (paste.go).
	io.WriteString(sh.cfg.Stdout, bracketedPasteOn)
	defer io.WriteString(sh.cfg.Stdout, bracketedPasteOff)
	sh.progress = NewProgressLine(rl.Stdout(), func() int { return TermWidth(sh.cfg.Stdout) }, sh.cfg.ProgressDelay)
	sh.out, sh.errw = sh.progress.Writer(rl.Stdout()), sh.progress.Writer(rl.Stderr())

	sh.notify = NewNotifier(sh.out)
	defer sh.notify.Close()
	if err := sh.newSession(sh.notify.Notify); err != nil {
		return err
	}
	defer sh.closeSession(ctx)

	resize := make(chan os.Signal, 1)
	if sigs := resizeSignals(); len(sigs) > 0 {
		signal.Notify(resize, sigs...)
		defer signal.Stop(resize)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		sh.watch(ctx, watchers{
			interrupts: interrupts,
			onCancel:   func() { rl.Close() },
			resize:     resize,
			onResize:   onResize,
		}, stop)
	})
	defer func() {
		close(stop)
		wg.Wait()
	}()

	// run runs a complete statement, recording it in the history first
	// (as Python does, so that an interrupted statement can be recalled).
	// It reports whether the user then chose to leave, with the error Run
	// returns.
	run := func(src string) (leave bool, err error) {
		sh.remember(hist, src)
		if _, exit := sh.execute(ctx, src); exit != nil && sh.confirmExit(rl) {
			return true, exitErr(exit)
		}
		return false, nil
	}
	var buf []string
	for {
		if len(buf) == 0 {
			rl.SetPrompt(PS1)
		} else {
			rl.SetPrompt(PS2)
		}
		hist.sync(rl)
		line, err := rl.ReadLine()
		if sh.isStopping() {
			return sh.stopErr(ctx)
		}
		switch {
		case errors.Is(err, readline.ErrInterrupt):
			buf = nil // Ctrl-C at a prompt drops what was typed
			continue
		case errors.Is(err, io.EOF):
			if len(buf) > 0 {
				// Ctrl-D on a continuation line ends the statement.
				src := strings.Join(buf, "\n")
				buf = nil
				if leave, err := run(src); leave {
					return err
				}
				continue
			}
			if sh.confirmExit(rl) {
				return nil
			}
			continue
		case err != nil:
			return fmt.Errorf("shell: read line: %w", err)
		}
		if isPastedBlank(line) {
			// A blank line inside pasted code does not end the block.
			if len(buf) > 0 {
				buf = append(buf, "")
			}
			continue
		}
		if len(buf) == 0 {
			t := strings.TrimSpace(line)
			if t == "" {
				continue
			}
			if strings.HasPrefix(t, "%") {
				sh.remember(hist, t)
				sh.magic(ctx, t)
				continue
			}
		}
		buf = append(buf, line)
		src := strings.Join(buf, "\n")
		// A statement of several lines recalled from the history runs
		// when complete, without the empty line that ends a block typed
		// line by line.
		recalled := len(buf) == 1 && strings.Contains(line, "\n")
		if script.IsIncomplete(src) && !(recalled && !script.IsIncomplete(src+"\n")) {
			continue
		}
		buf = nil
		if leave, err := run(src); leave {
			return err
		}
	}
}

// remember adds a statement to the history, reporting (once) a history file
// that cannot be written.
func (sh *shell) remember(h *history, entry string) {
	if err := h.add(entry); err != nil && !sh.historyFailed {
		sh.historyFailed = true
		fmt.Fprintf(sh.errw, "drover: %v\n", err)
	}
}

// confirmExit is called on Ctrl-D at an empty primary prompt, and on
// exit(). With no running job (daemon jobs do not count: they are killed
// silently on the way out) it returns true. Otherwise it lists the running
// jobs and asks whether to kill them and exit: "y" or "yes" (any case), or
// Ctrl-D again, says yes; anything else, or Ctrl-C, says no.
func (sh *shell) confirmExit(rl *readline.Instance) bool {
	var running []*bgjob.Job
	for _, j := range sh.sess.Jobs().Running() {
		if !j.Daemon() {
			running = append(running, j)
		}
	}
	if len(running) == 0 {
		return true
	}
	var b strings.Builder
	b.WriteString("Running jobs:\n")
	for _, j := range running {
		fmt.Fprintf(&b, "%d : %s\n", j.Num(), j)
	}
	io.WriteString(sh.out, b.String())
	s := "s"
	if len(running) == 1 {
		s = ""
	}
	rl.SetPrompt(fmt.Sprintf("Kill %d running job%s and exit? [y/N] ", len(running), s))
	rl.DisableHistory()
	answer, err := rl.ReadLine()
	rl.EnableHistory()
	switch {
	case errors.Is(err, io.EOF):
		return true
	case err != nil:
		return false
	}
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}
