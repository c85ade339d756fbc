//go:build linux

package supervisor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	// notifyBufSize is the receive buffer: larger than notifyMaxSize, so
	// that a datagram too long for us is read whole and refused with its
	// size, and only a larger one shows as truncated.
	notifyBufSize = 64 << 10
	// notifyMaxFDs is how many descriptors one datagram can carry: the
	// kernel's SCM_MAX_FD. systemd sizes for 768, which never arrive.
	notifyMaxFDs = 253
	// sunPathMax is the longest socket path, sun_path without its NUL.
	sunPathMax = 107
)

// notifySocket receives sd_notify datagrams: the socket a service finds in
// NOTIFY_SOCKET. Senders are told apart by the credentials the kernel
// attaches to every datagram (SO_PASSCRED), never by what they write.
type notifySocket struct {
	path string
	conn *net.UnixConn
	raw  syscall.RawConn
	file os.FileInfo // the socket file bound, so that Close removes only it

	closeOnce sync.Once
	closeErr  error
}

// listenNotify binds a unix SOCK_DGRAM socket at path, an absolute path of
// at most 107 bytes. It creates the missing parent directories (0755, less
// the umask) and removes a stale socket file first (one nobody receives
// on), but refuses to replace a live socket or anything that is not a
// socket. The socket has SO_PASSCRED, so every datagram carries the
// sender's kernel-checked credentials, and mode 0666, so that services
// running as other users can send (if they can reach it: every directory
// above must let them search it). Its descriptor is close-on-exec and
// non-blocking, owned by the returned notifySocket until Close.
func listenNotify(path string) (*notifySocket, error) {
	if !filepath.IsAbs(path) || len(path) > sunPathMax {
		return nil, fmt.Errorf("listen for notifications on %q: want an absolute path of at most %d bytes", path, sunPathMax)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("listen for notifications on %s: %w", path, err)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, fmt.Errorf("listen for notifications on %s: %w", path, err)
	}
	n, err := bindNotify(path)
	if err != nil {
		return nil, fmt.Errorf("listen for notifications on %s: %w", path, err)
	}
	return n, nil
}

// bindNotify binds and sets up the socket; on error nothing is left behind.
func bindNotify(path string) (_ *notifySocket, retErr error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			conn.Close()
			os.Remove(path)
		}
	}()
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	if err := setPassCred(raw); err != nil {
		return nil, err
	}
	// After bind, so the umask cannot narrow it. Until then the socket is
	// at most as open as this.
	if err := os.Chmod(path, 0o666); err != nil {
		return nil, err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	return &notifySocket{path: path, conn: conn, raw: raw, file: fi}, nil
}

func setPassCred(raw syscall.RawConn) error {
	var serr error
	err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	})
	if err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt SO_PASSCRED", serr)
}

// removeStaleSocket removes the socket at path if nobody receives on it. A
// live socket, or a file of another type, is left alone and is an error.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode().Type() != os.ModeSocket:
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err == nil {
		c.Close()
		return fmt.Errorf("%s: another process receives on it", path)
	}
	if !errors.Is(err, unix.ECONNREFUSED) {
		return fmt.Errorf("probe %s: %w", path, err)
	}
	return os.Remove(path)
}

// Path returns the socket's path, for NOTIFY_SOCKET.
func (n *notifySocket) Path() string { return n.path }

// serve reads datagrams until Close, calling handle for each well-formed
// one, in arrival order and one at a time, on serve's goroutine; handle
// owns the message's descriptors. A datagram that is malformed (see
// parseNotify), truncated (MSG_TRUNC: longer than 64 KiB), whose control
// data was truncated (MSG_CTRUNC: the receiver's descriptor limit was hit),
// that came without credentials, or a barrier without exactly one
// descriptor, is dropped with every descriptor that came with it closed,
// and reported to bad (which may be nil) as a *notifyDropError. serve
// returns once Close was called; call it once.
func (n *notifySocket) serve(handle func(notifyMsg), bad func(error)) {
	buf := make([]byte, notifyBufSize)
	oob := make([]byte, notifyOOBSize)
	for {
		m, err := recvNotify(n.raw, buf, oob)
		switch {
		case errors.Is(err, net.ErrClosed):
			return
		case err != nil:
			if bad != nil {
				bad(err)
			}
		default:
			handle(m)
		}
	}
}

// Close closes the socket, which makes serve return (a handle call under
// way finishes first), and removes the socket file if it is still the one
// bound. It may be called more than once; later calls return the first's
// error.
func (n *notifySocket) Close() error {
	n.closeOnce.Do(func() {
		n.closeErr = n.conn.Close()
		if fi, err := os.Lstat(n.path); err == nil && os.SameFile(fi, n.file) {
			if err := os.Remove(n.path); err != nil && n.closeErr == nil {
				n.closeErr = err
			}
		}
	})
	return n.closeErr
}

