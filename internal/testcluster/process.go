package testcluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// stopGrace is how long a component gets to exit after SIGTERM before it is
// killed. The API server drains requests on SIGTERM; a test cluster has
// nothing worth waiting longer for.
const stopGrace = 10 * time.Second

// process is one running component with its output captured in a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	// done is closed when the process has exited and been reaped; waitErr is
	// its exit status, valid once done is closed.
	done    chan struct{}
	waitErr error
}

// startProcess starts binary with args, sending its stdout and stderr to
// logPath. The process is tied to this one: see sysProcAttr.
func startProcess(name, binary, logPath string, args, env []string) (*process, error) {
	return startProcessIn("", name, binary, logPath, args, env)
}

// startProcessIn is startProcess with dir as the working directory ("" for
// this process's).
func startProcessIn(dir, name, binary, logPath string, args, env []string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id of the component.
func (p *process) pid() int { return p.cmd.Process.Pid }

// exitError returns a non-nil error once the process has exited, whatever
// its status: a component of a running cluster never exits on its own.
func (p *process) exitError() error {
	select {
	case <-p.done:
		if p.waitErr != nil {
			return fmt.Errorf("%s exited: %w", p.name, p.waitErr)
		}
		return fmt.Errorf("%s exited", p.name)
	default:
		return nil
	}
}

// stop sends SIGTERM, kills the process if it has not exited after
// stopGrace, and returns once it has been reaped. Its exit status is not an
// error: a component stopped by a signal reports one.
func (p *process) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping %s: %w", p.name, err)
	}
	timer := time.NewTimer(stopGrace)
	defer timer.Stop()
	select {
	case <-p.done:
		return nil
	case <-timer.C:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing %s: %w", p.name, err)
	}
	<-p.done
	return nil
}

// tailBytes bounds how much of a log tail reads: a long-running
// `bosun-dev cluster` accumulates large logs, and the last lines are at the
// end.
const tailBytes = 256 << 10

// tail returns the last n lines of the process's log file.
func (p *process) tail(n int) string { return tailFile(p.logPath, n) }

// tailFile returns the last n lines of the file at path.
func tailFile(path string, n int) string {
	if n <= 0 {
		return ""
	}
	data, err := readEnd(path, tailBytes)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)\n", path, err)
	}
	data = bytes.TrimRight(data, "\n")
	if len(data) == 0 {
		return ""
	}
	start := len(data)
	for i := 0; i < n && start > 0; i++ {
		start = bytes.LastIndexByte(data[:start], '\n')
		if start < 0 {
			start = 0
			break
		}
	}
	if start > 0 {
		start++ // past the newline that ends the preceding line
	}
	return string(data[start:]) + "\n"
}

// readEnd returns at most the last limit bytes of the file at path.
func readEnd(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	offset := max(info.Size()-limit, 0)
	return io.ReadAll(io.NewSectionReader(f, offset, info.Size()-offset))
}
