//go:build linux

// Command broadcast-server is an Icecast-like server: one process streams
// the same numbered lines ("<seq> <payload>\n", from a ticking source) to
// every client. Under migrate each client is a session with an internal
// continuation: suspending one client's session takes it out of the
// broadcast while the others stream on, and resuming it hands the
// connection back to this process (its attach handler), which catches the
// client up from where it stopped. Upgraded live (migratectl upgrade), the
// sessions come back to the new program's process the same way, and it
// goes on from where the old one stopped: a build of another version tags
// its lines ("<seq> <payload> v2", package line), so clients see the
// change of binary and no gap.
//
//	broadcast-server [--addr HOST:PORT] [--interval D]
//
// The listening socket is the first one passed with LISTEN_FDS (as
// migrate-run --listen passes it) or one opened on --addr. Every event is
// one line on stderr:
//
//	broadcast-server: listening on 127.0.0.1:8000
//	broadcast-server: client 127.0.0.1:50312 joined at 120
//	broadcast-server: suspended client 127.0.0.1:50312 at 180 (cont 9)
//	broadcast-server: resumed cont 9 from old pid 4242 at 180
//	broadcast-server: client 127.0.0.1:50312 gone at 300: write: broken pipe
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/migrate-run/migrate"
	"github.com/migrate-run/migrate/examples/counter/listenfds"
)

const prog = "broadcast-server"

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "listen on HOST:PORT when no socket is passed (LISTEN_FDS)")
	interval := fs.Duration("interval", 10*time.Millisecond, "pause between two lines of the source")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *interval <= 0 {
		fs.Usage()
		return 2
	}
	log := func(format string, a ...any) { fmt.Fprintf(stderr, prog+": "+format+"\n", a...) }
	ln, err := listenfds.Listen(*addr)
	if err != nil {
		log("%v", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log("listening on %s", ln.Addr())
	srv := newServer(ctx, newHub(catchUpLines, version), log)
	if migrate.Available() {
		registerCompat(ctx, log)
		if err := migrate.OnAttach(ctx, srv.attach); err != nil {
			log("no attach handler, sessions cannot come back: %v", err)
		}
		srv.sessions = true
	}
	go srv.hub.run(ctx, *interval)
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			srv.wait()
			return 0
		}
		if err != nil {
			log("accept: %v", err)
			time.Sleep(100 * time.Millisecond) // EMFILE and friends: let descriptors free up
			continue
		}
		srv.join(conn)
	}
}

// catchUpLines is how far back a resumed client is caught up: ten
// minutes at the default interval.
const catchUpLines = 1 << 16
