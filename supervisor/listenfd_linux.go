//go:build linux

package supervisor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// listenBacklog is the backlog of the listening sockets the supervisor opens
// for apps (systemd's Backlog= default is SOMAXCONN, 4096 on Linux 5.4+).
const listenBacklog = 4096

// openListener opens the socket addr names and returns its descriptor:
// close-on-exec, blocking (the app gets it as systemd would give it), owned
// by the caller. addr is "tcp://HOST:PORT" or "udp://HOST:PORT" (bound,
// and for tcp listening), "unix:PATH" (stream) or "unixpacket:PATH"
// (seqpacket), listening. A socket file left at PATH by an earlier run is
// replaced; any other file there is an error.
func openListener(addr string) (int, error) {
	switch {
	case strings.HasPrefix(addr, "tcp://"):
		return listenInet(strings.TrimPrefix(addr, "tcp://"), unix.SOCK_STREAM, addr)
	case strings.HasPrefix(addr, "udp://"):
		return listenInet(strings.TrimPrefix(addr, "udp://"), unix.SOCK_DGRAM, addr)
	case strings.HasPrefix(addr, "unix:"):
		return listenUnix(strings.TrimPrefix(addr, "unix:"), unix.SOCK_STREAM, addr)
	case strings.HasPrefix(addr, "unixpacket:"):
		return listenUnix(strings.TrimPrefix(addr, "unixpacket:"), unix.SOCK_SEQPACKET, addr)
	}
	return -1, fmt.Errorf("open listener %q: want tcp://HOST:PORT, udp://HOST:PORT, unix:PATH or unixpacket:PATH: %w", addr, ErrBadConfig)
}

func listenInet(hostport string, typ int, addr string) (int, error) {
	ta, err := net.ResolveTCPAddr("tcp", hostport) // the same syntax for udp
	if err != nil {
		return -1, fmt.Errorf("resolve listen address %q: %w", addr, err)
	}
	family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Port: ta.Port})
	if ip4 := ta.IP.To4(); ip4 != nil {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: ta.Port, Addr: [4]byte(ip4)}
	} else if ta.IP != nil {
		sa.(*unix.SockaddrInet6).Addr = [16]byte(ta.IP.To16())
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("setsockopt SO_REUSEADDR", err)
	}
	return bindListen(fd, sa, addr, typ != unix.SOCK_DGRAM)
}

func listenUnix(path string, typ int, addr string) (int, error) {
	if err := removeSocketFile(path); err != nil {
		return -1, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if err := os.MkdirAll(dirOf(path), 0o755); err != nil {
		return -1, fmt.Errorf("listen on %s: %w", addr, err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return bindListen(fd, &unix.SockaddrUnix{Name: path}, addr, true)
}

// removeSocketFile removes a socket file at path, which an earlier run
// left (a live listener is replaced too, as systemd does); a file of
// another type stays and is an error.
func removeSocketFile(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode().Type() != os.ModeSocket:
		return fmt.Errorf("%s exists and is no socket", path)
	}
	return os.Remove(path)
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		return path[:i]
	}
	return "/"
}

func bindListen(fd int, sa unix.Sockaddr, addr string, listen bool) (int, error) {
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind %s: %w", addr, err)
	}
	if !listen {
		return fd, nil
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return fd, nil
}

// dupCloexec duplicates fd close-on-exec.
func dupCloexec(fd int) (int, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return -1, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
	}
	return nfd, nil
}

// boundAddress is addr with port 0 (any free port) replaced by the port
// the held socket fd was given; other addresses are returned as they are.
func boundAddress(addr string, fd int) string {
	scheme, hostport, ok := strings.Cut(addr, "://")
	if !ok || !strings.HasSuffix(hostport, ":0") {
		return addr
	}
	var port int
	switch sa, _ := unix.Getsockname(fd); sa := sa.(type) {
	case *unix.SockaddrInet4:
		port = sa.Port
	case *unix.SockaddrInet6:
		port = sa.Port
	default:
		return addr
	}
	return fmt.Sprintf("%s://%s:%d", scheme, strings.TrimSuffix(hostport, ":0"), port)
}
