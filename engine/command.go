package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/drover-dev/drover/drovertype"
)

// drainGrace is how long the engine keeps reading a command's output after
// the command and its process group are gone (a process that left the group
// may still hold the pipes).
const drainGrace = 2 * time.Second

// commandTask runs a command task: argv, or the shell line with the
// engine's shell, in a process group of its own, stdin from /dev/null,
// stdout and stderr captured (up to MaxOutput bytes each). When the command
// exits, whatever is left of its process group is killed (a task leaves no
// processes behind); when ctx ends, the whole group is killed at once. A
// non-zero exit status is a result; a command that cannot start, or that
// was killed because ctx ended, is a failure.
func (e *Engine) commandTask(ctx context.Context, t *drovertype.Task) (any, *drovertype.TaskError) {
	if !e.allowCommands {
		return nil, drovertype.NewTaskError(drovertype.NotAllowed, "NotAllowed",
			fmt.Sprintf("engine %d does not run command tasks (it was started without commands allowed)", e.ID()))
	}
	argv := t.Argv
	if len(argv) == 0 {
		argv = append(append([]string(nil), e.shell...), t.Shell)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = e.dir
	cmd.Env = e.env
	setProcessGroup(cmd)

	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, osError("command: stdout pipe", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, osError("command: stderr pipe", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	startErr := cmd.Start()
	outW.Close()
	errW.Close()
	if startErr != nil {
		outR.Close()
		errR.Close()
		return nil, osError(fmt.Sprintf("command %q", argv[0]), startErr)
	}

	var wg sync.WaitGroup
	var stdout, stderr []byte
	wg.Go(func() { stdout = readCapped(outR, e.maxOutput) })
	wg.Go(func() { stderr = readCapped(errR, e.maxOutput) })

	stop := context.AfterFunc(ctx, func() { killGroup(cmd) })
	waitErr := cmd.Wait()
	stop()
	killGroup(cmd) // what the command left behind
	// Stop reading after a grace period if something outside the group
	// still holds the pipes.
	outR.SetReadDeadline(time.Now().Add(drainGrace))
	errR.SetReadDeadline(time.Now().Add(drainGrace))
	wg.Wait()
	outR.Close()
	errR.Close()

	if ctx.Err() != nil {
		return nil, e.interrupted(ctx)
	}
	code := 0
	if waitErr != nil {
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) {
			return nil, osError(fmt.Sprintf("command %q", argv[0]), waitErr)
		}
		code = exitCode(ee)
	}
	return &drovertype.CommandResult{ExitCode: code, Stdout: stdout, Stderr: stderr}, nil
}

// readCapped reads r to its end (or error), keeping at most max bytes.
func readCapped(r io.Reader, max int) []byte {
	var out []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 && len(out) < max {
			out = append(out, buf[:min(n, max-len(out))]...)
		}
		if err != nil {
			return out
		}
	}
}

// osError is the failure of a command that could not run, with Python's
// name for the OS error.
func osError(what string, err error) *drovertype.TaskError {
	typ := typeOSError
	switch {
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		typ = typeFileNotFound
	case errors.Is(err, fs.ErrPermission):
		typ = typePermissionError
	}
	te := drovertype.NewTaskError(drovertype.TaskFailed, typ, what+": "+err.Error())
	te.Cause = err
	return te
}
