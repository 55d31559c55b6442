package bgjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Lines and bytes of output a CommandError keeps for the traceback.
const (
	tailLines = 10
	tailBytes = 2048
)

// runCommand runs a command job: it starts the process in its own process
// group with stdout and stderr going to the job's output, waits for it, and
// on ctx's end (Kill) sends SIGTERM to the group, then SIGKILL after
// KillGrace. When the leader has exited, whatever is left of its group is
// killed with SIGKILL, so no process of the job outlives it (a process that
// moved to another process group or session escapes this).
func (j *Job) runCommand(ctx context.Context) (any, error) {
	c := j.cmd
	grace := j.m.cfg.KillGrace
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("command %s: output pipe: %w", j.strform, err)
	}
	c.Stdout, c.Stderr = pw, pw
	setProcessGroup(c)
	err = c.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		if c.Dir != "" {
			// os/exec reports a failed chdir with the executable's name
			// ("fork/exec /bin/sh: no such file or directory"): say
			// what is wrong with the directory, if something is.
			if derr := checkDir(c.Dir); derr != nil {
				return nil, fmt.Errorf("start command %s: directory %s: %w", j.strform, c.Dir, derr)
			}
			return nil, fmt.Errorf("start command %s in directory %s: %w", j.strform, c.Dir, err)
		}
		return nil, fmt.Errorf("start command %s: %w", j.strform, err)
	}

	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(&j.out, pr)
	}()
	exited, reap := waitLeader(c)

	select {
	case <-exited:
	case <-ctx.Done():
		terminateGroup(c.Process)
		t := time.NewTimer(grace)
		select {
		case <-exited:
		case <-t.C:
			signalGroup(c.Process, syscall.SIGKILL)
			<-exited
		}
		t.Stop()
	}
	// The leader has exited but is not reaped yet (on Linux), so its
	// process group id cannot have been reused: kill what is left of it.
	signalGroup(c.Process, syscall.SIGKILL)
	werr := reap()

	// Every writer of the pipe should be dead now; a process that escaped
	// the group may still hold it, so stop reading after the grace delay.
	_ = pr.SetReadDeadline(time.Now().Add(grace))
	<-copied
	pr.Close()

	st := c.ProcessState
	if st == nil {
		return nil, fmt.Errorf("wait for command %s: %w", j.strform, werr)
	}
	j.exitCode = st.ExitCode()
	j.exited = true
	if st.Success() {
		return 0, nil
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return nil, fmt.Errorf("wait for command %s: %w", j.strform, werr)
	}
	ce := &CommandError{Cmd: j.strform, Code: st.ExitCode(), Tail: j.out.lastLines(tailLines, tailBytes)}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		ce.Signal = ws.Signal()
	}
	return nil, ce
}

// checkDir returns why dir cannot be a working directory (the bare errno,
// such as ENOENT or ENOTDIR), or nil.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	if !fi.IsDir() {
		return syscall.ENOTDIR
	}
	return nil
}
