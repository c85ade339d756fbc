// Command counter-client connects to counter-server and checks the
// numbered lines it streams: each must be one more than the one before,
// starting at 1.
//
//	counter-client --addr HOST:PORT [--count N] [--duration D]
//
// It exits 0 after N numbers (or D) printing "ok: received N numbers, last
// L, no gap or duplicate"; 1 on a gap ("gap: expected X got Y"), a
// duplicate ("duplicate: expected X got Y") or a garbled line; 2 when it
// cannot connect or the connection is lost.
package main

import (
	"os"

	"github.com/migrate-run/migrate/examples/counter/streamcheck"
)

func main() {
	os.Exit(streamcheck.Run("counter-client", streamcheck.Counter, os.Args[1:], os.Stdout, os.Stderr))
}
