//go:build linux

// Command counter-server is the paper's benchmark server: it streams
// numbered lines ("1\n", "2\n", ...) to each client, one every --interval,
// from a process of its own per connection (like sshd), and when it runs
// under migrate each connection is a session whose complete continuation
// is a single index.
//
//	counter-server [--addr HOST:PORT] [--interval D]
//
// The listening socket is the first one passed with LISTEN_FDS (as
// migrate-run --listen passes it) or one opened on --addr. For each client
// it re-executes itself as "counter-server serve --interval D" with the
// connection on descriptor 3. Every event is one line on stderr:
//
//	counter-server: listening on 127.0.0.1:7000
//	counter-server: pid 4242 serving 127.0.0.1:50312 from 1
//	counter-server: suspended at 4711 (cont 9)
//	counter-server: resumed cont 9 from old pid 4242 at 4711
//	counter-server: client 127.0.0.1:50312 gone at 5000
package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

const prog = "counter-server"

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run dispatches between the listening parent and a per-connection child.
func run(args []string, stderr io.Writer) int {
	log := func(format string, a ...any) { fmt.Fprintf(stderr, prog+": "+format+"\n", a...) }
	if len(args) > 0 && args[0] == "serve" {
		return serve(args[1:], stderr, log)
	}
	return listen(args, stderr, log)
}

// defaultInterval is the pause between two lines.
const defaultInterval = 10 * time.Millisecond
