//go:build linux

package fdpass

import (
	"errors"
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
				t.Skipf("open /dev/pts/ptmx (often mode 000, for root only): %v", err)
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
