//go:build linux

package main

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/examples/broadcast/line"
	"github.com/migrate-run/migrate/examples/counter/fakesup"
	"github.com/migrate-run/migrate/proto"
	"golang.org/x/sys/unix"
)

// expectCompat checks that the server registers its compat vector for
// version (state-format 1), and acks it.
func expectCompat(t *testing.T, ctl *fakesup.Conn, version string) {
	t.Helper()
	cr, id, _ := fakesup.Expect[*proto.CompatRegister](ctl)
	if cr.Version != version || len(cr.Tags) != 1 || cr.Tags[0].ID != 1 || cr.Tags[0].Name != "state-format" || cr.Tags[0].Value != "1" {
		t.Fatalf("CompatRegister %+v, want version %s with state-format 1", *cr, version)
	}
	ctl.Ack(id, 0)
}

// TestAnOlderProgramsClientIsTakenOver plays the supervisor's part of an
// upgrade to version 2: a continuation suspended by another process (the
// old program) whose source had got further than this one's is attached.
// This process's source goes on from there: the returning client gets
// every line from its position on, tagged v2, and a client that joined
// this process before (during the upgrade) catches up with no gap.
func TestAnOlderProgramsClientIsTakenOver(t *testing.T) {
	sup := fakesup.Start(t)
	t.Setenv("MIGRATE_SOCKET", sup.Path)
	t.Setenv(versionEnv, "2")
	s := startServer(t, "--addr", "127.0.0.1:0", "--interval", "2ms")
	ctl := sup.Accept(t)
	expectCompat(t, ctl, "2")
	_, id, _ := fakesup.Expect[*proto.Attach](ctl)
	ctl.Ack(id, 0)

	early, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()
	_, id, _ = fakesup.Expect[*proto.GetSession](ctl)
	ctl.Ack(id, 1)
	s.expect(t, "broadcast-server: client ")
	er := bufio.NewReader(early)
	at := readLine(t, "the client that joined first", er, 0)

	const pos = 100000 // far past this process's source, within the catch-up window
	back, fd := tcpPair(t)
	aid := ctl.Request(&proto.AttachSession{Cont: 7, Session: 2, Kind: proto.KindInternal, PID: 1,
		Slots: []proto.Slot{{FD: 5, Name: "client", Role: proto.RoleConn, Conn: true}},
		Store: []proto.Entry{{Key: "pos", Value: []byte(strconv.Itoa(pos))}}}, []int{fd})
	unix.Close(fd)
	if _, id, _ := fakesup.Expect[*proto.Ack](ctl); id != aid {
		t.Fatalf("attach acked on %#x, want %#x", id, aid)
	}
	if line, want := s.expect(t, "broadcast-server: resumed "), "broadcast-server: resumed cont 7 from old pid 1 at "+strconv.Itoa(pos); line != want {
		t.Errorf("server said %q, want %q", line, want)
	}
	br := bufio.NewReader(back)
	for want := uint64(pos); want < pos+3; want++ {
		readLine(t, "the returning client", br, want)
	}
	for want := at + 1; want < pos+3; want++ {
		readLine(t, "the client that joined first", er, want)
	}

	early.Close()
	back.Close()
	for range 2 { // both clients gone, their sessions closed
		s.expect(t, "broadcast-server: client ")
		_, id, _ = fakesup.Expect[*proto.SessionClose](ctl)
		ctl.Ack(id, 0)
	}
}

// readLine reads the next line of who's stream: it must be number want (0:
// any), tagged v2; it returns the number.
func readLine(t *testing.T, who string, r *bufio.Reader, want uint64) uint64 {
	t.Helper()
	l, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("%s read %q, %v", who, l, err)
	}
	seq, v, err := line.Parse(strings.TrimSuffix(l, "\n"))
	if err != nil || want != 0 && seq != want || v != "v2" {
		t.Fatalf("%s read %q (%v), want %d tagged v2", who, l, err, want)
	}
	return seq
}

// tcpPair returns the client end of a loopback TCP connection and a
// close-on-exec descriptor of its server end (the caller's to close).
func tcpPair(t *testing.T) (net.Conn, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	rc, err := server.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd, serr := -1, error(nil)
	if err := rc.Control(func(s uintptr) { fd, serr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || serr != nil {
		t.Fatalf("dup the server end: %v %v", err, os.NewSyscallError("fcntl", serr))
	}
	return client, fd
}
