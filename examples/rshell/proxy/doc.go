// Package proxy moves a terminal session between rshell's framed client
// connection and a pty master, and stops at a frame boundary on demand,
// handing back exactly the bytes it had in hand, so that a fresh process
// can carry on with no byte lost or repeated.
//
// # Basics
//
// Start runs two directions, each a goroutine that reads and then writes:
// up (pty master → data frames → client) and down (client frames → pty
// master: data written, window sizes applied, eof as the VEOF character).
// Neither reads again before it has written what it read, so nothing
// queues inside the proxy beyond one read's worth.
//
// Stop sets a deadline in the past on both ends. A read that had not
// returned gives nothing (the bytes stay in the kernel: the socket's
// receive queue, the pty's buffer); a write returns how much it wrote. So
// each direction knows exactly what it holds: up the encoded frames not yet
// written to the client, from the first unwritten byte; down the client's
// stream from the first byte not acted upon (the rest of a data frame
// partly written to the pty, re-encoded, then the decoder's buffer). That
// is Pending, which Start takes to begin with.
//
//	client ──frames──▶ [down: decode · act] ──bytes──▶ pty master
//	client ◀──frames── [up: read · encode]  ◀──bytes── pty master
//	           Stop: Pending{ToClient, FromClient}
//
// # Caveats
//
// The ends must honour deadlines (a net.Conn, an *os.File in Go's poller):
// a blocking *os.File would make Stop wait for the kernel. A direction that
// ends on its own (the client left, the pty closed, a bad frame) closes
// Ended; the other one runs on until Stop.
package proxy
