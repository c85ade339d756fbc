package proxy

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/migrate-run/migrate/examples/rshell/wire"
)

// readSize is how much one read takes from the pty or the client.
const readSize = 32 << 10

// pumpUp copies the pty's output to the client as data frames, starting
// with held, encoded frames to write first.
func (x *Proxy) pumpUp(held []byte) result {
	buf := make([]byte, readSize)
	frame := make([]byte, 0, wire.HeaderSize+readSize)
	out := append([]byte(nil), held...)
	for {
		for len(out) > 0 {
			n, err := x.cfg.Client.Write(out)
			out = out[n:]
			if err != nil {
				return upEnd(out, err, ErrClientGone, "write to the client")
			}
		}
		n, err := x.cfg.PTY.Read(buf)
		out = wire.AppendData(frame[:0], buf[:n])
		if err != nil && n == 0 {
			return upEnd(out, err, ErrPTYClosed, "read the pty")
		}
	}
}

func upEnd(held []byte, err, why error, op string) result {
	if stopped(err) {
		return result{held: held}
	}
	if why == ErrPTYClosed && !errors.Is(err, syscall.EIO) && !errors.Is(err, io.EOF) {
		why = fmt.Errorf("%w (%w)", why, err) // not the usual end: say what
	}
	return result{held: held, err: fmt.Errorf("%s: %w: %w", op, why, err)}
}
