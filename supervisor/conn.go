package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// conn is one accepted control connection. Its read loop runs in the
// goroutine serve starts; sends may come from any goroutine.
type conn struct {
	s    *Supervisor
	c    *net.UnixConn
	cred unix.Ucred
	// app is the app the peer belongs to, nil for an admin peer. Both are
	// decided once, at accept, from the kernel's credentials.
	app   *App
	admin bool
	log   zerolog.Logger

	wmu sync.Mutex // one sendmsg at a time

	// firstAt and recvAt are when the read loop received the peer's first
	// message and the one it is dispatching: the instants the stages of a
	// resume are measured from (resumeClock). Only the read loop uses
	// them.
	firstAt, recvAt time.Time

	mu       sync.Mutex
	nextID   uint64                        // the supervisor's last request id on this connection
	pending  map[uint64]chan proto.Message // replies awaited by id
	attached bool                          // the peer sent Attach
	done     chan struct{}                 // closed when the read loop ends
}

// request sends body as a supervisor request with the descriptors fds and
// waits for the peer's reply (Ack or Error). It returns the reply, or the
// context's error, or ErrNoProcess when the connection closes first.
// (SuspendRequest, answered by a ReturnCont request, has its own wait: see
// suspendOne.)
func (c *conn) request(ctx context.Context, body proto.Body, fds []int) (proto.Message, error) {
	id, ch, err := c.startRequest()
	if err != nil {
		return proto.Message{}, err
	}
	defer c.endRequest(id)
	if err := c.send(proto.Message{ID: id, Body: body}, fds); err != nil {
		return proto.Message{}, err
	}
	select {
	case m := <-ch:
		return m, nil
	case <-c.done:
		return proto.Message{}, fmt.Errorf("wait for %v reply from pid %d: %w", body.Type(), c.cred.Pid, ErrNoProcess)
	case <-ctx.Done():
		return proto.Message{}, ctx.Err()
	}
}

// startRequest allocates the next supervisor request id and its reply slot.
func (c *conn) startRequest() (uint64, chan proto.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return 0, nil, fmt.Errorf("send request to pid %d: %w", c.cred.Pid, ErrNoProcess)
	default:
	}
	c.nextID++
	id := proto.SupervisorBit | c.nextID
	ch := make(chan proto.Message, 1)
	c.pending[id] = ch
	return id, ch, nil
}

func (c *conn) endRequest(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// deliver hands a reply to the request waiting for it; it reports false
// when none waits (a late or unsolicited reply).
func (c *conn) deliver(m proto.Message) bool {
	c.mu.Lock()
	ch, ok := c.pending[m.ID]
	delete(c.pending, m.ID)
	c.mu.Unlock()
	if ok {
		ch <- m
	}
	return ok
}

// sentByUs reports whether id is one of the supervisor's request ids
// already used on this connection.
func (c *conn) sentByUs(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return proto.FromSupervisor(id) && id&^proto.SupervisorBit <= c.nextID && id != proto.SupervisorBit
}

// send writes one message with its descriptors, in a sealed memfd when it
// is too large for a record. The descriptors stay the caller's.
func (c *conn) send(m proto.Message, fds []int) error {
	rec, err := proto.Encode(m)
	if errors.Is(err, proto.ErrTooLarge) {
		return c.sendMemfd(m, fds)
	}
	if err != nil {
		return fmt.Errorf("encode %v: %w", m.Body.Type(), err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := fdpass.Send(c.c, rec, fds); err != nil {
		return fmt.Errorf("send %v to pid %d: %w", m.Body.Type(), c.cred.Pid, err)
	}
	return nil
}

func (c *conn) sendMemfd(m proto.Message, fds []int) error {
	rec, payload, err := proto.EncodeMemfd(m)
	if err != nil {
		return fmt.Errorf("encode %v: %w", m.Body.Type(), err)
	}
	mfd, err := fdpass.NewSealedMemfd("migrate-"+m.Body.Type().String(), payload)
	if err != nil {
		return fmt.Errorf("send %v: %w", m.Body.Type(), err)
	}
	defer unix.Close(mfd)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	all := append(append([]int(nil), fds...), mfd)
	if err := fdpass.Send(c.c, rec, all); err != nil {
		return fmt.Errorf("send %v to pid %d: %w", m.Body.Type(), c.cred.Pid, err)
	}
	return nil
}

// reply answers request id with body, logging a failure to send: the peer
// may be gone, which its read loop notices.
func (c *conn) reply(id uint64, body proto.Body) {
	if err := c.send(proto.Message{ID: id, Body: body}, nil); err != nil {
		c.log.Debug().Err(err).Msg("reply not sent")
	}
}

// fail answers request id with the Error for err.
func (c *conn) fail(id uint64, err error) {
	c.log.Debug().Err(err).Uint64("request", id).Msg("request refused")
	c.reply(id, errorReply(err))
}

// denied refuses c's request op on an object of another app, owner. The
// error, which goes back to the peer, names neither the owner nor anything
// of its object; the owner is in the supervisor's log only.
func (c *conn) denied(op, owner string) error {
	c.log.Warn().Str("op", op).Str("owner", owner).Msg("request on another app's object refused")
	return fmt.Errorf("%s: %w", op, ErrPermission)
}

// closeFDs closes descriptors the supervisor received and will not keep.
func closeFDs(fds []int) {
	for _, fd := range fds {
		_ = unix.Close(fd)
	}
}
