//go:build linux

package fdpass

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	// The netpoller opens its epoll and wakeup descriptors on first use;
	// open them now so that they do not count as leaks in the first test.
	if a, b, err := SocketPair(); err == nil {
		a.Close()
		b.Close()
	}
	goleak.VerifyTestMain(m)
}

// openFDs lists the descriptors open in this process.
func openFDs(t testing.TB) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list open descriptors: %v", err)
	}
	fds := make([]int, 0, len(entries))
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			t.Fatalf("list open descriptors: %v", err)
		}
		fds = append(fds, fd)
	}
	// ReadDir's own descriptor shows in the listing and is closed by now.
	return slices.DeleteFunc(fds, func(fd int) bool { return !isOpen(fd) })
}

// expectNoNewFDs fails the test if descriptors are open now that were not
// in before, and names them.
func expectNoNewFDs(t testing.TB, before []int) {
	t.Helper()
	var leaked []string
	for _, fd := range openFDs(t) {
		if !slices.Contains(before, fd) {
			target, _ := os.Readlink(procPath("fd", fd))
			leaked = append(leaked, fmt.Sprintf("%d -> %s", fd, target))
		}
	}
	if len(leaked) > 0 {
		t.Errorf("descriptors leaked: %v", leaked)
	}
}

// noLeaks checks, when the test and its cleanups are done, that no
// descriptor opened during the test is still open. Call it first so that
// its cleanup runs last.
func noLeaks(t *testing.T) {
	t.Helper()
	before := openFDs(t)
	t.Cleanup(func() { expectNoNewFDs(t, before) })
}

// closeLater closes fds when the test ends.
func closeLater(t testing.TB, fds ...int) {
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
}

func socketPair(t testing.TB) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	a, b, err := SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		b.Close()
	})
	return a, b
}

func pipe(t testing.TB) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	closeLater(t, p[0], p[1])
	return p[0], p[1]
}

func dup(t testing.TB, fd int) int {
	t.Helper()
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, d)
	return d
}

func open(t testing.TB, path string, flags int) int {
	t.Helper()
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC|unix.O_NOCTTY, 0o600)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	closeLater(t, fd)
	return fd
}

// tempFile makes a file holding content and returns its path.
func tempFile(t testing.TB, content string) string {
	t.Helper()
	path := t.TempDir() + "/file"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ptyPair opens a new pty on /dev/ptmx and its slave, both O_RDWR.
func ptyPair(t testing.TB) (master, slave int, slavePath string) {
	t.Helper()
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: open /dev/ptmx: %v", err)
	}
	closeLater(t, master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	slavePath = "/dev/pts/" + strconv.Itoa(int(n))
	return master, open(t, slavePath, unix.O_RDWR), slavePath
}

// tcpPair returns a TCP socket listening on sa (port 0: any free port)
// and both ends of a connection to it, all raw close-on-exec descriptors.
func tcpPair(t testing.TB, family int, sa unix.Sockaddr) (listener, client, server int) {
	t.Helper()
	listener = socket(t, family, unix.SOCK_STREAM)
	if err := unix.Bind(listener, sa); err != nil {
		t.Skipf("no loopback for family %d: %v", family, err)
	}
	if err := unix.Listen(listener, 4); err != nil {
		t.Fatal(err)
	}
	bound, err := unix.Getsockname(listener)
	if err != nil {
		t.Fatal(err)
	}
	client = socket(t, family, unix.SOCK_STREAM)
	if err := unix.Connect(client, bound); err != nil {
		t.Fatal(err)
	}
	server, _, err = unix.Accept4(listener, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, server)
	return listener, client, server
}

func loopback4() unix.Sockaddr { return &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}} }
func loopback6() unix.Sockaddr { return &unix.SockaddrInet6{Addr: [16]byte{15: 1}} }

func socket(t testing.TB, family, typ int) int {
	t.Helper()
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("socket(%d, %d): %v", family, typ, err)
	}
	closeLater(t, fd)
	return fd
}

// rawFD runs f with conn's descriptor, without calling Fd.
func rawFD(t testing.TB, conn *net.UnixConn, f func(fd int)) {
	t.Helper()
	rc, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Control(func(fd uintptr) { f(int(fd)) }); err != nil {
		t.Fatal(err)
	}
}

func statusFlags(t testing.TB, fd int) int {
	t.Helper()
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fl
}

func isCloexec(t testing.TB, fd int) bool {
	t.Helper()
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fl&unix.FD_CLOEXEC != 0
}

func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

func mustSame(t testing.TB, a, b int) bool {
	t.Helper()
	same, err := SameFile(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return same
}

// firstByte is the count function of the tests' toy protocol: the first
// payload byte declares how many descriptors travel with it.
func firstByte(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, errors.New("no header")
	}
	return int(p[0]), nil
}

func message(declared int, text string) []byte {
	return append([]byte{byte(declared)}, text...)
}
