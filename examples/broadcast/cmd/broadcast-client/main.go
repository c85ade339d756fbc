// Command broadcast-client connects to broadcast-server and checks the
// lines it streams ("<seq> <payload>", "<seq> <payload> v<version>" from a
// build other than version 1): joining anywhere, each sequence number
// must be one more than the one before.
//
//	broadcast-client --addr HOST:PORT [--count N] [--duration D]
//
// It exits 0 after N lines (or D) printing "ok: received N numbers, last
// L, no gap or duplicate", followed by ", served by v1 then v2" when more
// than one version served it; 1 on a gap, a duplicate or a garbled line; 2
// when it cannot connect or the connection is lost.
package main

import (
	"os"

	"github.com/migrate-run/migrate/examples/broadcast/line"
	"github.com/migrate-run/migrate/examples/counter/streamcheck"
)

func main() {
	os.Exit(streamcheck.Run("broadcast-client", line.Format, os.Args[1:], os.Stdout, os.Stderr))
}
