//go:build linux

package fdpass

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRecvErrorsCloseEverything sends a bad message for each way Recv can
// refuse one, and checks the error and that every descriptor that arrived
// was closed: right after Recv the process has exactly the descriptors it
// had before.
func TestRecvErrorsCloseEverything(t *testing.T) {
	errRejected := errors.New("header rejected")
	tests := []struct {
		name     string
		maxFDs   int
		bufSize  int
		count    DeclaredCount
		send     sender
		wantErr  error
		wantDecl int // for ErrCountMismatch
		wantRecv int
	}{
		{
			name: "more fds than the control buffer holds", maxFDs: 2,
			send:    sendFDs(message(3, "x"), 3),
			wantErr: ErrTruncated,
		},
		{
			name: "more fds than allowed, within the buffer's alignment slack", maxFDs: 1,
			send:    sendFDs(message(2, "x"), 2),
			wantErr: ErrTooManyFDs,
		},
		{
			name: "declared 3, sent 2", maxFDs: 4,
			send:    sendFDs(message(3, "x"), 2),
			wantErr: ErrCountMismatch, wantDecl: 3, wantRecv: 2,
		},
		{
			name: "declared 1, sent 2", maxFDs: 4,
			send:    sendFDs(message(1, "x"), 2),
			wantErr: ErrCountMismatch, wantDecl: 1, wantRecv: 2,
		},
		{
			name: "payload larger than the buffer", maxFDs: 4, bufSize: 4,
			send:    sendFDs(message(2, "twelve bytes"), 2),
			wantErr: ErrTruncated,
		},
		{
			name: "count function rejects the payload", maxFDs: 4,
			count:   func([]byte) (int, error) { return 0, errRejected },
			send:    sendFDs(message(2, "x"), 2),
			wantErr: errRejected,
		},
		{
			name: "several SCM_RIGHTS messages, declared 1, sent 3", maxFDs: 4,
			send:    sendSeveralRights(message(1, "x")),
			wantErr: ErrCountMismatch, wantDecl: 1, wantRecv: 3,
		},
		{
			name: "credentials take the control space (SO_PASSCRED)", maxFDs: 1,
			send:    passCredThenSend(message(1, "x")),
			wantErr: ErrTruncated,
		},
		{
			name: "peer closed before sending", maxFDs: 4,
			send:    func(t *testing.T, a, _ *net.UnixConn, _ []int) { a.Close() },
			wantErr: ErrClosed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			a, b := socketPair(t)
			fixtures := []int{
				open(t, "/dev/null", unix.O_RDONLY),
				open(t, "/dev/null", unix.O_RDONLY),
				open(t, "/dev/null", unix.O_RDONLY),
			}
			count := tt.count
			if count == nil {
				count = firstByte
			}
			bufSize := tt.bufSize
			if bufSize == 0 {
				bufSize = 64
			}
			tt.send(t, a, b, fixtures)

			before := openFDs(t)
			payload, fds, err := Recv(b, make([]byte, bufSize), tt.maxFDs, count)
			expectNoNewFDs(t, before)

			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Recv error = %v, want %v", err, tt.wantErr)
			}
			if payload != nil || fds != nil {
				t.Errorf("Recv returned payload %q and fds %v with its error", payload, fds)
			}
			if errors.Is(tt.wantErr, ErrCountMismatch) {
				var ce *CountError
				if !errors.As(err, &ce) || ce.Declared != tt.wantDecl || ce.Received != tt.wantRecv {
					t.Errorf("Recv error = %v, want CountError{Declared: %d, Received: %d}", err, tt.wantDecl, tt.wantRecv)
				}
			}
			for _, fd := range fixtures {
				if !isOpen(fd) {
					t.Errorf("sender's fd %d was closed", fd)
				}
			}
		})
	}
}

// A sender puts one message on a (to be read from b) using fds.
type sender func(t *testing.T, a, b *net.UnixConn, fds []int)

