//go:build linux

package launcher

import (
	"fmt"
	"os"
	"unsafe"

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
	return readAllWith(unix.Read, fd, limit)
}

// readAllRaw is readAll for the trampoline: it blocks in raw read(2)s,
// which keep the runtime's only P on this thread, where read(2) would have
// the runtime start another thread to run what little else it has.
func readAllRaw(fd int, limit int) ([]byte, error) {
	return readAllWith(rawRead, fd, limit)
}

func rawRead(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func readAllWith(read func(int, []byte) (int, error), fd int, limit int) ([]byte, error) {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := read(fd, buf)
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
