package proxy

import (
	"fmt"

	"github.com/migrate-run/migrate/examples/rshell/wire"
)

// pumpDown acts on the client's frames, starting with held, the client's
// stream from its first byte not acted upon.
func (x *Proxy) pumpDown(held []byte) result {
	var d wire.Decoder
	d.Feed(held)
	buf := make([]byte, readSize)
	for {
		f, ok, err := d.Next()
		if err != nil {
			return result{held: d.Buffered(), err: fmt.Errorf("decode the client's stream: %w: %w", ErrProtocol, err)}
		}
		if !ok {
			n, err := x.cfg.Client.Read(buf)
			d.Feed(buf[:n])
			if err != nil && n == 0 {
				return downEnd(d.Buffered(), err, ErrClientGone, "read the client")
			}
			continue
		}
		if r, done := x.act(f, &d); done {
			return r
		}
	}
}

// act carries out one frame. done is true when the direction ends, with r
// what it holds: the frame itself (what was not done of it) and the rest.
func (x *Proxy) act(f wire.Frame, d *wire.Decoder) (r result, done bool) {
	switch f.Type {
	case wire.TypeData:
		n, err := x.writePTY(f.Payload)
		if err != nil {
			return downEnd(append(wire.AppendData(nil, f.Payload[n:]), d.Buffered()...), err, ErrPTYClosed, "write to the pty"), true
		}
	case wire.TypeEOF:
		c, err := x.cfg.EOFChar()
		if err == nil {
			_, err = x.writePTY([]byte{c})
		}
		if err != nil {
			return downEnd(append(wire.AppendEOF(nil), d.Buffered()...), err, ErrPTYClosed, "write end-of-file to the pty"), true
		}
	case wire.TypeWinsize:
		ws, err := wire.ParseWinsize(f.Payload)
		if err != nil {
			return result{held: d.Buffered(), err: fmt.Errorf("%w: %w", ErrProtocol, err)}, true
		}
		if err := x.cfg.Resize(ws); err != nil {
			return result{held: d.Buffered(), err: fmt.Errorf("resize the pty: %w: %w", ErrPTYClosed, err)}, true
		}
	default:
		return result{held: d.Buffered(), err: fmt.Errorf("%w: a %v frame from the client after hello", ErrProtocol, f.Type)}, true
	}
	return result{}, false
}

// writePTY writes all of p, or returns how much it wrote before failing.
func (x *Proxy) writePTY(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := x.cfg.PTY.Write(p[done:])
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

func downEnd(held []byte, err, why error, op string) result {
	if stopped(err) {
		return result{held: held}
	}
	return result{held: held, err: fmt.Errorf("%s: %w: %w", op, why, err)}
}
