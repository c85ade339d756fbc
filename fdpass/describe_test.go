//go:build linux

package fdpass

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// describeCase makes one descriptor and says what Describe must find.
type describeCase struct {
	name  string
	open  func(t *testing.T) int
	check func(t *testing.T, fd int, d Description)
}

func TestDescribe(t *testing.T) {
	cases := append(append(socketCases(), deviceCases()...), fileCases()...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			fd := tc.open(t)
			flagsBefore := statusFlags(t, fd)
			d, err := Describe(fd)
			if err != nil {
				t.Fatal(err)
			}
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				t.Fatal(err)
			}
			if d.Dev != st.Dev || d.Ino != st.Ino || d.Mode != st.Mode || d.Flags != flagsBefore {
				t.Errorf("identity = dev %d ino %d mode %o flags %#o, want %d %d %o %#o", d.Dev, d.Ino, d.Mode, d.Flags, st.Dev, st.Ino, st.Mode, flagsBefore)
			}
			if after := statusFlags(t, fd); after != flagsBefore {
				t.Errorf("Describe changed the status flags from %#o to %#o", flagsBefore, after)
			}
			tc.check(t, fd, d)
		})
	}
}

func wantKind(t *testing.T, d Description, k Kind) {
	t.Helper()
	if d.Kind != k {
		t.Errorf("Kind = %q, want %q (%+v)", d.Kind, k, d)
	}
}

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

func deviceCases() []describeCase {
	return []describeCase{
		{"pty master", func(t *testing.T) int {
			m, _, _ := ptyPair(t)
			return m
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindPTYMaster)
			if d.Rdev != unix.Mkdev(5, 2) || d.Path != "/dev/ptmx" {
				t.Errorf("master = %+v", d)
			}
		}},
		{"pty master from /dev/pts/ptmx", func(t *testing.T) int {
			fd, err := unix.Open("/dev/pts/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Skipf("open /dev/pts/ptmx: %v", err)
			}
			closeLater(t, fd)
			return fd
		}, func(t *testing.T, fd int, d Description) { wantKind(t, d, KindPTYMaster) }},
		{"pty slave", func(t *testing.T) int {
			_, s, _ := ptyPair(t)
			return s
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindPTYSlave)
			if major := unix.Major(d.Rdev); major < 136 || major > 143 || !strings.HasPrefix(d.Path, "/dev/pts/") {
				t.Errorf("slave = %+v", d)
			}
		}},
		{"other tty", func(t *testing.T) int {
			for _, path := range []string{"/dev/console", "/dev/ttyS0", "/dev/tty0"} {
				fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
				if err == nil {
					closeLater(t, fd)
					return fd
				}
			}
			t.Skip("no console or serial terminal to open (needs root)")
			return -1
		}, func(t *testing.T, fd int, d Description) { wantKind(t, d, KindTTY) }},
		{"/dev/null", func(t *testing.T) int {
			return open(t, "/dev/null", unix.O_WRONLY)
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindCharDevice)
			if d.Rdev != unix.Mkdev(1, 3) || d.Path != "/dev/null" || d.Flags&unix.O_ACCMODE != unix.O_WRONLY {
				t.Errorf("/dev/null = %+v", d)
			}
		}},
		{"block device", func(t *testing.T) int {
			fd, err := unix.Open("/dev/loop0", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Skipf("no block device to open (needs root): %v", err)
			}
			closeLater(t, fd)
			return fd
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindBlockDevice)
			if d.Rdev != unix.Mkdev(7, 0) {
				t.Errorf("loop0 = %+v", d)
			}
		}},
	}
}

func fileCases() []describeCase {
	return []describeCase{
		{"regular file", func(t *testing.T) int {
			fd := open(t, tempFile(t, "hello"), unix.O_RDWR|unix.O_APPEND)
			if _, err := unix.Seek(fd, 3, 0); err != nil {
				t.Fatal(err)
			}
			return fd
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindFile)
			if d.Offset != 3 || !strings.HasSuffix(d.Path, "/file") || d.Flags&unix.O_ACCMODE != unix.O_RDWR || d.Flags&unix.O_APPEND == 0 || d.Rdev != 0 {
				t.Errorf("file = %+v, want offset 3, O_RDWR|O_APPEND", d)
			}
		}},
		{"directory", func(t *testing.T) int {
			return open(t, t.TempDir(), unix.O_RDONLY|unix.O_DIRECTORY)
		}, func(t *testing.T, fd int, d Description) { wantKind(t, d, KindDir) }},
		{"pipe", func(t *testing.T) int {
			r, _ := pipe(t)
			return r
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindPipe)
			if !strings.HasPrefix(d.Path, "pipe:[") {
				t.Errorf("pipe path = %q", d.Path)
			}
		}},
		{"fifo", func(t *testing.T) int {
			path := t.TempDir() + "/fifo"
			if err := unix.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			return open(t, path, unix.O_RDWR)
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindFIFO)
			if !strings.HasSuffix(d.Path, "/fifo") {
				t.Errorf("fifo path = %q", d.Path)
			}
		}},
		{"memfd", func(t *testing.T) int {
			fd, err := unix.MemfdCreate("state", unix.MFD_CLOEXEC)
			if err != nil {
				t.Fatal(err)
			}
			closeLater(t, fd)
			return fd
		}, func(t *testing.T, fd int, d Description) {
			wantKind(t, d, KindMemfd)
			if !strings.HasPrefix(d.Path, "/memfd:state") {
				t.Errorf("memfd path = %q", d.Path)
			}
		}},
		{"eventfd", anonFD(func() (int, error) { return unix.Eventfd(0, unix.EFD_CLOEXEC) }),
			func(t *testing.T, fd int, d Description) { wantKind(t, d, KindEventfd) }},
		{"epoll", anonFD(func() (int, error) { return unix.EpollCreate1(unix.EPOLL_CLOEXEC) }),
			func(t *testing.T, fd int, d Description) { wantKind(t, d, KindEpoll) }},
		{"timerfd", anonFD(func() (int, error) { return unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC) }),
			func(t *testing.T, fd int, d Description) {
				wantKind(t, d, KindAnonInode)
				if d.Path != "anon_inode:[timerfd]" {
					t.Errorf("timerfd path = %q", d.Path)
				}
			}},
		{"inotify", anonFD(func() (int, error) { return unix.InotifyInit1(unix.IN_CLOEXEC) }),
			func(t *testing.T, fd int, d Description) { wantKind(t, d, KindAnonInode) }},
	}
}

