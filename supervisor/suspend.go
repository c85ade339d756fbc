package supervisor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
)

// pendingSuspend is a SuspendRequest awaiting its ReturnCont.
type pendingSuspend struct {
	id   uint64 // the SuspendRequest's request id
	conn *conn
	// claimed is set when a ReturnCont answering it is being committed:
	// from then on the deadline no longer applies, the commit decides.
	claimed bool
	result  chan suspendResult // one result, from the ReturnCont handler
	stages  *stageRecorder     // the caller's (withStages), nil for none
	sent    time.Time          // when the SuspendRequest was sent; zero for none
}

type suspendResult struct {
	cont contstore.ID
	err  error
}

// Suspend asks the app to suspend session id and waits until the
// continuation is committed, the app refuses, or the deadline passes. Every
// session that depends on id, directly or not, is asked too, with reason
// dependency. It returns the committed continuations, id's first; an error
// concerns id itself (ErrTimeout, ErrRefused, ErrNoProcess, ErrBusy, ...):
// the session then stays live. A dependent that fails to suspend is logged
// and stays live.
func (s *Supervisor) Suspend(ctx context.Context, id contstore.SessionID, reason proto.Reason) ([]contstore.ID, error) {
	return s.suspend(ctx, nil, id, reason)
}

func (s *Supervisor) suspend(ctx context.Context, c *conn, id contstore.SessionID, reason proto.Reason) ([]contstore.ID, error) {
	s.mu.Lock()
	_, err := s.ownSession(c, id)
	deps := s.dependentsDeep(id)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	depConts := make([]contstore.ID, len(deps))
	var wg sync.WaitGroup
	depCtx := withStages(ctx, nil) // the stages are the session's own
	for i, d := range deps {
		wg.Go(func() {
			cont, err := s.suspendOne(depCtx, d, proto.ReasonDependency)
			if err != nil {
				s.log.Warn().Err(err).Stringer("session", d).Stringer("cause", id).Msg("dependent session not suspended")
			}
			depConts[i] = cont
		})
	}
	cont, err := s.suspendOne(ctx, id, reason)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	out := []contstore.ID{cont}
	for _, dc := range depConts {
		if dc != 0 {
			out = append(out, dc)
		}
	}
	return out, nil
}

// dependentsDeep returns every active session that depends on id, directly
// or through others, each once. The caller holds s.mu.
func (s *Supervisor) dependentsDeep(id contstore.SessionID) []contstore.SessionID {
	seen := map[contstore.SessionID]bool{id: true}
	var out []contstore.SessionID
	queue := []contstore.SessionID{id}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, d := range s.dependents(cur) {
			if !seen[d.id] && d.state == sessionActive {
				seen[d.id] = true
				out = append(out, d.id)
				queue = append(queue, d.id)
			}
		}
	}
	return out
}

// suspendOne sends one SuspendRequest and waits for its outcome.
func (s *Supervisor) suspendOne(ctx context.Context, id contstore.SessionID, reason proto.Reason) (contstore.ID, error) {
	p, c, err := s.startSuspend(id)
	if err != nil {
		return 0, err
	}
	rid, replies, err := c.startRequest()
	if err != nil {
		s.abandonSuspend(id, p)
		return 0, err
	}
	defer c.endRequest(rid)
	timeout := s.cfg.SuspendTimeout
	req := &proto.SuspendRequest{Session: uint64(id), Reason: reason, DeadlineMS: uint32(timeout / time.Millisecond)}
	start := time.Now()
	s.mu.Lock()
	p.id, p.stages, p.sent = rid, stagesOf(ctx), start
	s.mu.Unlock()
	if err := c.send(proto.Message{ID: rid, Body: req}, nil); err != nil {
		s.abandonSuspend(id, p)
		return 0, fmt.Errorf("suspend session %v: %w", id, err)
	}
	c.log.Debug().Stringer("session", id).Stringer("reason", reason).Msg("suspend requested")
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var cause error
	select {
	case r := <-p.result:
		s.stage(p.stages, stageAppSuspend, time.Since(start))
		return r.cont, r.err
	case m := <-replies:
		cause = fmt.Errorf("suspend session %v: %w: %w", id, ErrRefused, replyError(m))
	case <-timer.C:
		cause = fmt.Errorf("suspend session %v: no continuation within %v: %w", id, timeout, ErrTimeout)
	case <-c.done:
		cause = fmt.Errorf("suspend session %v: connection closed: %w", id, ErrNoProcess)
	case <-ctx.Done():
		cause = fmt.Errorf("suspend session %v: %w", id, ctx.Err())
	}
	if s.abandonSuspend(id, p) {
		s.log.Warn().Err(cause).Stringer("session", id).Msg("suspend failed, session stays live")
		return 0, cause
	}
	// A ReturnCont claimed the request before the deadline: its commit
	// decides.
	r := <-p.result
	return r.cont, r.err
}

