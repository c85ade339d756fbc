package proxy

import "errors"

// Why a direction ended on its own; Stop's error wraps them.
var (
	// ErrClientGone: the client closed the connection, or reading or
	// writing it failed.
	ErrClientGone = errors.New("client gone")
	// ErrPTYClosed: the pty master read EIO (every holder of the slave,
	// the shell first, is gone) or could not be written.
	ErrPTYClosed = errors.New("pty closed")
	// ErrProtocol: the client sent a frame that breaks the protocol.
	ErrProtocol = errors.New("client broke the protocol")
)
