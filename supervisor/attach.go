package supervisor

import (
	"context"
	"fmt"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
)

// attach registers c as its app's attach handler (Attach). The newest
// registration of an app receives its internal resumes.
func (s *Supervisor) attach(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.attached {
		c.attached = true
		c.app.attach = append(c.app.attach, c)
		if c.app.attachWake != nil {
			close(c.app.attachWake) // an upgrade waits for the new version's handler
			c.app.attachWake = nil
		}
	}
	c.log.Info().Msg("attach handler registered")
}

// attachResume resumes an internal or system continuation in the app's
// attached process: AttachSession with the held descriptors in slot order
// and the store. Its Ack resumes the continuation; its Error (or a failure
// to reach it) leaves it suspended.
func (s *Supervisor) attachResume(ctx context.Context, h *heldCont) error {
	s.mu.Lock()
	var c *conn
	if n := len(h.app.attach); n > 0 {
		c = h.app.attach[n-1]
	}
	body, fds := attachBody(h)
	s.mu.Unlock()
	if c == nil {
		err := fmt.Errorf("resume continuation %v: app %s: %w", h.rec.ID, h.app.name, ErrNoAttach)
		s.unresume(h, err)
		return err
	}
	m, err := c.request(ctx, body, fds)
	if err == nil {
		if _, ok := m.Body.(*proto.Ack); !ok {
			err = fmt.Errorf("resume continuation %v: %w: %w", h.rec.ID, ErrRefused, replyError(m))
		}
	}
	if err == nil {
		err = s.store.TransitionMarking(h.rec.ID, contstore.StateResuming, contstore.StateResumed, contstore.SessionActive)
	}
	if err != nil {
		s.unresume(h, err)
		return err
	}
	s.mu.Lock()
	if h.sess != nil {
		h.sess.conn, h.sess.pid = c, int(c.cred.Pid)
	}
	s.finishHeld(h, c)
	h.finishResume(nil)
	s.mu.Unlock()
	c.log.Info().Stringer("cont", h.rec.ID).Msg("continuation resumed in attached process")
	return nil
}

// attachBody builds the AttachSession of a held continuation and the
// descriptors it carries, one per slot. The caller holds s.mu.
func attachBody(h *heldCont) (*proto.AttachSession, []int) {
	rec := h.rec
	body := &proto.AttachSession{Cont: uint64(rec.ID), Session: uint64(rec.Session), Kind: wireKind(rec.Kind),
		PID: uint32(rec.OldPID)}
	if h.sess != nil {
		body.Name = h.sess.name
	}
	var fds []int
	for _, sl := range rec.Slots {
		if sl.Held < 0 {
			continue
		}
		body.Slots = append(body.Slots, proto.Slot{FD: int32(sl.Number), Name: sl.Name, Role: wireRole(sl.Role),
			Conn: sl.Role == roleSession})
		fds = append(fds, h.fds[sl.Held])
	}
	for _, e := range rec.Store {
		body.Store = append(body.Store, proto.Entry{Key: e.Key, Value: e.Value, Exported: e.Exported})
	}
	return body, fds
}

func wireRole(role string) proto.Role {
	if role == roleSession {
		return proto.RoleConn
	}
	for r := proto.RoleConn; r.Valid(); r++ {
		if r.String() == role {
			return r
		}
	}
	return proto.RoleOther
}
