//go:build linux

package launcher

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// writeAll writes b to the stream socket fd. MSG_NOSIGNAL turns a vanished
// peer into EPIPE rather than SIGPIPE, whatever the process does with that
// signal.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.SendmsgN(fd, b, nil, nil, unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("sendmsg", err)
		}
		b = b[n:]
	}
	return nil
}

// readAll reads fd until EOF, and at most limit bytes. ECONNRESET, which a
// unix socket returns when its peer exits with unread data, counts as EOF.
func readAll(fd int, limit int) ([]byte, error) {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ECONNRESET || (err == nil && n == 0):
			return out, nil
		case err != nil:
			return out, os.NewSyscallError("read", err)
		}
		if len(out)+n > limit {
			return out, fmt.Errorf("more than %d bytes", limit)
		}
		out = append(out, buf[:n]...)
	}
}

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
