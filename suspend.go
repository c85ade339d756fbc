//go:build linux

package migrate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/migrate-run/migrate/proto"
)

// A SuspendRequest is the supervisor asking the app to reach its quiescent
// point and return a continuation for Session. The app answers once, with
// Return or Refuse, before Deadline; if it does neither, the request lapses
// and the app keeps the session (the supervisor may ask again).
type SuspendRequest struct {
	// Session is the session to suspend.
	Session *Session
	// Reason is why (proto.ReasonOperator, proto.ReasonDisconnected, ...)
	// and Detail says more, for people.
	Reason Reason
	Detail string
	// Deadline is when the supervisor stops waiting: receipt plus the
	// request's deadline_ms.
	Deadline time.Time

	id     uint64
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	state answerState
}

type answerState uint8

const (
	unanswered answerState = iota
	answering              // Return is sending or waiting for the Ack
	answered
)

// suspendRequested delivers the supervisor's request id to its session.
func (c *Client) suspendRequested(id uint64, m *proto.SuspendRequest) {
	s := c.session(m.Session)
	if s == nil {
		c.rejectID(id, proto.CodeUnknownSession, fmt.Errorf("session %d is not in this process", m.Session))
		return
	}
	deadline := time.Now().Add(time.Duration(m.DeadlineMS) * time.Millisecond)
	r := &SuspendRequest{Session: s, Reason: m.Reason, Detail: m.Detail, Deadline: deadline, id: id}
	r.ctx, r.cancel = context.WithDeadline(c.ctx, deadline)
	if code, err := s.offer(r); err != nil {
		r.cancel()
		c.rejectID(id, code, err)
	}
}

// offer makes r the session's current request and hands it to the app. It
// refuses while an earlier request is still open, and for a session that
// has just left this process.
func (s *Session) offer(r *SuspendRequest) (proto.ErrorCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.over:
		return proto.CodeUnknownSession, fmt.Errorf("session %d is no longer in this process", s.id)
	case s.active != nil && s.active.open():
		return proto.CodeBusy, fmt.Errorf("session %d is already answering suspend request %#x", s.id, s.active.id)
	}
	s.active = r
	if s.onSuspend != nil {
		go s.onSuspend(r)
		return 0, nil
	}
	select { // drop a lapsed request the app never read
	case <-s.suspend:
	default:
	}
	s.suspend <- r
	return 0, nil
}

// open reports whether r still waits for, or is getting, its answer.
func (r *SuspendRequest) open() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state == answering || r.state == unanswered && r.ctx.Err() == nil
}

// Context is done at the request's deadline, once it is answered, or when
// the connection to the supervisor ends: work towards the quiescent point
// can stop then.
func (r *SuspendRequest) Context() context.Context { return r.ctx }

// Return answers the request with cont and waits for the supervisor's
// answer, which it gives only once the continuation is committed. On
// success it returns the continuation's id, the session has left this
// process, and Return has closed the app's copies of cont.Files; an app
// returning a Complete continuation exits next. On error the app keeps the
// session and its descriptors: ErrDeadline when the deadline had passed
// (nothing was sent), a *SupervisorError (proto.CodeTimeout when the
// supervisor's deadline passed first), ErrClosed when the connection ended.
// After an ErrInvalid (nothing sent) the app may fix cont and Return again.
func (r *SuspendRequest) Return(cont Continuation) (uint64, error) {
	if err := r.begin("return continuation"); err != nil {
		return 0, err
	}
	id, err := r.Session.returnCont(context.Background(), r.id, &cont)
	r.finish(errors.Is(err, ErrInvalid))
	return id, err
}

// Refuse answers the request with an Error (code proto.CodeBusy) carrying
// reason's text: the app keeps the session.
func (r *SuspendRequest) Refuse(reason error) error {
	if err := r.begin("refuse suspend"); err != nil {
		return err
	}
	msg := "refused by the app"
	if reason != nil {
		msg = reason.Error()
	}
	err := r.Session.c.answer(r.id, &proto.Error{Code: proto.CodeBusy, Message: msg})
	r.finish(false)
	if err != nil {
		return fmt.Errorf("refuse suspend: %w", err)
	}
	return nil
}

// begin claims the right to answer r.
func (r *SuspendRequest) begin(op string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.state != unanswered:
		return fmt.Errorf("%s: %w", op, ErrAnswered)
	case r.ctx.Err() != nil:
		r.state = answered
		if cerr := r.Session.c.Err(); cerr != nil {
			return fmt.Errorf("%s: %w", op, cerr)
		}
		return fmt.Errorf("%s: %w (%v)", op, ErrDeadline, r.Deadline.Format(time.RFC3339Nano))
	}
	r.state = answering
	return nil
}

// finish ends an answer; retry leaves r open for another one.
func (r *SuspendRequest) finish(retry bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if retry {
		r.state = unanswered
		return
	}
	r.state = answered
	r.cancel()
}

// ReturnCont hands the supervisor a continuation for the session on the
// app's own initiative (the paper's return_cont without a request). It is
// Return otherwise; when ctx ends before the supervisor answers, it returns
// an error wrapping ErrOutcomeUnknown: the continuation may or may not have
// been committed, and the app still has its descriptors.
func (s *Session) ReturnCont(ctx context.Context, cont Continuation) (uint64, error) {
	return s.returnCont(ctx, 0, &cont)
}

func (s *Session) returnCont(ctx context.Context, reqID uint64, cont *Continuation) (uint64, error) {
	const op = "return continuation"
	if err := s.live(op); err != nil {
		return 0, err
	}
	s.mu.Lock()
	store := s.store.merged(cont.Store)
	s.mu.Unlock()
	req, err := cont.build(s.id, reqID, store)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	id, err := s.c.callAck(ctx, op, req.msg, req.dups)
	closeFDs(req.dups)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ErrRefused) {
			return 0, fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
		}
		return 0, err
	}
	s.end()
	cont.closeFiles()
	return id, nil
}
