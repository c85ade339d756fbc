//go:build linux

// Command rshell-server is a remote shell server whose sessions survive it:
// one process per connection, a shell on a pseudo-terminal, and under
// migrate a complete continuation per session. Suspended, the server hands
// the supervisor the client connection, the pty master and the pipe that
// will carry the shell's exit status, and exits; the shell runs on. A
// fresh rshell-server started from the continuation takes them back and
// carries on; the client (rshell) sees a pause.
//
//	rshell-server [--addr HOST:PORT] [--shell PATH] [--login=false]
//
// It serves a connection in one of three ways:
//
//   - inetd style, under migrate-run --accept: the connection is on
//     descriptors 0, 1 and 3 (LISTEN_FDS=1, LISTEN_FDNAMES=connection);
//   - as a listener: on the first LISTEN_FDS socket or on --addr, it starts
//     "rshell-server serve" per client, the connection on descriptor 3;
//   - resumed: MIGRATE_CONT names the connection, the continuation's store
//     the pty and the status pipe.
//
// Every event is one line on stderr:
//
//	rshell-server: pid 4242 serving 127.0.0.1:50312: shell 4250 on /dev/pts/3 (TERM=xterm-256color, 50x132)
//	rshell-server: suspended (cont 9): 0 bytes held for the client, 0 from it
//	rshell-server: resumed cont 9 from old pid 4242: shell 4250 alive on /dev/pts/3
//	rshell-server: session of 127.0.0.1:50312 ended: exit status 0
//
// A build of another version (-ldflags "-X main.version=2") says so in
// every line ("rshell-server v2: ..."), so that the log shows which binary
// serves a session after an upgrade.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/migrate-run/migrate"
)

const prog = "rshell-server"

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run picks the process's part: resumed server, waiter, per-connection
// server or listener.
func run(args []string, stderr io.Writer) int {
	name := prog
	if version != "1" { // a build for an upgrade says which it is
		name += " v" + version
	}
	log := func(format string, a ...any) { fmt.Fprintf(stderr, name+": "+format+"\n", a...) }
	inheritedCloseOnExec()
	switch {
	case len(args) > 0 && args[0] == waiterCmd:
		return waiter(args[1:], log)
	case migrate.IsContinuation():
		return resume(log)
	case len(args) > 0 && args[0] == serveCmd:
		return serveChild(args[1:], stderr, log)
	}
	return serveOrListen(args, stderr, log)
}
