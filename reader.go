//go:build linux

package migrate

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
	"golang.org/x/sys/unix"
)

// readLoop is the Client's one reader: it receives every record, hands
// replies to the requests waiting for them and the supervisor's requests
// to dispatch. It ends when the connection does.
func (c *Client) readLoop() {
	defer close(c.done)
	buf := make([]byte, proto.MaxMessageSize)
	var last []byte // the record fdpass last saw, to answer it when refused
	declared := func(rec []byte) (int, error) {
		last = rec
		return proto.DeclaredFDs(rec)
	}
	for {
		last = nil
		rec, fds, err := fdpass.Recv(c.conn, buf, proto.MaxFDs, declared)
		if err != nil {
			if c.recvFailed(last, err) {
				continue
			}
			c.shutdown(fmt.Errorf("%w: %w", ErrClosed, err))
			return
		}
		m, fds, err := decodeRecord(rec, fds)
		if err != nil {
			c.reject(rec, proto.CodeOf(err), err)
			continue
		}
		c.dispatch(m, fds)
	}
}

// recvFailed handles a record fdpass refused (its descriptors are closed
// already) and reports whether the connection is still usable. rec is the
// refused record when fdpass got as far as reading its header; a record
// with a readable id is answered.
func (c *Client) recvFailed(rec []byte, err error) bool {
	switch {
	case errors.Is(err, fdpass.ErrCountMismatch):
		c.reject(rec, proto.CodeFDCountMismatch, err)
		return true
	case errors.Is(err, fdpass.ErrBadPayload):
		c.reject(rec, proto.CodeOf(err), err)
		return true
	case errors.Is(err, fdpass.ErrTruncated), errors.Is(err, fdpass.ErrTooManyFDs):
		return true // no record to answer: the kernel cut it
	}
	return false
}

// reject answers a malformed record: a supervisor request gets Error with
// code, and a call waiting for a reply with that id gets ErrProtocol. A
// record without a readable id is dropped.
func (c *Client) reject(rec []byte, code proto.ErrorCode, cause error) {
	if len(rec) < proto.HeaderSize || rec[0] != 'M' || rec[1] != 'G' {
		return
	}
	c.rejectID(binary.LittleEndian.Uint64(rec[8:]), code, cause)
}

// rejectID is reject for a message whose id is known.
func (c *Client) rejectID(id uint64, code proto.ErrorCode, cause error) {
	switch {
	case id == 0:
	case proto.FromSupervisor(id):
		c.answer(id, &proto.Error{Code: code, Message: cause.Error()})
	default:
		c.fail(id, fmt.Errorf("%w: %w", ErrProtocol, cause))
	}
}

// fail hands err to the call waiting for id, if any.
func (c *Client) fail(id uint64, err error) {
	c.mu.Lock()
	w, ok := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if ok {
		w.ch <- reply{err: err}
	}
}

// decodeRecord decodes one received record, reading a memfd payload (the
// last descriptor, which it closes). It returns the message's own
// descriptors; on error it has closed every descriptor.
func decodeRecord(rec []byte, fds []int) (proto.Message, []int, error) {
	h, err := proto.DecodeHeader(rec)
	if err != nil {
		closeFDs(fds)
		return proto.Message{}, nil, err
	}
	if h.Flags&proto.FlagPayloadMemfd == 0 {
		m, err := proto.Decode(rec)
		if err != nil {
			closeFDs(fds)
			return proto.Message{}, nil, err
		}
		return m, fds, nil
	}
	memfd, fds := fds[len(fds)-1], fds[:len(fds)-1]
	payload, err := fdpass.ReadSealedMemfd(memfd, proto.MaxMemfdPayload)
	unix.Close(memfd)
	if err != nil {
		closeFDs(fds)
		return proto.Message{}, nil, fmt.Errorf("read memfd payload: %w", err)
	}
	m, err := proto.DecodeMemfd(rec, payload)
	if err != nil {
		closeFDs(fds)
		return proto.Message{}, nil, err
	}
	return m, fds, nil
}

// dispatch routes one decoded message. It owns fds.
func (c *Client) dispatch(m proto.Message, fds []int) {
	t := m.Body.Type()
	switch b := m.Body.(type) {
	case *proto.SuspendRequest:
		c.suspendRequested(m.ID, b)
		return
	case *proto.AttachSession:
		c.attachRequested(m.ID, b, fds)
		return
	}
	closeFDs(fds)
	switch {
	case !t.SentBy(proto.OriginSupervisor):
		c.rejectID(m.ID, proto.CodeBadMessage, fmt.Errorf("%v is not sent by a supervisor", t))
	case t.Origin() == proto.OriginReply:
		c.deliver(m) // a reply nobody waits for any more is dropped
	default:
		c.answer(m.ID, &proto.Error{Code: proto.CodeNotSupported, Message: t.String() + " is not handled by " + ClientName})
	}
}

// closeFDs closes descriptors this package received and does not hand on.
func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
