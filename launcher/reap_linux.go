//go:build linux

package launcher

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// kill sends SIGKILL to the trampoline. Through the pidfd it cannot reach
// another process, even if a reaper of the caller's reaped the trampoline
// already and its pid was reused; without a pidfd the pid is signalled.
func (c *child) kill() {
	if c.pidfd >= 0 {
		_ = unix.PidfdSendSignal(c.pidfd, unix.SIGKILL, nil, 0)
		return
	}
	_ = unix.Kill(c.pid, unix.SIGKILL)
}

// killAndReap kills the trampoline and reaps it, and describes how it
// ended.
func (c *child) killAndReap() string {
	c.kill()
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(c.pid, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return "not reaped: " + err.Error() // ECHILD: someone else reaped it
		}
		return describeStatus(ws)
	}
}

func describeStatus(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return "signal: " + ws.Signal().String()
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}
