package testcluster

import (
	"errors"
	"syscall"
)

// sysProcAttr makes the kernel kill a component when the process that
// started it dies, so a test binary that crashes, times out or is killed
// does not leave an API server and etcd running behind it. Strictly, the
// signal comes when the OS thread that started the child ends; the Go
// runtime ends a thread only when a goroutine that locked it returns, which
// is rare enough that in practice the signal comes when the process dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// processAlive reports whether a process with the given id exists. A
// recycled id makes a dead owner look alive, which only delays a cleanup.
func processAlive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
