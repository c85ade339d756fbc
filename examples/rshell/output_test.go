//go:build linux

package rshell_test

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/examples/rshell/wire"
	"golang.org/x/sys/unix"
)

// TestNoOutputLostAcrossSuspends suspends and resumes a session three
// times while its shell writes more than the connection's buffers hold to
// a client that reads slowly (a 4 KiB receive buffer): the server stops
// with a frame half-written and carries the rest in its continuation. The
// client gets every line once, in order, then the exit status.
func TestNoOutputLostAcrossSuspends(t *testing.T) {
	s := startService(t, "--shell", "/bin/sh", "--login=false")
	const lines = 1500000 // 12 MB, beyond the server's send buffer (at most net.ipv4.tcp_wmem's 4 MB)
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) })
		return err
	}}
	conn, err := d.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(wire.AppendHello(nil, wire.Hello{Command: fmt.Sprintf("seq 1 %d", lines)})); err != nil {
		t.Fatal(err)
	}
	out := &lineCheck{r: wire.NewReader(conn)}
	held := 0
	for i := range 3 {
		sess := s.session()
		if err := stuckSending(s.addr, conn.LocalAddr().String()); err != nil {
			t.Fatal(err)
		}
		c := s.suspend(sess.ID)
		st := stored(t, c)
		killAtCleanup(t, st.Shell)
		t.Logf("suspend %d: %d bytes held for the client, store %d B raw, %d B compressed", i, len(st.ToClient), c.StoreRawBytes, c.StoreCompressedBytes)
		if len(st.ToClient) > 0 {
			held++
		}
		s.resume(c.ID)
		if err := out.read(50000); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.read(lines - out.next + 1); err != nil {
		t.Fatal(err)
	}
	if e, err := out.exit(); err != nil || e != (wire.Exit{How: wire.Exited, Code: 0}) {
		t.Errorf("after the last line: %+v, %v; want exit status 0", e, err)
	}
	if held != 3 {
		t.Errorf("%d of 3 suspends caught output in hand, all should have", held)
	}
}

// stuckSending waits until the server's end of the connection from
// client to server has data queued that does not move: the server is
// blocked writing. /proc/net/tcp is polled: no event says so.
func stuckSending(server, client string) error {
	want := procAddr(server) + " " + procAddr(client)
	last, same := "", 0
	for range 1000 {
		queue := ""
		b, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 4 && f[1]+" "+f[2] == want {
				queue, _, _ = strings.Cut(f[4], ":")
			}
		}
		if queue != "" && queue != "00000000" && queue == last {
			if same++; same == 5 {
				return nil
			}
		} else {
			same = 0
		}
		last = queue
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the server's send queue to %s never settled (last %s)", client, last)
}

// procAddr writes an IPv4 HOST:PORT as /proc/net/tcp does: the address's
// bytes as a little-endian hex word, the port in hex.
func procAddr(hostport string) string {
	ap := netip.MustParseAddrPort(hostport)
	a := ap.Addr().As4()
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", a[3], a[2], a[1], a[0], ap.Port())
}

// lineCheck reads data frames of numbered lines ("N\r\n" from 1 on).
type lineCheck struct {
	r    *wire.Reader
	buf  []byte
	next int
}

// read checks the next n lines.
func (lc *lineCheck) read(n int) error {
	if lc.next == 0 {
		lc.next = 1
	}
	for ; n > 0; n-- {
		for bytes.IndexByte(lc.buf, '\n') < 0 {
			f, err := lc.r.Next()
			if err != nil {
				return fmt.Errorf("after line %d: %w", lc.next-1, err)
			}
			if f.Type != wire.TypeData {
				return fmt.Errorf("after line %d: a %v frame", lc.next-1, f.Type)
			}
			lc.buf = append(lc.buf, f.Payload...)
		}
		i := bytes.IndexByte(lc.buf, '\n')
		if line := string(lc.buf[:i+1]); line != strconv.Itoa(lc.next)+"\r\n" {
			return fmt.Errorf("line %q, want %d", line, lc.next)
		}
		lc.buf = lc.buf[i+1:]
		lc.next++
	}
	return nil
}

// exit reads the exit frame, which must come next.
func (lc *lineCheck) exit() (wire.Exit, error) {
	f, err := lc.r.Next()
	if err != nil {
		return wire.Exit{}, err
	}
	if f.Type != wire.TypeExit || len(lc.buf) > 0 {
		return wire.Exit{}, fmt.Errorf("a %v frame after %q, want exit", f.Type, lc.buf)
	}
	return wire.ParseExit(f.Payload)
}
