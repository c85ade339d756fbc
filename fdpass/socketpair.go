//go:build linux

package fdpass

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// SocketPair returns the two ends of a connected AF_UNIX SOCK_SEQPACKET
// socket pair, each close-on-exec and registered with the Go netpoller so
// deadlines and goroutines work. The caller owns both and closes them.
func SocketPair() (*net.UnixConn, *net.UnixConn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("make socket pair: %w", os.NewSyscallError("socketpair", err))
	}
	a, err := unixConn(fds[0], "fdpass-a")
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("make socket pair: %w", err)
	}
	b, err := unixConn(fds[1], "fdpass-b")
	if err != nil {
		a.Close()
		return nil, nil, fmt.Errorf("make socket pair: %w", err)
	}
	return a, b, nil
}

// unixConn turns a nonblocking, close-on-exec unix socket into a
// *net.UnixConn and closes fd (net.FileConn works on a duplicate, made with
// F_DUPFD_CLOEXEC). Because fd is already nonblocking, os.NewFile does not
// mark the File as one it made nonblocking, so the Fd call inside
// net.FileConn leaves the shared O_NONBLOCK flag alone.
func unixConn(fd int, name string) (*net.UnixConn, error) {
	f := os.NewFile(uintptr(fd), name)
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("%w: %T is not a unix socket", ErrInvalid, c)
	}
	return uc, nil
}

// PeerCred returns the kernel's credentials of the process at the other end
// of conn (SO_PEERCRED): the pid, uid and gid it had when it connected (or
// when the socket pair was made). They cannot be forged by the peer.
func PeerCred(conn *net.UnixConn) (unix.Ucred, error) {
	if conn == nil {
		return unix.Ucred{}, fmt.Errorf("read peer credentials: %w: nil connection", ErrInvalid)
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return unix.Ucred{}, fmt.Errorf("read peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var serr error
	if err := rc.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return unix.Ucred{}, fmt.Errorf("read peer credentials: %w", err)
	}
	if serr != nil {
		return unix.Ucred{}, fmt.Errorf("read peer credentials: %w", os.NewSyscallError("getsockopt SO_PEERCRED", serr))
	}
	return *cred, nil
}
