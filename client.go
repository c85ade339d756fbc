//go:build linux

package migrate

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/migrate-run/migrate/proto"
)

// ClientName is what Hello tells the supervisor about this library.
const ClientName = "migrate-go/1"

// A Client is one connection to the supervisor's control socket. It is safe
// for concurrent use: requests are matched to replies by id, and one reader
// goroutine delivers the supervisor's own requests (suspend, attach) to the
// sessions and the attach handler. Most apps use the package-level functions,
// which share one default Client; tests and apps with several supervisors
// make their own.
type Client struct {
	conn   *net.UnixConn
	limits Limits

	ctx    context.Context // cancelled when the connection ends
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the reader goroutine has returned

	mu       sync.Mutex
	nextID   uint64
	pending  map[uint64]*waiter
	sessions map[uint64]*Session
	attach   func(*Attached) error
	attached bool  // Attach was acknowledged
	err      error // why the connection ended; nil while it is up

	// greeted is closed once the supervisor has answered Hello (or the
	// connection ended first); greetErr, read after it is closed, says
	// whether the handshake failed.
	greeted  chan struct{}
	greetErr error
}

// waiter is a request waiting for its reply. hook, if set, runs on the
// reader goroutine when a reply other than Error arrives, before the caller
// sees it and before the next record is read: GetSession registers its
// session there, so a SuspendRequest right behind the Ack finds it.
type waiter struct {
	ch   chan reply
	hook func(proto.Message)
}

// reply is one answer to a request: the message, or why none will come.
type reply struct {
	msg proto.Message
	err error
}

// Dial connects to the supervisor named by MIGRATE_SOCKET. It returns
// ErrNoSupervisor when the variable is not set.
func Dial(ctx context.Context) (*Client, error) {
	path := os.Getenv("MIGRATE_SOCKET")
	if path == "" {
		return nil, fmt.Errorf("dial supervisor: %w", ErrNoSupervisor)
	}
	return DialPath(ctx, path)
}

// DialPath connects to the supervisor's SOCK_SEQPACKET control socket at
// path and does the Hello handshake.
func DialPath(ctx context.Context, path string) (*Client, error) {
	conn, err := dialSocket(ctx, path)
	if err != nil {
		return nil, err
	}
	return NewClient(ctx, conn)
}

// dialStart connects to MIGRATE_SOCKET and sends Hello without waiting for
// the answer (startClient).
func dialStart(ctx context.Context) (*Client, error) {
	path := os.Getenv("MIGRATE_SOCKET")
	if path == "" {
		return nil, fmt.Errorf("dial supervisor: %w", ErrNoSupervisor)
	}
	conn, err := dialSocket(ctx, path)
	if err != nil {
		return nil, err
	}
	return startClient(conn), nil
}

func dialSocket(ctx context.Context, path string) (*net.UnixConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unixpacket", path)
	if err != nil {
		return nil, fmt.Errorf("dial supervisor at %s: %w", path, err)
	}
	return c.(*net.UnixConn), nil
}

// NewClient does the Hello handshake on conn, a connected SOCK_SEQPACKET
// unix socket to a supervisor (for example one end of fdpass.SocketPair), and
// returns a Client that owns conn: Close closes it, and so does a failed
// handshake.
func NewClient(ctx context.Context, conn *net.UnixConn) (*Client, error) {
	if conn == nil {
		return nil, fmt.Errorf("start client: %w: nil connection", ErrInvalid)
	}
	c := startClient(conn)
	if err := c.greeting(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// startClient starts a Client on conn and sends Hello without waiting for
// the answer: requests made meanwhile go right behind it, and since the
// supervisor answers an app's requests in the order they came, Hello is
// answered first. A call returns its reply only once the handshake
// succeeded (greeting); a failed handshake ends the connection, and with it
// every call, with its error. A resumed process saves a round trip so.
func startClient(conn *net.UnixConn) *Client {
	c := &Client{
		conn:     conn,
		done:     make(chan struct{}),
		pending:  make(map[uint64]*waiter),
		sessions: make(map[uint64]*Session),
		greeted:  make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	go c.readLoop()
	id, ch, err := c.register(nil)
	if err == nil {
		err = c.send(proto.Message{ID: id, Body: &proto.Hello{
			Version: proto.Version,
			PID:     uint32(os.Getpid()),
			App:     truncate(os.Getenv("MIGRATE_APP"), proto.MaxNameLen),
			Client:  ClientName,
		}}, nil)
	}
	if err != nil {
		c.unregister(id)
		c.greetErr = fmt.Errorf("hello: %w", err)
		c.shutdown(c.greetErr)
		close(c.greeted)
		return c
	}
	go func() {
		if err := c.hello(<-ch); err != nil {
			c.greetErr = err
			c.shutdown(err)
		}
		close(c.greeted)
	}()
	return c
}

// greeting waits for the handshake and returns its error.
func (c *Client) greeting(ctx context.Context) error {
	select {
	case <-c.greeted:
		return c.greetErr
	case <-ctx.Done():
		return fmt.Errorf("hello: %w", context.Cause(ctx))
	}
}

// hello takes the supervisor's answer to Hello.
func (c *Client) hello(r reply) error {
	if r.err != nil {
		return fmt.Errorf("hello: %w", r.err)
	}
	m := r.msg
	if e, ok := m.Body.(*proto.Error); ok {
		return &SupervisorError{Op: "hello", Code: e.Code, Message: e.Message}
	}
	hr, ok := m.Body.(*proto.HelloReply)
	if !ok {
		return fmt.Errorf("hello: %w: answered with %v", ErrProtocol, m.Body.Type())
	}
	if hr.Version != proto.Version {
		return fmt.Errorf("hello: %w: supervisor speaks version %d", ErrProtocol, hr.Version)
	}
	c.limits = Limits{
		App: hr.App, PID: int(hr.PID),
		MaxStoreBytes: hr.MaxStoreBytes, MaxValueBytes: hr.MaxValueBytes,
		DefaultExpirySec: hr.DefaultExpirySec, MaxExpirySec: hr.MaxExpirySec,
	}
	return nil
}

// Limits returns what the supervisor said in its HelloReply (the zero
// Limits if the handshake failed). On the shared Client of a resumed
// process (Resumed), it waits for that reply.
func (c *Client) Limits() Limits {
	<-c.greeted
	return c.limits
}

// Done is closed when the connection to the supervisor has ended (Close, or
// the supervisor went away); Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns nil while the connection is up, and afterwards an error
// wrapping ErrClosed.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection and waits for the reader goroutine to end.
// Calls waiting for a reply return ErrClosed. The supervisor keeps the
// sessions: they outlive the control connection. Close does not close any
// session's connection, and it does not wait for attach or suspend handlers
// still running. It is safe to call more than once.
func (c *Client) Close() error {
	c.shutdown(ErrClosed)
	<-c.done
	<-c.greeted // the handshake's waiter ended with the connection
	return nil
}

// shutdown records why the connection ended, closes it (which ends the
// reader) and fails every pending request. Only the first cause counts.
func (c *Client) shutdown(cause error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = cause
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	c.cancel(cause)
	c.conn.Close()
	for _, w := range pending {
		w.ch <- reply{err: cause}
	}
}

// truncate cuts s to at most n bytes, on a UTF-8 boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}
