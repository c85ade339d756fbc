package supervisor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// serve runs one connection: it identifies the peer, then reads and
// dispatches messages until the peer hangs up or the supervisor closes.
func (s *Supervisor) serve(uc *net.UnixConn) {
	defer s.wg.Done()
	c, err := s.accept(uc)
	if err != nil {
		s.log.Warn().Err(err).Msg("connection refused")
		s.refuse(uc)
		return
	}
	defer s.hangUp(c)
	buf := make([]byte, proto.MaxMessageSize)
	for {
		clear(buf[:proto.HeaderSize])
		m, fds, err := c.receive(buf)
		switch {
		case errors.Is(err, fdpass.ErrClosed), errors.Is(err, net.ErrClosed):
			return
		case isConnError(err):
			c.log.Debug().Err(err).Msg("connection read failed")
			return
		case err != nil:
			if id := headerID(buf); id != 0 {
				c.fail(id, err)
			}
			continue
		}
		c.recvAt = time.Now()
		if c.firstAt.IsZero() {
			c.firstAt = c.recvAt
		}
		s.dispatch(c, m, fds)
	}
}

// receive reads one message and its descriptors; a payload in a memfd is
// read, checked and closed here, so fds are only the message's own. On error
// nothing stays open.
func (c *conn) receive(buf []byte) (proto.Message, []int, error) {
	payload, fds, err := fdpass.Recv(c.c, buf, proto.MaxFDs, proto.DeclaredFDs)
	if err != nil {
		return proto.Message{}, nil, fmt.Errorf("receive: %w", err)
	}
	h, err := proto.DecodeHeader(payload)
	if err != nil {
		closeFDs(fds)
		return proto.Message{}, nil, fmt.Errorf("decode header: %w", err)
	}
	if h.Flags&proto.FlagPayloadMemfd == 0 {
		m, err := proto.Decode(payload)
		if err != nil {
			closeFDs(fds)
			return proto.Message{}, nil, fmt.Errorf("decode %v: %w", h.Type, err)
		}
		return m, fds, nil
	}
	mfd := fds[len(fds)-1]
	fds = fds[:len(fds)-1]
	body, err := fdpass.ReadSealedMemfd(mfd, proto.MaxMemfdPayload)
	_ = unix.Close(mfd)
	if err == nil && int64(len(body)) != int64(h.Length) {
		err = fmt.Errorf("memfd of %d bytes, header says %d: %w", len(body), h.Length, proto.ErrLength)
	}
	if err != nil {
		closeFDs(fds)
		return proto.Message{}, nil, fmt.Errorf("read %v payload: %w", h.Type, err)
	}
	m, err := proto.DecodeMemfd(payload, body)
	if err != nil {
		closeFDs(fds)
		return proto.Message{}, nil, fmt.Errorf("decode %v: %w", h.Type, err)
	}
	return m, fds, nil
}

// headerID returns the request id of the record in buf when its magic is
// right, so a rejected record can still be answered; 0 otherwise.
func headerID(buf []byte) uint64 {
	if len(buf) < proto.HeaderSize || buf[0] != 'M' || buf[1] != 'G' {
		return 0
	}
	return binary.LittleEndian.Uint64(buf[8:16])
}

// isConnError reports an error of the connection itself, after which
// nothing more can be read.
func isConnError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	return errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EPIPE)
}

// refuseWait bounds how long a refused peer has to send its first message.
const refuseWait = 2 * time.Second

// refuse tells a peer that is neither an app nor an admin why, answering its
// first request, and closes the connection.
func (s *Supervisor) refuse(uc *net.UnixConn) {
	defer uc.Close()
	_ = uc.SetReadDeadline(time.Now().Add(refuseWait))
	buf := make([]byte, proto.MaxMessageSize)
	_, fds, err := fdpass.Recv(uc, buf, proto.MaxFDs, proto.DeclaredFDs)
	closeFDs(fds)
	id := headerID(buf)
	if (err == nil || !errors.Is(err, fdpass.ErrClosed)) && id != 0 && !proto.FromSupervisor(id) {
		rec, encErr := proto.Encode(proto.Message{ID: id, Body: &proto.Error{
			Code: proto.CodePermissionDenied, Message: "peer is neither one of the supervisor's apps nor an admin"}})
		if encErr == nil {
			_ = fdpass.Send(uc, rec, nil)
		}
	}
}