func anonFD(make func() (int, error)) func(t *testing.T) int {
	return func(t *testing.T) int {
		fd, err := make()
		if err != nil {
			t.Skipf("cannot make the descriptor: %v", err)
		}
		closeLater(t, fd)
		return fd
	}
}

func TestDescribeClosedFD(t *testing.T) {
	r, w := pipe(t)
	unix.Close(w)
	_, err := Describe(w)
	if !errors.Is(err, ErrBadFD) || !errors.Is(err, unix.EBADF) {
		t.Fatalf("Describe(closed) = %v, want ErrBadFD wrapping EBADF", err)
	}
	if _, err := Describe(r); err != nil {
		t.Fatalf("Describe(open end) = %v", err)
	}
	if _, err := Describe(-1); !errors.Is(err, ErrBadFD) {
		t.Fatalf("Describe(-1) = %v, want ErrBadFD", err)
	}
}

func TestFormatSockaddr(t *testing.T) {
	inet4 := []byte{2, 0, 0x1f, 0x90, 10, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0}
	inet6 := make([]byte, 28)
	inet6[0], inet6[2], inet6[3] = 10, 0x01, 0xbb
	copy(inet6[8:], []byte{0xfe, 0x80, 15: 1})
	inet6Zone := append([]byte(nil), inet6...)
	inet6Zone[24] = 3
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"inet", inet4, "10.0.0.7:8080"},
		{"inet6", inet6, "[fe80::1]:443"},
		{"inet6 with zone", inet6Zone, "[fe80::1%3]:443"},
		{"unix path", append([]byte{1, 0}, "/run/x.sock\x00junk"...), "/run/x.sock"},
		{"unix path filling sun_path", append([]byte{1, 0}, "/run/x.sock"...), "/run/x.sock"},
		{"unix abstract", append([]byte{1, 0, 0}, "name"...), "@name"},
		{"unix unnamed", []byte{1, 0}, ""},
		{"truncated inet", inet4[:6], ""},
		{"truncated inet6", inet6[:20], ""},
		{"other family", []byte{16, 0, 1, 2, 3, 4}, ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		if got := formatSockaddr(tt.raw); got != tt.want {
			t.Errorf("%s: formatSockaddr = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func FuzzFormatSockaddr(f *testing.F) {
	f.Add([]byte{2, 0, 0x1f, 0x90, 10, 0, 0, 7})
	f.Add(append([]byte{10, 0, 1, 187}, make([]byte, 24)...))
	f.Add(append([]byte{1, 0, 0}, "abstract"...))
	f.Add(append([]byte{1, 0}, "/path\x00"...))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := formatSockaddr(raw)
		if len(raw) < 2 && got != "" {
			t.Fatalf("formatSockaddr(%x) = %q from less than a family", raw, got)
		}
	})
}

func TestParseFdinfoPos(t *testing.T) {
	tests := []struct {
		info    string
		want    int64
		wantErr bool
	}{
		{"pos:\t42\nflags:\t02\nmnt_id:\t1\n", 42, false},
		{"flags:\t02\npos:\t0\n", 0, false},
		{"pos:\t9223372036854775807", 1<<63 - 1, false},
		{"flags:\t02\n", 0, true},
		{"pos:\tx\n", 0, true},
		{"pos:\t-1\n", 0, true},
		{"position:\t1\n", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := parseFdinfoPos([]byte(tt.info))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseFdinfoPos(%q) = %d, %v; want %d, error %v", tt.info, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrProc) {
			t.Errorf("parseFdinfoPos(%q) error %v does not wrap ErrProc", tt.info, err)
		}
	}
}

func FuzzParseFdinfo(f *testing.F) {
	f.Add([]byte("pos:\t42\nflags:\t02100002\nmnt_id:\t29\nino:\t3\n"))
	f.Add([]byte("pos:\t0\nflags:\t02\neventfd-count:                0\neventfd-id: 2\n"))
	f.Add([]byte("pos:"))
	f.Fuzz(func(t *testing.T, info []byte) {
		pos, err := parseFdinfoPos(info)
		if err == nil && pos < 0 {
			t.Fatalf("negative offset %d accepted", pos)
		}
		if err != nil && pos != 0 {
			t.Fatalf("offset %d returned with error %v", pos, err)
		}
		id := fdinfoIdentity(info)
		if len(id) > len(info) {
			t.Fatalf("identity longer than fdinfo")
		}
	})
}
