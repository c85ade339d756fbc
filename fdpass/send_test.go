//go:build linux

package fdpass

import (
	"bytes"
	"errors"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSendRecvRoundTrip(t *testing.T) {
	noLeaks(t)
	a, b := socketPair(t)
	r, w := pipe(t)

	if err := Send(a, message(2, "hello"), []int{r, w}); err != nil {
		t.Fatal(err)
	}
	payload, fds, err := Recv(b, make([]byte, 64), 4, firstByte)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, fds...)
	if want := message(2, "hello"); !bytes.Equal(payload, want) {
		t.Errorf("payload = %q, want %q", payload, want)
	}
	if len(fds) != 2 {
		t.Fatalf("received %d descriptors, want 2", len(fds))
	}
	for i, orig := range []int{r, w} {
		if !isCloexec(t, fds[i]) {
			t.Errorf("received fd %d is not close-on-exec", fds[i])
		}
		if !mustSame(t, orig, fds[i]) {
			t.Errorf("received fd %d is not the open file description of fd %d", fds[i], orig)
		}
	}
	// The copies work: what goes into the received write end comes out of
	// the original read end.
	if _, err := unix.Write(fds[1], []byte("via copy")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 16)
	n, err := unix.Read(r, got)
	if err != nil || string(got[:n]) != "via copy" {
		t.Errorf("read through original = %q, %v; want %q", got[:n], err, "via copy")
	}
}

func TestSendRecvMaxFDs(t *testing.T) {
	noLeaks(t)
	a, b := socketPair(t)
	null := open(t, "/dev/null", unix.O_RDONLY)
	sent := make([]int, MaxFDs)
	for i := range sent {
		sent[i] = null
	}
	if err := Send(a, message(MaxFDs, ""), sent); err != nil {
		t.Fatal(err)
	}
	_, fds, err := Recv(b, make([]byte, 8), MaxFDs, firstByte)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, fds...)
	if len(fds) != MaxFDs {
		t.Fatalf("received %d descriptors, want %d", len(fds), MaxFDs)
	}
	seen := map[int]bool{}
	for _, fd := range fds {
		if seen[fd] {
			t.Fatalf("fd %d received twice", fd)
		}
		seen[fd] = true
		if !isCloexec(t, fd) {
			t.Fatalf("received fd %d is not close-on-exec", fd)
		}
	}
}

func TestSendRefusesTooManyFDsBeforeSending(t *testing.T) {
	noLeaks(t)
	a, b := socketPair(t)
	null := open(t, "/dev/null", unix.O_RDONLY)
	tooMany := make([]int, MaxFDs+1)
	for i := range tooMany {
		tooMany[i] = null
	}
	if err := Send(a, message(MaxFDs+1, "x"), tooMany); !errors.Is(err, ErrTooManyFDs) {
		t.Fatalf("Send(254 fds) = %v, want ErrTooManyFDs", err)
	}
	// Nothing went out: the next message the peer reads is the one after.
	if err := Send(a, message(0, "next"), nil); err != nil {
		t.Fatal(err)
	}
	payload, _, err := Recv(b, make([]byte, 64), MaxFDs, firstByte)
	if err != nil || string(payload[1:]) != "next" {
		t.Fatalf("Recv = %q, %v; want the message sent after the refused one", payload, err)
	}
}

func TestSendRefusesEmptyPayload(t *testing.T) {
	a, _ := socketPair(t)
	if err := Send(a, nil, nil); !errors.Is(err, ErrEmptyPayload) {
		t.Fatalf("Send(empty) = %v, want ErrEmptyPayload", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	_, b := socketPair(t)
	buf := make([]byte, 8)
	for name, err := range map[string]error{
		"send nil conn":  Send(nil, []byte("x"), nil),
		"recv nil conn":  recvErr(nil, buf, 1, firstByte),
		"recv nil count": recvErr(b, buf, 1, nil),
		"recv limit -1":  recvErr(b, buf, -1, firstByte),
		"recv limit 254": recvErr(b, buf, MaxFDs+1, firstByte),
		"peercred nil":   second(PeerCred(nil)),
		"memfd limit -1": second(ReadSealedMemfd(0, -1)),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func second[A, B any](_ A, b B) B { return b }

func recvErr(conn *net.UnixConn, buf []byte, maxFDs int, count DeclaredCount) error {
	_, _, err := Recv(conn, buf, maxFDs, count)
	return err
}

// TestSendLeavesNonblockingAlone sends a nonblocking socket and checks that
// O_NONBLOCK is still set on it, on the received copy (the same open file
// description) and on the connection Send wrote to: fdpass never calls Fd,
// which would switch them to blocking.
func TestSendLeavesNonblockingAlone(t *testing.T) {
	noLeaks(t)
	a, b := socketPair(t)
	c, _ := socketPair(t)
	var passed int
	rawFD(t, c, func(fd int) { passed = fd })
	if statusFlags(t, passed)&unix.O_NONBLOCK == 0 {
		t.Fatal("test socket is not nonblocking to begin with")
	}
	if err := Send(a, message(1, "x"), []int{passed}); err != nil {
		t.Fatal(err)
	}
	_, fds, err := Recv(b, make([]byte, 8), 1, firstByte)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, fds...)
	rawFD(t, a, func(fd int) {
		for what, fd := range map[string]int{"sent socket": passed, "received copy": fds[0], "sending connection": fd} {
			if statusFlags(t, fd)&unix.O_NONBLOCK == 0 {
				t.Errorf("%s lost O_NONBLOCK", what)
			}
		}
	})
	rawFD(t, b, func(fd int) {
		if statusFlags(t, fd)&unix.O_NONBLOCK == 0 {
			t.Error("receiving connection lost O_NONBLOCK")
		}
	})
}

func TestSocketPair(t *testing.T) {
	noLeaks(t)
	a, b := socketPair(t)
	for _, c := range []*net.UnixConn{a, b} {
		rawFD(t, c, func(fd int) {
			if !isCloexec(t, fd) {
				t.Errorf("socket pair end fd %d is not close-on-exec", fd)
			}
			d, err := Describe(fd)
			if err != nil {
				t.Fatal(err)
			}
			if d.Kind != KindUnix || d.SockType != "seqpacket" || d.Local != "" || d.Peer != "" {
				t.Errorf("socket pair end = %+v, want an unnamed unix seqpacket socket", d)
			}
		})
	}
}

func TestPeerCred(t *testing.T) {
	a, _ := socketPair(t)
	cred, err := PeerCred(a)
	if err != nil {
		t.Fatal(err)
	}
	if int(cred.Pid) != os.Getpid() || int(cred.Uid) != os.Geteuid() || int(cred.Gid) != os.Getegid() {
		t.Errorf("PeerCred = %+v, want pid %d uid %d gid %d", cred, os.Getpid(), os.Geteuid(), os.Getegid())
	}
}
