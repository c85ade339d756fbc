// Package rshell is the home of a remote shell whose sessions survive
// their server, the paper's sshd example done with migrate: rshell-server
// (cmd/rshell-server) runs one process per connection and a shell on a
// pseudo-terminal, and under migrate hands each session over as a complete
// continuation (the connection, the pty master, the pipe that will carry
// the shell's exit status, and a small store); rshell (cmd/rshell) is its
// client. The packages below do the parts: wire the framed protocol, pty
// the pseudo-terminals, proxy the relay that stops at a frame boundary.
//
// This package holds no code, only the end-to-end tests that build the
// binaries and run them under migrate-run, as a user would; README.md
// tells how to run them and compares a session's descriptors with the
// paper's Table III.
package rshell
