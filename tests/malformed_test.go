package tests

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// rawConn is a SEQPACKET connection to the control socket that sends
// whatever bytes and descriptors a test makes up.
type rawConn struct {
	t *testing.T
	c *net.UnixConn
}

func dialRaw(t *testing.T, sock string) *rawConn {
	t.Helper()
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

// record encodes an admin stats request with id.
func statsRecord(t *testing.T, id uint64) []byte {
	t.Helper()
	rec, err := proto.Encode(proto.Message{ID: id, Body: &proto.AdminRequest{Op: proto.AdminStats}})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// probe sends a good stats request (id 1000) after the bad record and reads
// replies until its answer: a reply to anything else must be an Error. It
// returns that Error (nil if none came) and whether the supervisor closed
// the connection instead of answering.
func (r *rawConn) probe() (*proto.Error, bool) {
	r.t.Helper()
	const probeID = 1000
	if err := fdpass.Send(r.c, statsRecord(r.t, probeID), nil); err != nil {
		return nil, true // closed after the bad record
	}
	_ = r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var refusal *proto.Error
	buf := make([]byte, proto.MaxMessageSize)
	for {
		payload, fds, err := fdpass.Recv(r.c, buf, 0, proto.DeclaredFDs)
		for _, fd := range fds {
			unix.Close(fd)
		}
		if errors.Is(err, fdpass.ErrClosed) || errors.Is(err, unix.ECONNRESET) {
			return refusal, true
		}
		if err != nil {
			r.t.Fatalf("read replies: %v", err)
		}
		m, err := proto.Decode(payload)
		if err != nil {
			r.t.Fatalf("the supervisor sent a record that does not decode: %v", err)
		}
		if m.ID == probeID {
			if _, ok := m.Body.(*proto.AdminReply); !ok {
				r.t.Fatalf("the good request after the bad one got %v", m.Body.Type())
			}
			return refusal, false
		}
		e, ok := m.Body.(*proto.Error)
		if !ok {
			r.t.Fatalf("a malformed record was answered with %v", m.Body.Type())
		}
		refusal = e
	}
}

// pipeFDs makes a pipe; the test keeps the read end and returns the write
// end to send. When every copy of the write end is closed, the read end
// reads EOF: that is how the test sees the supervisor close what it got.
func pipeFDs(t *testing.T) (read *os.File, write int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r := os.NewFile(uintptr(p[0]), "pipe-read")
	t.Cleanup(func() { r.Close() })
	return r, p[1]
}

// TestMalformedMessagesAreRefused sends the control socket records that are
// garbage, truncated, lying about their length, version, type or payload,
// or carrying other descriptors than they declare. Each is refused with an
// Error or a closed connection; descriptors that arrived are closed; the
// supervisor answers the next good request and ends with the descriptors it
// had.
func TestMalformedMessagesAreRefused(t *testing.T) {
	d := startDaemon(t)
	fdsBefore := settledFDs(t, d.pid(), -1)
	le := binary.LittleEndian
	patch := func(off int, b ...byte) []byte {
		rec := statsRecord(t, 7)
		copy(rec[off:], b)
		return rec
	}
	for _, tc := range []struct {
		name string
		rec  []byte
		fds  int             // pipe write ends to attach
		code proto.ErrorCode // the Error expected if the connection stays open; 0: any
	}{
		// Without the magic there is no request id to answer: the
		// record is dropped (docs/protocol.md, "Header").
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: migrate\r\n\r\n"), 0, noAnswer},
		{"truncated header", statsRecord(t, 7)[:10], 0, 0},
		{"header only, payload missing", statsRecord(t, 7)[:proto.HeaderSize], 0, 0},
		{"length says more", patch(16, le.AppendUint32(nil, 4000)...), 0, 0},
		{"unknown version", patch(2, 9), 0, proto.CodeBadVersion},
		{"unknown type", patch(3, 0x7e), 0, 0},
		{"garbled payload", append(statsRecord(t, 7)[:proto.HeaderSize:proto.HeaderSize], payloadOf(statsRecord(t, 7), 0xff)...), 0, 0},
		{"declares 2 descriptors, 1 attached", patch(6, 2, 0), 1, proto.CodeFDCountMismatch},
		{"declares none, 2 attached", statsRecord(t, 7), 2, proto.CodeFDCountMismatch},
		{"declares 254 descriptors", patch(6, 254, 0), 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, d.sock)
			var reads []*os.File
			var fds []int
			for range tc.fds {
				rd, wr := pipeFDs(t)
				reads, fds = append(reads, rd), append(fds, wr)
			}
			err := fdpass.Send(r.c, tc.rec, fds)
			for _, fd := range fds {
				unix.Close(fd)
			}
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			refusal, closed := r.probe()
			if tc.code == noAnswer {
				if refusal != nil {
					t.Errorf("a record without a header was answered: %v", refusal)
				}
				return
			}
			if !closed && refusal == nil {
				t.Fatalf("the record was neither refused with an Error nor answered by closing the connection")
			}
			if !closed && tc.code != 0 && refusal.Code != tc.code {
				t.Errorf("refused with %v, want %v", refusal, tc.code)
			}
			for i, rd := range reads {
				_ = rd.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := rd.Read(make([]byte, 1)); err != io.EOF {
					t.Errorf("descriptor %d that arrived with the bad record: read %v, want EOF (closed by the supervisor)", i, err)
				}
			}
		})
	}
	if _, err := d.ctl("stats"); err != nil {
		t.Errorf("the supervisor is not healthy after the bad records: %v", err)
	}
	if n := settledFDs(t, d.pid(), fdsBefore); n != fdsBefore {
		t.Errorf("migrated has %d descriptors after the bad records, %d before", n, fdsBefore)
	}
}

// noAnswer marks a record the supervisor cannot answer (no request id): it
// must drop it, answer nothing to it, and serve the next.
const noAnswer proto.ErrorCode = 1<<16 - 1

// payloadOf returns a payload as long as rec's, every byte b.
func payloadOf(rec []byte, b byte) []byte {
	p := make([]byte, len(rec)-proto.HeaderSize)
	for i := range p {
		p[i] = b
	}
	return p
}
