//go:build linux

package migrate

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/proto"
	"golang.org/x/sys/unix"
)

func TestResumedTakesTheConnectionOver(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, cli := tcpPair(t)
	inherited, err := unix.FcntlInt(uintptr(fdNumber(t, srv)), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvCont, strconv.Itoa(inherited))
	t.Setenv(EnvPID, "4242")
	t.Setenv(EnvContID, "9")
	if !IsContinuation() {
		t.Fatal("IsContinuation() = false with MIGRATE_CONT set")
	}
	r, ok, err := c.Resumed(context.Background())
	if err != nil || !ok {
		t.Fatalf("Resumed = %v, %v", ok, err)
	}
	t.Cleanup(func() { r.Conn.Close() })
	if r.FD != inherited || r.OldPID != 4242 || r.Cont != 9 {
		t.Errorf("resumption fd %d pid %d cont %d, want %d 4242 9", r.FD, r.OldPID, r.Cont, inherited)
	}
	if IsContinuation() || os.Getenv(EnvContID) != "" || os.Getenv(EnvPID) != "" {
		t.Error("MIGRATE_ variables still set after Resumed took the connection")
	}
	if r, ok, err := c.Resumed(context.Background()); r != nil || ok || err != nil {
		t.Errorf("second Resumed = %v, %v, %v; want a fresh start", r, ok, err)
	}
	if isOpen(inherited) {
		t.Error("the inherited descriptor is still open: net.FileConn's original was not closed")
	}
	if _, err := r.Conn.Write([]byte("7\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(cli, buf); err != nil || string(buf) != "7\n" {
		t.Errorf("peer read %q, %v", buf, err)
	}

	rt := async(func() ([]byte, error) { return r.Retrieve(context.Background(), "next") })
	m, id, _ := expect[*proto.Retrieve](f)
	if m.Scope != (proto.Scope{Cont: 9}) || m.Key != "next" {
		t.Errorf("Retrieve = %+v, want the continuation's scope", *m)
	}
	f.send(proto.Message{ID: id, Body: &proto.RetrieveReply{Value: []byte("4711")}}, nil)
	if v, err := wait(t, rt); err != nil || string(v) != "4711" {
		t.Errorf("Retrieve = %q, %v", v, err)
	}

	reg := async(func() (*Session, error) { return r.Register(context.Background(), WithHandler(Complete)) })
	gs, id, fds := expect[*proto.GetSession](f)
	if gs.Cont != 9 || gs.Handler != proto.KindComplete || gs.FD != int32(fdNumber(t, r.Conn.(interface {
		SyscallConn() (syscall.RawConn, error)
	}))) || len(fds) != 1 {
		t.Errorf("GetSession = %+v with %d fds", *gs, len(fds))
	}
	f.ack(id, 13)
	if s, err := wait(t, reg); err != nil || s.ID() != 13 {
		t.Fatalf("Register = %v, %v", s, err)
	}

	conf := async(func() (struct{}, error) { return struct{}{}, r.Confirm(context.Background()) })
	rs, id, _ := expect[*proto.Resumed](f)
	if rs.Cont != 9 {
		t.Errorf("Resumed names continuation %d, want 9", rs.Cont)
	}
	f.ack(id, 0)
	if _, err := wait(t, conf); err != nil {
		t.Fatal(err)
	}
}

func TestResumedNotAContinuation(t *testing.T) {
	setOrUnset(t, EnvCont, "\x00unset")
	if IsContinuation() {
		t.Error("IsContinuation() without MIGRATE_CONT")
	}
	r, ok, err := Resumed(context.Background())
	if r != nil || ok || err != nil {
		t.Errorf("Resumed = %v, %v, %v; want nil, false, nil", r, ok, err)
	}
}

func TestResumedRejectsAMalformedEnvironment(t *testing.T) {
	checkNoLeaks(t)
	c, _ := newFake(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	srv, _ := tcpPair(t)
	sock := strconv.Itoa(fdNumber(t, srv))
	pipe := strconv.Itoa(int(pr.Fd()))
	const unset = "\x00unset"
	cases := []struct{ name, cont, pid, id string }{
		{"empty fd", "", "1", "9"},
		{"sign", "+" + sock, "1", "9"},
		{"leading zero", "0" + sock, "1", "9"},
		{"space", sock + " ", "1", "9"},
		{"hex", "0x3", "1", "9"},
		{"negative", "-1", "1", "9"},
		{"huge fd", "2147483648", "1", "9"},
		{"closed fd", "1000000", "1", "9"},
		{"not a socket", pipe, "1", "9"},
		{"pid unset", sock, unset, "9"},
		{"pid zero", sock, "0", "9"},
		{"pid garbage", sock, "12ab", "9"},
		{"pid too big", sock, "2147483648", "9"},
		{"id unset", sock, "1", unset},
		{"id zero", sock, "1", "0"},
		{"id overflow", sock, "1", "18446744073709551616"},
		{"id garbage", sock, "1", "nine"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setOrUnset(t, EnvCont, tc.cont)
			setOrUnset(t, EnvPID, tc.pid)
			setOrUnset(t, EnvContID, tc.id)
			r, ok, err := c.Resumed(context.Background())
			if !errors.Is(err, ErrBadEnv) || !ok || r != nil {
				t.Errorf("Resumed = %v, %v, %v; want ErrBadEnv", r, ok, err)
			}
		})
	}
	// Nothing was taken over or closed.
	if _, err := srv.Write([]byte("x")); err != nil {
		t.Errorf("the socket was touched: %v", err)
	}
	if !isOpen(int(pr.Fd())) {
		t.Error("the pipe was closed")
	}
}

func setOrUnset(t *testing.T, name, value string) {
	if value != "\x00unset" {
		t.Setenv(name, value)
		return
	}
	t.Setenv(name, "") // records the old value for cleanup
	os.Unsetenv(name)
}

func FuzzParseEnv(f *testing.F) {
	for _, s := range []string{"0", "3", "9", "4242", "", "+1", "01", "18446744073709551615", "18446744073709551616", " 1", "1a"} {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, cont, pid, id string) {
		env := map[string]string{EnvCont: cont, EnvPID: pid, EnvContID: id}
		got, ok, err := parseEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if !ok {
			t.Fatal("MIGRATE_CONT set but not seen")
		}
		if err != nil {
			if !errors.Is(err, ErrBadEnv) {
				t.Fatalf("error %v is not ErrBadEnv", err)
			}
			return
		}
		// Whatever parses is a canonical decimal that prints back the same.
		if strconv.Itoa(got.fd) != cont || strconv.Itoa(got.pid) != pid || strconv.FormatUint(got.cont, 10) != id {
			t.Fatalf("%q %q %q parsed as %+v", cont, pid, id, got)
		}
		if got.pid == 0 || got.cont == 0 {
			t.Fatalf("zero accepted: %+v", got)
		}
	})
}
