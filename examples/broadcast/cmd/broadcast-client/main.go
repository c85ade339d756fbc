// Command broadcast-client connects to broadcast-server and checks the
// lines it streams ("<seq> <payload>"): joining anywhere, each sequence
// number must be one more than the one before.
//
//	broadcast-client --addr HOST:PORT [--count N] [--duration D]
//
// It exits 0 after N lines (or D) printing "ok: received N numbers, last
// L, no gap or duplicate"; 1 on a gap, a duplicate or a garbled line; 2
// when it cannot connect or the connection is lost.
package main

import (
	"os"

	"github.com/migrate-run/migrate/examples/counter/streamcheck"
)

func main() {
	os.Exit(streamcheck.Run("broadcast-client", streamcheck.Broadcast, os.Args[1:], os.Stdout, os.Stderr))
}
