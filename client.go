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
	var d net.Dialer
	c, err := d.DialContext(ctx, "unixpacket", path)
	if err != nil {
		return nil, fmt.Errorf("dial supervisor at %s: %w", path, err)
	}
	return NewClient(ctx, c.(*net.UnixConn))
}

// NewClient does the Hello handshake on conn, a connected SOCK_SEQPACKET
// unix socket to a supervisor (for example one end of fdpass.SocketPair), and
// returns a Client that owns conn: Close closes it, and so does a failed
// handshake.
func NewClient(ctx context.Context, conn *net.UnixConn) (*Client, error) {
	if conn == nil {
		return nil, fmt.Errorf("start client: %w: nil connection", ErrInvalid)
	}
	c := &Client{
		conn:     conn,
		done:     make(chan struct{}),
		pending:  make(map[uint64]*waiter),
		sessions: make(map[uint64]*Session),
	}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	go c.readLoop()
	if err := c.hello(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) hello(ctx context.Context) error {
	m, err := c.call(ctx, "hello", &proto.Hello{
		Version: proto.Version,
		PID:     uint32(os.Getpid()),
		App:     truncate(os.Getenv("MIGRATE_APP"), proto.MaxNameLen),
		Client:  ClientName,
	}, nil)
	if err != nil {
		return err
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

// Limits returns what the supervisor said in its HelloReply.
func (c *Client) Limits() Limits { return c.limits }

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
