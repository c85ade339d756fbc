//go:build linux

package migrate

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// dupOf returns a close-on-exec duplicate of sc's descriptor and that
// descriptor's own number. It reaches the descriptor through
// SyscallConn().Control, never File or Fd, which would switch a socket
// shared with the Go netpoller to blocking mode (golang/go#43894). The
// caller owns dup.
func dupOf(sc syscall.Conn) (dup, number int, err error) {
	if sc == nil {
		return -1, -1, fmt.Errorf("%w: nil connection", ErrInvalid)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, -1, fmt.Errorf("reach descriptor of %T: %w", sc, err)
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		number = int(fd)
		dup, serr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	})
	if err != nil {
		return -1, -1, fmt.Errorf("reach descriptor of %T: %w", sc, err)
	}
	if serr != nil {
		return -1, -1, fmt.Errorf("duplicate descriptor %d: %w", number, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", serr))
	}
	return dup, number, nil
}
