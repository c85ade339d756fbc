package supervisor

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// returnCont handles a ReturnCont: it describes and collapses the
// descriptors, commits the continuation, holds what the plan keeps, and only
// then answers Ack with the continuation's id. On any failure every
// received descriptor is closed, the app gets Error and keeps its session.
func (s *Supervisor) returnCont(c *conn, id uint64, m *proto.ReturnCont, fds []int) {
	sess, p, err := s.claimSuspend(c, m)
	if err != nil {
		closeFDs(fds)
		c.fail(id, err)
		return
	}
	if !p.sent.IsZero() {
		s.stage(p.stages, stageAppReturn, c.recvAt.Sub(p.sent))
	}
	cont, err := s.commit(c, sess, m, fds, p.stages)
	if err != nil {
		c.fail(id, err)
	} else {
		c.reply(id, &proto.Ack{Value: uint64(cont)})
		c.log.Info().Stringer("session", sess.id).Stringer("cont", cont).Stringer("kind", m.Kind).Msg("session suspended")
	}
	s.settleSuspend(sess, p, cont, err)
}

// commit turns a ReturnCont into a stored, held continuation. It owns fds:
// on error all are closed; on success the redundant ones are closed and the
// rest are in the holder table. The commit's duration goes to stages.
func (s *Supervisor) commit(c *conn, sess *session, m *proto.ReturnCont, fds []int, stages *stageRecorder) (contstore.ID, error) {
	rec, plan, err := s.buildRecord(c, sess, m, fds)
	if err != nil {
		closeFDs(fds)
		return 0, fmt.Errorf("suspend session %v: %w", sess.id, err)
	}
	start := time.Now()
	if err := s.store.PutMarking(&rec, contstore.SessionSuspended); err != nil {
		closeFDs(fds)
		return 0, fmt.Errorf("suspend session %v: %w", sess.id, err)
	}
	s.stage(stages, stageCommit, time.Since(start))
	if err := plan.CloseRedundant(); err != nil {
		s.log.Warn().Err(err).Stringer("cont", rec.ID).Msg("redundant descriptor not closed")
	}
	held := make([]int, len(plan.Held))
	for i, h := range plan.Held {
		held[i] = h.FD
	}
	s.mu.Lock()
	s.hold(&heldCont{rec: heldRecordOf(&rec), app: sess.app, sess: sess, fds: held, state: contstore.StateSuspended})
	s.mu.Unlock()
	return rec.ID, nil
}

// buildRecord describes the descriptors, plans their collapse and fills in
// the record, the exec description defaulted from the peer's own process.
func (s *Supervisor) buildRecord(c *conn, sess *session, m *proto.ReturnCont, fds []int) (contstore.Continuation, fdpass.Plan, error) {
	slots := make([]fdpass.Slot, len(fds))
	for i, fd := range fds {
		desc, err := fdpass.Describe(fd)
		if err != nil {
			return contstore.Continuation{}, fdpass.Plan{}, fmt.Errorf("describe slot %d: %w", i, err)
		}
		slots[i] = fdpass.Slot{Number: int(m.Slots[i].FD), FD: fd, Desc: desc}
	}
	plan, err := fdpass.Collapse(slots)
	if err != nil {
		return contstore.Continuation{}, fdpass.Plan{}, fmt.Errorf("collapse descriptors: %w", err)
	}
	now := time.Now()
	rec := contstore.Continuation{
		App: sess.app.name, Session: sess.id, Kind: storeKind(m.Kind), State: contstore.StateSuspended,
		Created: now, Expires: now.Add(s.expiryFor(sess.app, m.ExpirySec)), OldPID: int(c.cred.Pid),
		Store: s.mergedStore(sess, m.Store), Compat: storeTags(m.Compat), DependsOn: sess.deps,
		FDsAfter: plan.After(), Note: sess.name,
	}
	for i, sl := range m.Slots {
		rec.Slots = append(rec.Slots, contstore.Slot{Name: sl.Name, Role: slotRole(sl), Number: int(sl.FD),
			Desc: slots[i].Desc, Held: plan.Restore[i]})
	}
	if m.Kind == proto.KindComplete {
		exec, err := execOf(int(c.cred.Pid), m.Exec)
		if err != nil {
			return contstore.Continuation{}, fdpass.Plan{}, err
		}
		rec.Exec, rec.SigMask = exec, m.Exec.SigMask
	}
	return rec, plan, nil
}

// roleSession is the stored role of the slot that is the session's own
// connection (Slot.Conn): the one MIGRATE_CONT names on resume.
const roleSession = "session"

func slotRole(sl proto.Slot) string {
	if sl.Conn {
		return roleSession
	}
	return sl.Role.String()
}

func storeKind(k proto.Kind) contstore.Kind {
	switch k {
	case proto.KindInternal:
		return contstore.KindInternal
	case proto.KindComplete:
		return contstore.KindComplete
	}
	return contstore.KindSystem
}

func wireKind(k contstore.Kind) proto.Kind {
	switch k {
	case contstore.KindInternal:
		return proto.KindInternal
	case contstore.KindComplete:
		return proto.KindComplete
	}
	return proto.KindSystem
}

// expiryFor is a continuation's lifetime: what the app asked, else the
// app's default, else the supervisor's, never above the cap.
func (s *Supervisor) expiryFor(a *App, askedSec uint32) time.Duration {
	d := time.Duration(askedSec) * time.Second
	if d == 0 {
		d = a.spec.Expiry
	}
	if d == 0 {
		d = s.cfg.DefaultExpiry
	}
	return min(d, s.cfg.MaxExpiry)
}

// mergedStore is the continuation's store: the live session's entries,
// overridden by those the ReturnCont carries.
func (s *Supervisor) mergedStore(sess *session, entries []proto.Entry) []contstore.Entry {
	s.mu.Lock()
	merged := make(map[string]proto.Entry, len(sess.store)+len(entries))
	for k, e := range sess.store {
		merged[k] = e
	}
	s.mu.Unlock()
	for _, e := range entries {
		merged[e.Key] = e
	}
	out := make([]contstore.Entry, 0, len(merged))
	for _, e := range merged {
		out = append(out, contstore.Entry{Key: e.Key, Value: e.Value, Exported: e.Exported})
	}
	slices.SortFunc(out, func(a, b contstore.Entry) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func storeTags(tags []proto.CompatTag) []contstore.Tag {
	var out []contstore.Tag
	for _, t := range tags {
		out = append(out, contstore.Tag{ID: t.ID, Name: t.Name, Value: t.Value})
	}
	return out
}
