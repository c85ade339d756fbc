//go:build linux

package migrate

import (
	"context"
	"sync"
	"syscall"
	"time"
)

// availableTimeout bounds how long Available waits for the supervisor.
const availableTimeout = 2 * time.Second

var std struct {
	mu sync.Mutex
	c  *Client
}

// Default returns the package's shared Client, connecting to MIGRATE_SOCKET
// on first use and again after the connection ended. The package-level
// functions use it.
func Default(ctx context.Context) (*Client, error) {
	c, err := shared(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.greeting(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// shared returns the shared Client, connecting if needed without waiting
// for the answer to Hello: Resumed's first requests go right behind it.
func shared(ctx context.Context) (*Client, error) {
	std.mu.Lock()
	defer std.mu.Unlock()
	if std.c != nil && std.c.Err() == nil {
		return std.c, nil
	}
	c, err := dialStart(ctx)
	if err != nil {
		return nil, err
	}
	std.c = c
	return c, nil
}

// Available reports whether a supervisor is reachable (the paper's
// migrate_avail): MIGRATE_SOCKET is set and the supervisor answers Hello
// within two seconds. The connection is kept as the default Client.
func Available() bool {
	ctx, cancel := context.WithTimeout(context.Background(), availableTimeout)
	defer cancel()
	_, err := Default(ctx)
	return err == nil
}

// GetSession registers conn as a session with the default Client; see
// Client.GetSession.
func GetSession(ctx context.Context, conn syscall.Conn, opts ...SessionOption) (*Session, error) {
	c, err := Default(ctx)
	if err != nil {
		return nil, err
	}
	return c.GetSession(ctx, conn, opts...)
}

// OnAttach registers the attach handler with the default Client; see
// Client.OnAttach.
func OnAttach(ctx context.Context, fn func(*Attached) error) error {
	c, err := Default(ctx)
	if err != nil {
		return err
	}
	return c.OnAttach(ctx, fn)
}

// Resumed takes over the continuation this process was started to resume,
// with the default Client; see Client.Resumed. It connects only when
// MIGRATE_CONT is set, and does not wait for the supervisor's answer to
// Hello: the Resumption's first requests (Retrieve, Register) go right
// behind it, one round trip saved on the way to Confirm, and fail with the
// handshake's error if it failed.
func Resumed(ctx context.Context) (*Resumption, bool, error) {
	if !IsContinuation() {
		return nil, false, nil
	}
	c, err := shared(ctx)
	if err != nil {
		return nil, true, err
	}
	return c.Resumed(ctx)
}

// RegisterCompat registers a compatibility vector with the default Client;
// see Client.RegisterCompat.
func RegisterCompat(ctx context.Context, version string, tags []CompatTag) error {
	c, err := Default(ctx)
	if err != nil {
		return err
	}
	return c.RegisterCompat(ctx, version, tags)
}

// CompatGet reads a compatibility vector with the default Client; see
// Client.CompatGet.
func CompatGet(ctx context.Context, version string) ([]CompatTag, error) {
	c, err := Default(ctx)
	if err != nil {
		return nil, err
	}
	return c.CompatGet(ctx, version)
}
