package tests

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/migrate-run/migrate/supervisor"
)

// TestServiceStopSignalAndTimeout stops two services with migratectl
// stop: polite, whose stop signal is SIGINT, which it traps to exit 7
// (and whose restart policy "always" does not undo an operator's stop),
// and stubborn, which ignores SIGTERM and is killed once its 300ms stop
// timeout passed. Each ends as its own way says, both stay listed as
// stopped, and migratectl start runs them again.
func TestServiceStopSignalAndTimeout(t *testing.T) {
	d, _ := startServices(t, map[string]string{
		// The trap ends the background sleep too, and wait returns at
		// the signal.
		"polite": `[exec]
args = ["/bin/sh", "-c", "trap 'kill $!; exit 7' INT; echo trapped; sleep 1000 & wait"]

[restart]
policy = "always"
delay = "10ms"

[stop]
signal = "SIGINT"
`,
		// An ignored signal stays ignored across exec.
		"stubborn": `[exec]
args = ["/bin/sh", "-c", "trap '' TERM; echo ignoring; exec sleep 1000"]

[stop]
timeout = "300ms"
`,
	})
	list := d.waitServices("running", allRunning("polite", "stubborn"))
	// A signal that comes before the trap is set would kill the shell.
	d.waitOutputLine("polite", "trapped")
	d.waitOutputLine("stubborn", "ignoring")

	if out := d.ctlOK("stop", "polite"); out != "stopped polite\n" {
		t.Errorf("migratectl stop polite printed %q", out)
	}
	a := d.serviceStatus("polite")
	if a.State != supervisor.StateStopped || a.Exit == nil || a.Exit.Code != 7 || a.Exit.Signal != "" || len(a.Processes) != 0 {
		t.Errorf("polite after stop: %s, processes %v; want stopped, its own exit 7, no process", describeService(a), a.Processes)
	}
	if pid := list["polite"].PID; !processGone(pid) {
		t.Errorf("polite's main process %d still runs after migratectl stop", pid)
	}

	begin := time.Now()
	if out := d.ctlOK("stop", "stubborn"); out != "stopped stubborn\n" {
		t.Errorf("migratectl stop stubborn printed %q", out)
	}
	// The daemon's own stop timeout is 5s: well over a second means the
	// file's 300ms did not count.
	if took := time.Since(begin); took < 300*time.Millisecond || took > 1500*time.Millisecond {
		t.Errorf("migratectl stop stubborn took %v, want its stop timeout of 300ms and the kill", took)
	}
	a = d.serviceStatus("stubborn")
	if a.State != supervisor.StateStopped || a.Exit == nil || a.Exit.Signal != "SIGKILL" {
		t.Errorf("stubborn after stop: %s; want stopped, killed by SIGKILL", describeService(a))
	}
	if pid := list["stubborn"].PID; !processGone(pid) {
		t.Errorf("stubborn's main process %d still runs after migratectl stop", pid)
	}

	// polite's policy had stubborn's stop to restart it, and must not.
	out, rows := d.servicesTable()
	for _, name := range []string{"polite", "stubborn"} {
		if r := rows[name]; r["STATE"] != "stopped" || r["PID"] != "-" {
			t.Errorf("migratectl services row of %s: %v, want stopped without a pid\n%s", name, r, out)
		}
	}
	t.Logf("$ migratectl services\n%s", out)

	for _, name := range []string{"polite", "stubborn"} {
		out := d.ctlOK("start", name)
		m := regexp.MustCompile(`^started ` + name + ` \(pid (\d+)\)\n$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("migratectl start %s printed %q, want started %s (pid N)", name, out, name)
		}
		a := d.serviceStatus(name)
		if !runningReady(a) || strconv.Itoa(a.PID) != m[1] || a.PID == list[name].PID || a.Exit != nil {
			t.Errorf("%s after migratectl start printed %q: %s, want running with a new main process", name, out, describeService(a))
		}
	}
}
