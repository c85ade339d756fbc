//go:build linux

package migrate

import (
	"context"
	"errors"
	"fmt"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
	"golang.org/x/sys/unix"
)

// call sends body as a new request carrying fds (which stay the caller's)
// and waits for its reply. An Error reply becomes a *SupervisorError naming
// op. When ctx ends first, call returns ctx's error and drops the reply
// when it comes.
func (c *Client) call(ctx context.Context, op string, body proto.Body, fds []int) (proto.Message, error) {
	return c.callHook(ctx, op, body, fds, nil)
}

// callHook is call with a hook run on the reader goroutine when the reply
// arrives (see waiter).
func (c *Client) callHook(ctx context.Context, op string, body proto.Body, fds []int, hook func(proto.Message)) (proto.Message, error) {
	id, ch, err := c.register(hook)
	if err != nil {
		return proto.Message{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := c.send(proto.Message{ID: id, Body: body}, fds); err != nil {
		c.unregister(id)
		return proto.Message{}, fmt.Errorf("%s: %w", op, err)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return proto.Message{}, fmt.Errorf("%s: %w", op, r.err)
		}
		// A request sent behind a pending Hello (startClient) counts only
		// if the handshake succeeded; its answer came first.
		if err := c.greeting(ctx); err != nil {
			return proto.Message{}, fmt.Errorf("%s: %w", op, err)
		}
		if e, ok := r.msg.Body.(*proto.Error); ok {
			return proto.Message{}, &SupervisorError{Op: op, Code: e.Code, Message: e.Message}
		}
		return r.msg, nil
	case <-ctx.Done():
		c.unregister(id)
		return proto.Message{}, fmt.Errorf("%s: %w", op, context.Cause(ctx))
	}
}

// callAck is call for requests answered by Ack; it returns the Ack's value.
func (c *Client) callAck(ctx context.Context, op string, body proto.Body, fds []int) (uint64, error) {
	m, err := c.call(ctx, op, body, fds)
	if err != nil {
		return 0, err
	}
	ack, ok := m.Body.(*proto.Ack)
	if !ok {
		return 0, fmt.Errorf("%s: %w: answered with %v", op, ErrProtocol, m.Body.Type())
	}
	return ack.Value, nil
}

// register allocates the next request id and the channel its reply will
// arrive on.
func (c *Client) register(hook func(proto.Message)) (uint64, chan reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, nil, c.err
	}
	c.nextID++
	id := c.nextID
	ch := make(chan reply, 1)
	c.pending[id] = &waiter{ch: ch, hook: hook}
	return id, ch, nil
}

func (c *Client) unregister(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, id) // pending is nil after shutdown; delete is a no-op then
}

// deliver hands a reply to the request waiting for it. It reports false for
// an id nobody waits for (a reply after its caller gave up, or a bogus one).
func (c *Client) deliver(m proto.Message) bool {
	c.mu.Lock()
	w, ok := c.pending[m.ID]
	delete(c.pending, m.ID)
	c.mu.Unlock()
	if !ok {
		return false
	}
	if _, isErr := m.Body.(*proto.Error); !isErr && w.hook != nil {
		w.hook(m)
	}
	w.ch <- reply{msg: m}
	return true
}

// answer replies to one of the supervisor's requests.
func (c *Client) answer(id uint64, body proto.Body) error {
	return c.send(proto.Message{ID: id, Body: body}, nil)
}

// send encodes m and writes it with fds, putting the payload in a sealed
// memfd when it is too large for a record. fds stay the caller's.
func (c *Client) send(m proto.Message, fds []int) error {
	rec, err := proto.Encode(m)
	if errors.Is(err, proto.ErrTooLarge) {
		return c.sendMemfd(m, fds)
	}
	if err != nil {
		return fmt.Errorf("encode %v: %w: %w", m.Body.Type(), ErrInvalid, err)
	}
	if err := fdpass.Send(c.conn, rec, fds); err != nil {
		return c.sendFailed(err)
	}
	return nil
}

func (c *Client) sendMemfd(m proto.Message, fds []int) error {
	rec, payload, err := proto.EncodeMemfd(m)
	if err != nil {
		return fmt.Errorf("encode %v: %w: %w", m.Body.Type(), ErrInvalid, err)
	}
	memfd, err := fdpass.NewSealedMemfd("migrate-payload", payload)
	if err != nil {
		return fmt.Errorf("send %v: %w", m.Body.Type(), err)
	}
	defer unix.Close(memfd)
	all := append(append(make([]int, 0, len(fds)+1), fds...), memfd)
	if err := fdpass.Send(c.conn, rec, all); err != nil {
		return c.sendFailed(err)
	}
	return nil
}

// sendFailed explains a failed write: after the connection ended it is
// that ending (ErrClosed); otherwise the write's own error. A broken
// connection is noticed, and shut down, by the reader.
func (c *Client) sendFailed(err error) error {
	if cerr := c.Err(); cerr != nil {
		return cerr
	}
	return err
}
