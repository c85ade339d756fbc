//go:build linux

package fdpass

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// DeclaredCount reads, from a received payload, how many descriptors its
// sender declared. fdpass does not know the header format; the protocol
// layer does. An error rejects the message.
type DeclaredCount func(payload []byte) (int, error)

// Recv reads one message from conn into buf and returns the payload (a
// prefix of buf) and the descriptors that came with it. buf must hold the
// largest message the protocol allows. maxFDs, at most MaxFDs, is how many
// descriptors the caller accepts; the control buffer is sized for exactly
// that many. declared reads the sender's declared count from the payload.
//
// The returned descriptors are close-on-exec (MSG_CMSG_CLOEXEC) and owned by
// the caller. On any error none are returned: every descriptor that arrived
// has been closed. The errors are ErrTruncated (payload larger than buf, or
// more descriptors than the control buffer holds), ErrTooManyFDs (more than
// maxFDs arrived), ErrBadPayload (declared rejected the payload),
// ErrCountMismatch (a *CountError), ErrClosed (the peer closed the
// connection), ErrBadControl, and the connection's own errors (deadline,
// closed conn), each wrapped.
//
// Recv waits through the netpoller and honours conn's read deadline.
func Recv(conn *net.UnixConn, buf []byte, maxFDs int, declared DeclaredCount) (payload []byte, fds []int, err error) {
	switch {
	case conn == nil:
		return nil, nil, fmt.Errorf("receive message: %w: nil connection", ErrInvalid)
	case declared == nil:
		return nil, nil, fmt.Errorf("receive message: %w: nil count function", ErrInvalid)
	case maxFDs < 0 || maxFDs > MaxFDs:
		return nil, nil, fmt.Errorf("receive message: %w: limit %d outside [0, %d]", ErrInvalid, maxFDs, MaxFDs)
	}
	oob := make([]byte, unix.CmsgSpace(4*maxFDs))
	n, oobn, flags, err := recvmsg(conn, buf, oob)
	if err != nil {
		return nil, nil, fmt.Errorf("receive message: %w", err)
	}
	msg := received{payload: buf[:n], flags: flags}
	msg.fds, msg.parseErr = parseRights(oob[:oobn])
	if err := msg.check(len(buf), maxFDs, declared); err != nil {
		closeFDs(msg.fds)
		return nil, nil, fmt.Errorf("receive message: %w", err)
	}
	return msg.payload, msg.fds, nil
}

// recvmsg is one recvmsg(2) through the netpoller, retried on EINTR. When it
// returns an error, no received descriptor is left open.
func recvmsg(conn *net.UnixConn, buf, oob []byte) (n, oobn, flags int, err error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0, 0, 0, err
	}
	var serr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, flags, _, serr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
			if serr != unix.EINTR {
				return serr != unix.EAGAIN
			}
		}
	})
	if err != nil {
		return 0, 0, 0, err
	}
	if serr != nil {
		// unix.Recvmsg can fail after the syscall succeeded, decoding the
		// sender's address; close whatever arrived.
		fds, _ := parseRights(oob[:oobn])
		closeFDs(fds)
		return 0, 0, 0, os.NewSyscallError("recvmsg", serr)
	}
	return n, oobn, flags, nil
}

// received is what one recvmsg delivered.
type received struct {
	payload  []byte
	fds      []int // every descriptor installed, from every SCM_RIGHTS message
	flags    int   // msg_flags
	parseErr error // from parseRights
}

// check validates a received message. It closes nothing: when it returns
// an error, the caller closes m.fds.
func (m received) check(bufLen, maxFDs int, declared DeclaredCount) error {
	switch {
	case m.flags&unix.MSG_CTRUNC != 0:
		return fmt.Errorf("%w: more descriptors than the %d allowed (MSG_CTRUNC)", ErrTruncated, maxFDs)
	case m.flags&unix.MSG_TRUNC != 0:
		return fmt.Errorf("%w: payload larger than the %d-byte buffer (MSG_TRUNC)", ErrTruncated, bufLen)
	case m.parseErr != nil:
		return m.parseErr
	case len(m.payload) == 0 && len(m.fds) == 0:
		return ErrClosed
	case len(m.fds) > maxFDs:
		return fmt.Errorf("%w: %d arrived, %d allowed", ErrTooManyFDs, len(m.fds), maxFDs)
	}
	want, err := declared(m.payload)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	if want != len(m.fds) {
		return &CountError{Declared: want, Received: len(m.fds)}
	}
	return nil
}

// closeFDs closes every descriptor in fds. Errors are ignored: each was a
// valid descriptor the kernel just installed, and there is nothing more to
// do with one that fails to close.
func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