// replyError returns the error an app's reply to a request carries.
func replyError(m proto.Message) error {
	if e, ok := m.Body.(*proto.Error); ok {
		return e
	}
	return fmt.Errorf("%w: unexpected %v reply", ErrBadRequest, m.Body.Type())
}

// startSuspend marks an active session suspending and returns the pending
// request and the connection to ask.
func (s *Supervisor) startSuspend(id contstore.SessionID) (*pendingSuspend, *conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[id]
	switch {
	case s.closed:
		return nil, nil, fmt.Errorf("suspend session %v: %w", id, ErrClosed)
	case sess == nil:
		return nil, nil, fmt.Errorf("suspend session %v: %w", id, ErrUnknownSession)
	case sess.state == sessionSuspending:
		return nil, nil, fmt.Errorf("suspend session %v: already suspending: %w", id, ErrBusy)
	case sess.state != sessionActive:
		return nil, nil, fmt.Errorf("suspend session %v in state %s: %w", id, sess.state, ErrBadState)
	case sess.conn == nil:
		return nil, nil, fmt.Errorf("suspend session %v: the process that registered it is gone: %w", id, ErrNoProcess)
	}
	p := &pendingSuspend{conn: sess.conn, result: make(chan suspendResult, 1)}
	sess.pending, sess.state = p, sessionSuspending
	return p, sess.conn, nil
}

// abandonSuspend puts a session back to active after a failed suspend,
// unless a ReturnCont already claimed the request; it reports whether it
// did.
func (s *Supervisor) abandonSuspend(id contstore.SessionID, p *pendingSuspend) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.claimed {
		return false
	}
	if sess := s.sessions[id]; sess != nil && sess.pending == p {
		sess.pending, sess.state = nil, sessionActive
		if sess.conn == nil && sess.dup >= 0 {
			// Its process hung up meanwhile (hangUp saw it suspending):
			// nobody is left to suspend it, so its connection is released
			// as hangUp releases an active session's.
			closeFDs([]int{sess.dup})
			sess.dup = -1
			s.log.Info().Stringer("session", id).Msg("session orphaned, its connection released")
		}
	}
	return true
}

// claimSuspend checks that a ReturnCont may suspend its session and marks
// the session as being committed. A ReturnCont answering a request must
// name the request in progress; one whose request already timed out gets
// ErrTimeout. An unsolicited one needs an active session.
func (s *Supervisor) claimSuspend(c *conn, m *proto.ReturnCont) (*session, *pendingSuspend, error) {
	id := contstore.SessionID(m.Session)
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.ownSession(c, id)
	if err != nil {
		return nil, nil, err
	}
	if m.Request == 0 {
		if sess.state != sessionActive {
			return nil, nil, fmt.Errorf("suspend session %v in state %s: %w", id, sess.state, ErrBusy)
		}
		p := &pendingSuspend{conn: c, claimed: true, result: make(chan suspendResult, 1)}
		sess.pending, sess.state = p, sessionSuspending
		return sess, p, nil
	}
	p := sess.pending
	if p == nil || p.id != m.Request || p.conn != c || p.claimed {
		if c.sentByUs(m.Request) {
			return nil, nil, fmt.Errorf("answer suspend request %#x: deadline passed: %w", m.Request, ErrTimeout)
		}
		return nil, nil, fmt.Errorf("answer suspend request %#x: no such request: %w", m.Request, ErrBadRequest)
	}
	p.claimed = true
	return sess, p, nil
}

// settleSuspend ends a claimed suspend: suspended under cont on success
// (the commit recorded the session suspended), active again on failure.
func (s *Supervisor) settleSuspend(sess *session, p *pendingSuspend, cont contstore.ID, err error) {
	s.mu.Lock()
	if sess.pending == p {
		sess.pending = nil
		if err != nil {
			sess.state = sessionActive
		} else {
			sess.state, sess.cont = sessionSuspended, cont
			sess.releaseDup()
		}
	}
	s.mu.Unlock()
	p.result <- suspendResult{cont: cont, err: err}
}