// notifyOOBSize fits one SCM_CREDENTIALS and notifyMaxFDs descriptors.
var notifyOOBSize = unix.CmsgSpace(unix.SizeofUcred) + unix.CmsgSpace(4*notifyMaxFDs)

// notifyDropError reports a datagram serve dropped. It wraps the reason,
// which wraps errBadNotify.
type notifyDropError struct {
	PID int    // sender, 0 when the datagram had no credentials
	UID uint32 // sender's uid, when PID is set
	FDs int    // descriptors that came with it, all closed
	Err error  // why it was dropped
}

func (e *notifyDropError) Error() string {
	who := "an unknown sender"
	if e.PID > 0 {
		who = fmt.Sprintf("pid %d (uid %d)", e.PID, e.UID)
	}
	return fmt.Sprintf("drop notify datagram from %s with %d descriptors: %v", who, e.FDs, e.Err)
}

func (e *notifyDropError) Unwrap() error { return e.Err }

// recvNotify receives and checks one datagram. buf and oob are the
// payload and control buffers; an oob smaller than notifyOOBSize makes
// more descriptors arrive truncated. The message's descriptors are the
// caller's; on error none is left open.
func recvNotify(raw syscall.RawConn, buf, oob []byte) (notifyMsg, error) {
	n, oobn, flags, err := recvmsgNotify(raw, buf, oob)
	if err != nil {
		return notifyMsg{}, err
	}
	fds, cred, cerr := parseNotifyControl(oob[:oobn])
	m, err := checkNotify(buf[:n], flags, cred, cerr, len(fds))
	if err != nil {
		closeFDs(fds)
		drop := &notifyDropError{FDs: len(fds), Err: err}
		if cred != nil && cred.Pid > 0 {
			drop.PID, drop.UID = int(cred.Pid), cred.Uid
		}
		return notifyMsg{}, drop
	}
	m.FDs = fds
	return m, nil
}

// checkNotify parses a received datagram given what recvmsg said of it.
func checkNotify(payload []byte, flags int, cred *unix.Ucred, cerr error, nfds int) (notifyMsg, error) {
	switch {
	case flags&unix.MSG_TRUNC != 0:
		return notifyMsg{}, fmt.Errorf("%w: payload truncated: longer than %d bytes", errBadNotify, len(payload))
	case flags&unix.MSG_CTRUNC != 0:
		return notifyMsg{}, fmt.Errorf("%w: control data truncated: more descriptors than could be received", errBadNotify)
	case cerr != nil:
		return notifyMsg{}, fmt.Errorf("%w: control data: %w", errBadNotify, cerr)
	case cred == nil || cred.Pid <= 0:
		return notifyMsg{}, fmt.Errorf("%w: no sender credentials", errBadNotify)
	}
	m, err := parseNotify(payload)
	if err != nil {
		return notifyMsg{}, err
	}
	if m.Barrier && nfds != 1 {
		return notifyMsg{}, fmt.Errorf("%w: BARRIER=1 with %d descriptors, want 1", errBadNotify, nfds)
	}
	m.PID, m.UID, m.GID = int(cred.Pid), cred.Uid, cred.Gid
	return m, nil
}

// recvmsgNotify is one recvmsg(2) through the netpoller, retried on
// EINTR, with MSG_CMSG_CLOEXEC. It returns net.ErrClosed (wrapped) once
// the socket is closed. On error no received descriptor is left open.
func recvmsgNotify(raw syscall.RawConn, buf, oob []byte) (n, oobn, flags int, err error) {
	var serr error
	err = raw.Read(func(fd uintptr) bool {
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
		// sender's address: close whatever arrived.
		fds, _, _ := parseNotifyControl(oob[:oobn])
		closeFDs(fds)
		return 0, 0, 0, os.NewSyscallError("recvmsg", serr)
	}
	return n, oobn, flags, nil
}

// parseNotifyControl returns the descriptors of every SCM_RIGHTS message
// and the SCM_CREDENTIALS in oob. On malformed data it still returns the
// descriptors parsed so far, for the caller to close.
func parseNotifyControl(oob []byte) (fds []int, cred *unix.Ucred, err error) {
	for len(oob) > 0 {
		hdr, data, rest, perr := unix.ParseOneSocketControlMessage(oob)
		if perr != nil {
			return fds, cred, perr
		}
		oob = rest
		if hdr.Level != unix.SOL_SOCKET {
			continue
		}
		m := unix.SocketControlMessage{Header: hdr, Data: data}
		switch hdr.Type {
		case unix.SCM_RIGHTS:
			rights, rerr := unix.ParseUnixRights(&m)
			fds = append(fds, rights...)
			if rerr != nil {
				return fds, cred, rerr
			}
		case unix.SCM_CREDENTIALS:
			if cred, err = unix.ParseUnixCredentials(&m); err != nil {
				return fds, nil, err
			}
		}
	}
	return fds, cred, nil
}