func sendFDs(payload []byte, n int) sender {
	return func(t *testing.T, a, _ *net.UnixConn, fds []int) {
		t.Helper()
		if err := Send(a, payload, fds[:n]); err != nil {
			t.Fatal(err)
		}
	}
}

// sendSeveralRights sends fds[0] in one SCM_RIGHTS control message and
// fds[1:3] in a second, in one sendmsg, as a hostile peer could.
func sendSeveralRights(payload []byte) sender {
	return func(t *testing.T, a, _ *net.UnixConn, fds []int) {
		t.Helper()
		oob := append(unix.UnixRights(fds[0]), unix.UnixRights(fds[1], fds[2])...)
		rawFD(t, a, func(fd int) {
			if err := unix.Sendmsg(fd, payload, oob, nil, 0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// passCredThenSend sets SO_PASSCRED on the receiving end, so that the
// kernel adds an SCM_CREDENTIALS message, and sends one descriptor.
func passCredThenSend(payload []byte) sender {
	return func(t *testing.T, a, b *net.UnixConn, fds []int) {
		t.Helper()
		rawFD(t, b, func(fd int) {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
				t.Fatal(err)
			}
		})
		if err := Send(a, payload, fds[:1]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecvSeveralRightsMessages(t *testing.T) {
	noLeaks(t)
	a, b := socketPair(t)
	fds := []int{
		open(t, "/dev/null", unix.O_RDONLY),
		open(t, "/dev/zero", unix.O_RDONLY),
		open(t, "/dev/full", unix.O_RDONLY),
	}
	sendSeveralRights(message(3, "x"))(t, a, b, fds)
	_, got, err := Recv(b, make([]byte, 8), 4, firstByte)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, got...)
	if len(got) != 3 {
		t.Fatalf("received %d descriptors, want 3", len(got))
	}
	for i := range fds {
		if !mustSame(t, fds[i], got[i]) {
			t.Errorf("descriptor %d arrived out of order or changed", i)
		}
	}
}

func TestRecvAfterPeerClosed(t *testing.T) {
	noLeaks(t)
	a, b := socketPair(t)
	null := open(t, "/dev/null", unix.O_RDONLY)
	if err := Send(a, message(1, "last words"), []int{null}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	// The message sent before the close is still delivered, descriptors
	// included; then the stream ends.
	payload, fds, err := Recv(b, make([]byte, 64), 1, firstByte)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, fds...)
	if string(payload[1:]) != "last words" || len(fds) != 1 {
		t.Errorf("Recv = %q, %v; want the last message and its descriptor", payload, fds)
	}
	if _, _, err := Recv(b, make([]byte, 64), 1, firstByte); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after close = %v, want ErrClosed", err)
	}
}

func TestRecvHonoursDeadline(t *testing.T) {
	noLeaks(t)
	_, b := socketPair(t)
	if err := b.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Recv(b, make([]byte, 8), 1, firstByte); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Recv past its deadline = %v, want os.ErrDeadlineExceeded", err)
	}
}

// TestRecvWaitsInThePoller starts Recv before anything is sent: it must
// park in the netpoller (the socket is nonblocking) and return the message
// once it arrives.
func TestRecvWaitsInThePoller(t *testing.T) {
	noLeaks(t)
	a, b := socketPair(t)
	type result struct {
		payload []byte
		fds     []int
		err     error
	}
	done := make(chan result, 1)
	go func() {
		p, fds, err := Recv(b, make([]byte, 64), 1, firstByte)
		done <- result{p, fds, err}
	}()
	r, _ := pipe(t)
	if err := Send(a, message(1, "late"), []int{r}); err != nil {
		t.Fatal(err)
	}
	got := <-done
	closeLater(t, got.fds...)
	if got.err != nil || string(got.payload[1:]) != "late" || len(got.fds) != 1 {
		t.Fatalf("Recv = %q, %v, %v; want the late message", got.payload, got.fds, got.err)
	}
}
