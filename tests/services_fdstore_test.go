package tests

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/migrate-run/migrate/supervisor"
)

// sdStoreService is a service file for sdserver serving one connection
// per run on port, restarted always, with an fd store of 4 that an
// operator's stop drops unless preserve.
func sdStoreService(t *testing.T, port int, preserve bool) string {
	return fmt.Sprintf(`readiness = "notify"
fdstore_max = 4
fdstore_preserve = %v

[exec]
args = [%q, "--exit-after", "1"]

[restart]
policy = "always"
delay = "10ms"
interval = "0s"

[[listen]]
address = "tcp://127.0.0.1:%d"
`, preserve, binPath(t, "sdserver"), port)
}

// TestFDStoreAcrossRestartsAndStops runs sdserver, which keeps a
// generation in a memfd in its fd store, as two services that exit after
// each connection and are restarted: each new process reads the
// generation its predecessor stored and adds one. migratectl stop drops
// the store of the one that does not preserve it (its next start is
// generation 1 again); the other goes on counting.
func TestFDStoreAcrossRestartsAndStops(t *testing.T) {
	ports := map[string]int{"dropper": freePort(t), "keeper": freePort(t)}
	d, _ := startServices(t, map[string]string{
		"dropper": sdStoreService(t, ports["dropper"], false),
		"keeper":  sdStoreService(t, ports["keeper"], true),
	})
	d.waitServices("running", allRunning("dropper", "keeper"))
	for _, name := range []string{"dropper", "keeper"} {
		addr := "127.0.0.1:" + strconv.Itoa(ports[name])
		seen := map[int]bool{}
		var a supervisor.AppInfo
		for want := 1; want <= 3; want++ {
			gen, pid := sdHello(t, addr)
			if gen != want || seen[pid] {
				t.Fatalf("connection %d to %s: hello %d %d, want generation %d from a new process (seen %v)", want, name, gen, pid, want, seen)
			}
			seen[pid] = true
			// A connection made before the process ends would be served
			// by it: wait for the next one, which stored its generation
			// before it was ready.
			a = d.waitService(name, "restarted", func(a supervisor.AppInfo) bool {
				return runningReady(a) && !seen[a.PID] && a.Restarts == want
			})
		}
		if len(a.FDStore) != 1 || a.FDStore[0].Name != "state" {
			t.Fatalf("%s's fd store: %+v, want sdserver's state", name, a.FDStore)
		}
		if out := d.ctlOK("stop", name); out != "stopped "+name+"\n" {
			t.Errorf("migratectl stop %s printed %q", name, out)
		}
		d.ctlOK("start", name)
		want := 1
		if name == "keeper" {
			want = 5
		}
		if gen, _ := sdHello(t, addr); gen != want {
			t.Errorf("%s after migratectl stop and start: generation %d, want %d", name, gen, want)
		}
	}
}
