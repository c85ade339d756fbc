//go:build linux

package fdpass

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func port(t *testing.T, fd int) string {
	t.Helper()
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return strconv.Itoa(sa.Port)
	case *unix.SockaddrInet6:
		return strconv.Itoa(sa.Port)
	}
	t.Fatalf("no port in %T", sa)
	return ""
}

func socketCases() []describeCase {
	return []describeCase{
		{"tcp listener", func(t *testing.T) int {
			l, _, _ := tcpPair(t, unix.AF_INET, loopback4())
			return l
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindTCP)
			if d.Family != "inet" || d.SockType != "stream" || !d.Listening || d.Local != "127.0.0.1:"+port(t, fd) || d.Peer != "" {
				t.Errorf("listener = %+v", d)
			}
			if !d.IsNetwork() || !d.IsSocket() {
				t.Error("a TCP socket is a network socket")
			}
		}},
		{"tcp connection", func(t *testing.T) int {
			_, c, _ := tcpPair(t, unix.AF_INET, loopback4())
			return c
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindTCP)
			peer, _ := unix.Getpeername(fd)
			want := "127.0.0.1:" + strconv.Itoa(peer.(*unix.SockaddrInet4).Port)
			if d.Listening || d.Local != "127.0.0.1:"+port(t, fd) || d.Peer != want {
				t.Errorf("connection = %+v, want peer %s", d, want)
			}
		}},
		{"tcp6 connection", func(t *testing.T) int {
			_, c, _ := tcpPair(t, unix.AF_INET6, loopback6())
			return c
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindTCP)
			if d.Family != "inet6" || d.Local != "[::1]:"+port(t, fd) || !strings.HasPrefix(d.Peer, "[::1]:") {
				t.Errorf("connection = %+v", d)
			}
		}},
		{"udp", func(t *testing.T) int {
			fd := socket(t, unix.AF_INET, unix.SOCK_DGRAM)
			if err := unix.Bind(fd, loopback4()); err != nil {
				t.Fatal(err)
			}
			return fd
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindUDP)
			if d.SockType != "dgram" || d.Local != "127.0.0.1:"+port(t, fd) || d.Peer != "" || !d.IsNetwork() {
				t.Errorf("udp = %+v", d)
			}
		}},
		{"unix path listener", func(t *testing.T) int {
			fd := socket(t, unix.AF_UNIX, unix.SOCK_STREAM)
			path := t.TempDir() + "/sock"
			if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
				t.Fatal(err)
			}
			if err := unix.Listen(fd, 1); err != nil {
				t.Fatal(err)
			}
			return fd
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindUnix)
			if !strings.HasSuffix(d.Local, "/sock") || !d.Listening || d.IsNetwork() || !d.IsSocket() {
				t.Errorf("unix listener = %+v", d)
			}
		}},
		{"unix abstract", func(t *testing.T) int {
			fd := socket(t, unix.AF_UNIX, unix.SOCK_DGRAM)
			name := "@fdpass-test-" + strconv.Itoa(os.Getpid())
			if err := unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err != nil {
				t.Fatal(err)
			}
			return fd
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindUnix)
			if want := "@fdpass-test-" + strconv.Itoa(os.Getpid()); d.Local != want || d.SockType != "dgram" {
				t.Errorf("abstract = %+v, want local %q", d, want)
			}
		}},
		{"netlink", func(t *testing.T) int {
			return socket(t, unix.AF_NETLINK, unix.SOCK_RAW)
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindSocket)
			if d.Family != "netlink" || d.IsNetwork() || !d.IsSocket() {
				t.Errorf("netlink = %+v", d)
			}
		}},
	}
}
