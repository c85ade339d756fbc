//go:build linux

package migrate

import (
	"context"
	"fmt"
	"sync"
	"syscall"

	"github.com/migrate-run/migrate/proto"
)

// A Session is one of the app's connections registered with the supervisor
// (the paper's get_session). The supervisor holds a duplicate of the
// connection to watch it; the app keeps using its own. When the supervisor
// wants the session suspended, a *SuspendRequest arrives on Suspend (or at
// the OnSuspend handler). A Session is safe for concurrent use.
type Session struct {
	c         *Client
	id        uint64
	name      string
	suspend   chan *SuspendRequest
	onSuspend func(*SuspendRequest)

	mu     sync.Mutex
	store  storeMirror
	active *SuspendRequest // the request being answered, if any
	over   bool            // closed, or handed over to the supervisor
}

// GetSession registers conn, a connection of the app (a *net.TCPConn, a
// *net.UnixConn, an *os.File, anything with SyscallConn), as a session. It
// sends the supervisor a close-on-exec duplicate of the descriptor; conn
// stays the app's, untouched (it is never switched to blocking mode).
func (c *Client) GetSession(ctx context.Context, conn syscall.Conn, opts ...SessionOption) (*Session, error) {
	var cfg sessionConfig
	for _, o := range opts {
		o(&cfg)
	}
	return c.getSession(ctx, conn, &cfg)
}

func (c *Client) getSession(ctx context.Context, conn syscall.Conn, cfg *sessionConfig) (*Session, error) {
	if !cfg.handler.Valid() {
		return nil, fmt.Errorf("get session: %w: handler kind %v", ErrInvalid, cfg.handler)
	}
	dup, number, err := dupOf(conn)
	if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	defer closeFDs([]int{dup})
	s := c.newSession(cfg.name, cfg.onSuspend)
	_, err = c.callHook(ctx, "get session", cfg.message(number), []int{dup}, func(m proto.Message) {
		if ack, ok := m.Body.(*proto.Ack); ok && ack.Value != 0 {
			s.id = ack.Value // s is not shared yet
			c.addSession(s)
		}
	})
	if err != nil {
		return nil, err
	}
	if s.id == 0 {
		return nil, fmt.Errorf("get session: %w: no session id in the reply", ErrProtocol)
	}
	return s, nil
}

func (c *Client) newSession(name string, onSuspend func(*SuspendRequest)) *Session {
	return &Session{
		c:         c,
		name:      name,
		suspend:   make(chan *SuspendRequest, 1),
		onSuspend: onSuspend,
	}
}

// addSession makes s reachable by the supervisor's requests for its id.
func (c *Client) addSession(s *Session) {
	c.mu.Lock()
	c.sessions[s.id] = s
	c.mu.Unlock()
}

func (c *Client) session(id uint64) *Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions[id]
}

func (c *Client) dropSession(id uint64) {
	c.mu.Lock()
	delete(c.sessions, id)
	c.mu.Unlock()
}

// ID returns the session's id, which the supervisor (and migratectl) use.
func (s *Session) ID() uint64 { return s.id }

// Name returns the label given with WithName (or, for an attached session,
// the label it was registered with).
func (s *Session) Name() string { return s.name }

// Suspend returns the channel on which the supervisor's requests to
// suspend this session arrive, one at a time: the app's event loop selects
// on it and, at its next quiescent point, answers with Return or Refuse. A
// request the app does not answer by its deadline lapses and the app keeps
// the session. Nothing arrives here when the session was registered with
// OnSuspend.
func (s *Session) Suspend() <-chan *SuspendRequest { return s.suspend }

// Close ends the session (the paper's session_close): the supervisor drops
// it and whatever it holds for it. The app's connection is the app's to
// close.
func (s *Session) Close(ctx context.Context) error {
	if err := s.live("close session"); err != nil {
		return err
	}
	if _, err := s.c.callAck(ctx, "close session", &proto.SessionClose{Session: s.id}, nil); err != nil {
		return err
	}
	s.end()
	return nil
}

// live returns ErrSessionOver once the session has left this process.
func (s *Session) live(op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.over {
		return fmt.Errorf("%s %d: %w", op, s.id, ErrSessionOver)
	}
	return nil
}

// end marks the session gone from this process.
func (s *Session) end() {
	s.mu.Lock()
	s.over = true
	s.mu.Unlock()
	s.c.dropSession(s.id)
}
