package tests

import (
	"strings"
	"testing"

	"github.com/migrate-run/migrate/supervisor"
)

// TestServiceStartsAgainAfterItsStartLimit runs a service that exits 3 at
// once into its start limit (burst 3 a minute), then migratectl start runs
// it again with its counters reset: three more runs and two more
// restarts, then failed (start-limit) again; its kept output has the
// "starting" of all six runs, in order.
func TestServiceStartsAgainAfterItsStartLimit(t *testing.T) {
	d, _ := startServices(t, map[string]string{"flaky": `[exec]
args = ["/bin/sh", "-c", "echo starting; exit 3"]

[restart]
policy = "on-failure"
delay = "10ms"
burst = 3
interval = "1m"
`})
	failed := func(a supervisor.AppInfo) bool { return a.State == supervisor.StateFailed }
	d.waitService("flaky", "failed", failed)
	first := d.serviceOutput("flaky")
	if len(first) != 3 {
		t.Fatalf("flaky's first round printed %d lines, want 3: %+v", len(first), first)
	}
	// The service may already be failed again when start answers (its
	// runs take milliseconds), and then start says so with exit status 1.
	if out, err := d.ctl("start", "flaky"); err != nil && !strings.Contains(err.Error(), "flaky failed (start-limit, exit 3)") {
		t.Fatalf("migratectl start flaky: %q, %v", out, err)
	}
	a := d.waitService("flaky", "failed again", func(a supervisor.AppInfo) bool {
		return failed(a) && a.Result == supervisor.ResultStartLimit
	})
	if a.Restarts != 2 || a.Exit == nil || a.Exit.Code != 3 {
		t.Errorf("flaky after its second round: %s, want 2 restarts (counted since the start) and exit 3", describeService(a))
	}
	lines := d.serviceOutput("flaky")
	if len(lines) != 6 {
		t.Fatalf("flaky's kept output has %d lines, want the starting of each of its 6 runs: %+v", len(lines), lines)
	}
	for i, l := range lines {
		if l.Text != "starting" || l.Seq != uint64(i+1) {
			t.Errorf("flaky's kept line %d: %+v, want starting", i+1, l)
		}
	}
}
