//go:build linux

package fdpass

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// MaxFDs is the most descriptors one message may carry: the kernel's
// SCM_MAX_FD. The kernel refuses a larger SCM_RIGHTS array with EINVAL.
const MaxFDs = 253

// Send writes one message on conn: payload as the record's bytes and fds as
// one SCM_RIGHTS control message. conn should be a SOCK_SEQPACKET socket
// (see SocketPair) so that the payload and its descriptors arrive as one
// record. The descriptors stay owned by the caller: the kernel installs
// copies in the receiver, and Send closes nothing.
//
// Send waits through the netpoller while the socket buffer is full and
// honours conn's write deadline. It refuses an empty payload (ErrEmptyPayload)
// and more than MaxFDs descriptors (ErrTooManyFDs) before any syscall. It
// never calls Fd on conn, so the socket's O_NONBLOCK flag is left alone.
func Send(conn *net.UnixConn, payload []byte, fds []int) error {
	switch {
	case conn == nil:
		return fmt.Errorf("send message: %w: nil connection", ErrInvalid)
	case len(payload) == 0:
		return fmt.Errorf("send message: %w", ErrEmptyPayload)
	case len(fds) > MaxFDs:
		return fmt.Errorf("send %d descriptors: %w (at most %d per message)", len(fds), ErrTooManyFDs, MaxFDs)
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("send message: %w", err)
	}
	var n int
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		n, serr = sendmsg(int(fd), payload, oob)
		return serr != unix.EAGAIN
	})
	if err != nil {
		return fmt.Errorf("send message: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("send message with %d descriptors: %w", len(fds), os.NewSyscallError("sendmsg", serr))
	}
	if n != len(payload) {
		return fmt.Errorf("send message: sent %d of %d bytes", n, len(payload))
	}
	return nil
}

// sendmsg is one sendmsg(2), retried on EINTR. MSG_NOSIGNAL turns a closed
// peer into EPIPE instead of SIGPIPE.
func sendmsg(fd int, payload, oob []byte) (int, error) {
	for {
		n, err := unix.SendmsgN(fd, payload, oob, nil, unix.MSG_NOSIGNAL)
		if err != unix.EINTR {
			return n, err
		}
	}
}
