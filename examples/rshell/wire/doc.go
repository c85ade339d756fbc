// Package wire is rshell's protocol between the client (rshell) and the
// server (rshell-server): length-prefixed frames on one TCP connection.
//
// # Basics
//
// Every frame is a one-byte type, a four-byte big-endian payload length and
// the payload, at most MaxPayload bytes:
//
//	+------+-----------------+---------------------+
//	| type | length (u32 BE) | payload (length B)  |
//	+------+-----------------+---------------------+
//
//	client                                   server
//	  | hello (version, TERM, rows, cols, cmd) |  first frame, once
//	  |--------------------------------------->|  shell started on a pty
//	  | data (keystrokes)                      |
//	  |--------------------------------------->|  written to the pty
//	  | window-size (rows, cols)               |
//	  |--------------------------------------->|  TIOCSWINSZ on the pty
//	  | eof                                    |
//	  |--------------------------------------->|  the pty's VEOF character
//	  |                 data (terminal output) |
//	  |<---------------------------------------|  read from the pty
//	  |        exit (how, code, message)       |  last frame
//	  |<---------------------------------------|
//
// A Decoder takes bytes as they arrive and hands out whole frames; what it
// holds but has not handed out (Buffered) is exactly the part of the stream
// not acted upon yet, which is what lets rshell-server stop at a frame
// boundary and carry the rest in its continuation.
//
// # Caveats
//
// A decoded Frame's Payload aliases the Decoder's buffer: it is valid until
// the next Feed. The Parse functions check a payload fully and return an
// error wrapping ErrMalformed for anything a correct peer never sends.
package wire
