//go:build linux

package launcher

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// killAndReap kills our unreaped child pid (so the pid cannot have been
// reused) and reaps it, and describes how it ended.
func killAndReap(pid int) string {
	_ = unix.Kill(pid, unix.SIGKILL)
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
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
