package supervisor

import (
	"fmt"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
)

// dispatch handles one message. App requests run here, in the connection's
// read loop, in order; admin requests and suspend or resume run in a
// goroutine of their own, since they wait on other connections. dispatch
// owns fds: each handler holds or closes them.
func (s *Supervisor) dispatch(c *conn, m proto.Message, fds []int) {
	t := m.Body.Type()
	switch {
	case !t.SentBy(proto.OriginApp):
		closeFDs(fds)
		c.fail(m.ID, fmt.Errorf("handle %v: not sent by apps: %w", t, ErrBadRequest))
		return
	case t.Origin() == proto.OriginReply:
		closeFDs(fds)
		if !c.deliver(m) {
			c.log.Debug().Stringer("type", t).Uint64("request", m.ID).Msg("reply to no request dropped")
		}
		return
	case t == proto.TypeHello:
		c.reply(m.ID, s.helloReply(c, m.Body.(*proto.Hello)))
		return
	case isAdmin(t) != c.admin:
		closeFDs(fds)
		c.fail(m.ID, fmt.Errorf("handle %v: %w", t, ErrPermission))
		return
	case c.admin:
		s.goAdmin(c, m, fds)
		return
	}
	s.dispatchApp(c, m, fds)
}

func isAdmin(t proto.Type) bool {
	return t == proto.TypeAdminRequest || t == proto.TypeAdminStartApp
}

// dispatchApp handles an app's request.
func (s *Supervisor) dispatchApp(c *conn, m proto.Message, fds []int) {
	var reply proto.Body = &proto.Ack{}
	var err error
	switch b := m.Body.(type) {
	case *proto.ReturnCont:
		s.returnCont(c, m.ID, b, fds)
		return
	case *proto.GetSession:
		var id contstore.SessionID
		if id, err = s.getSession(c, b, fds[0]); err != nil {
			closeFDs(fds)
		}
		reply = &proto.Ack{Value: uint64(id)}
	case *proto.SessionClose:
		err = s.closeSession(c, contstore.SessionID(b.Session))
	case *proto.Store:
		err = s.storeSet(c, b)
	case *proto.Retrieve:
		var e proto.Entry
		e, err = s.storeGet(c, b.Scope, b.Key)
		reply = &proto.RetrieveReply{Value: e.Value, Exported: e.Exported}
	case *proto.StoreSize:
		var e proto.Entry
		e, err = s.storeGet(c, b.Scope, b.Key)
		reply = &proto.Ack{Value: uint64(len(e.Value))}
	case *proto.Export:
		err = s.storeExport(c, b)
	case *proto.Attach:
		s.attach(c)
	case *proto.Resumed:
		err = s.resumed(c, contstore.ID(b.Cont))
		defer s.checkDone(c.app)
	case *proto.CompatRegister:
		err = s.compatRegister(c, b)
	case *proto.CompatGet:
		reply, err = s.compatGet(c, b)
	default:
		closeFDs(fds)
		err = fmt.Errorf("handle %v: %w", m.Body.Type(), ErrBadRequest)
	}
	if err != nil {
		c.fail(m.ID, err)
		return
	}
	c.reply(m.ID, reply)
}

// helloReply answers Hello with who the supervisor takes the peer to be.
func (s *Supervisor) helloReply(c *conn, m *proto.Hello) *proto.HelloReply {
	c.log.Debug().Str("claimed_app", m.App).Uint32("claimed_pid", m.PID).Str("client", m.Client).Msg("hello")
	r := &proto.HelloReply{Version: proto.Version, PID: uint32(c.cred.Pid),
		MaxStoreBytes: s.cfg.MaxStoreBytes, MaxValueBytes: s.cfg.MaxValueBytes,
		MaxExpirySec: uint32(s.cfg.MaxExpiry.Seconds())}
	r.DefaultExpirySec = uint32(s.cfg.DefaultExpiry.Seconds())
	if c.app != nil {
		r.App = c.app.name
		r.DefaultExpirySec = uint32(s.expiryFor(c.app, 0).Seconds())
	}
	return r
}

// compatKey is the name a version's vector is registered under.
func compatKey(app, version string) string { return app + "@" + version }

func (s *Supervisor) compatRegister(c *conn, m *proto.CompatRegister) error {
	if err := s.store.PutCompat(compatKey(c.app.name, m.Version), storeTags(m.Tags)); err != nil {
		return fmt.Errorf("register compat vector: %w", err)
	}
	c.log.Info().Str("version", m.Version).Int("tags", len(m.Tags)).Msg("compat vector registered")
	s.mu.Lock()
	c.app.compat, c.app.compatAt = m.Version, time.Now()
	if c.app.compatWake != nil {
		close(c.app.compatWake)
		c.app.compatWake = nil
	}
	s.mu.Unlock()
	return nil
}

func (s *Supervisor) compatGet(c *conn, m *proto.CompatGet) (proto.Body, error) {
	tags, err := s.store.GetCompat(compatKey(c.app.name, m.Version))
	if err != nil {
		return nil, fmt.Errorf("get compat vector %s: %w", m.Version, ErrUnknownKey)
	}
	r := &proto.CompatReply{Version: m.Version}
	for _, t := range tags {
		r.Tags = append(r.Tags, proto.CompatTag{ID: t.ID, Name: t.Name, Value: t.Value})
	}
	return r, nil
}

// hangUp forgets a connection whose read loop ended: its pending requests
// fail, its attach registration ends, and the active sessions it registered
// stay registered with no process to ask and their duplicates closed.
func (s *Supervisor) hangUp(c *conn) {
	_ = c.c.Close() // first, so that done means the socket is gone too
	c.mu.Lock()
	close(c.done)
	c.mu.Unlock()
	s.mu.Lock()
	delete(s.conns, c)
	if c.app != nil {
		for i, a := range c.app.attach {
			if a == c {
				c.app.attach = append(c.app.attach[:i:i], c.app.attach[i+1:]...)
				break
			}
		}
	}
	for _, sess := range s.sessions {
		if sess.conn != c {
			continue
		}
		sess.conn = nil
		if sess.state == sessionActive && sess.dup >= 0 {
			// Nobody is left to suspend it: stop holding the connection,
			// so its peer sees it end when the app's own copies go.
			closeFDs([]int{sess.dup})
			sess.dup = -1
			c.log.Info().Stringer("session", sess.id).Msg("session orphaned, its connection released")
		}
	}
	s.mu.Unlock()
	c.log.Debug().Msg("peer disconnected")
}
