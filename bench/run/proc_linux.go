package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel send SIGTERM to cmd's process if this one
// dies without stopping it (SIGKILL, a crash), so that no server outlives
// the run.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
