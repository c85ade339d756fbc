package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/migrate-run/migrate/supervisor"
)

// TestServicesStartWhenWhatTheyAreAfterIsReady runs three services, db,
// web after db and worker after web, where web is sdserver (a go-systemd
// server) with readiness notify behind a gate the test holds: while web
// runs but has sent no READY=1, worker is not started; once the gate opens
// and web is ready, worker starts. migratectl services shows all three
// running, and web serves on the socket its file asks for.
func TestServicesStartWhenWhatTheyAreAfterIsReady(t *testing.T) {
	g := newGate(t)
	port := freePort(t)
	d, _ := startServices(t, map[string]string{
		"db": `[exec]
args = ["/bin/sleep", "1000"]
`,
		// The shell reads the gate, then becomes sdserver (same pid).
		"web": fmt.Sprintf(`after = ["db"]
readiness = "notify"
fdstore_max = 4

[exec]
args = ["/bin/sh", "-c", 'read go < "$0" && exec "$1"', %q, %q]

[[listen]]
address = "tcp://127.0.0.1:%d"
name = "http"
`, g.path, binPath(t, "sdserver"), port),
		"worker": `after = ["web"]

[exec]
args = ["/bin/sleep", "1000"]
`,
	})

	list := d.waitServices("web starting", func(m map[string]supervisor.AppInfo) bool {
		return m["web"].State == supervisor.StateStarting && m["web"].PID != 0
	})
	if db := list["db"]; !runningReady(db) {
		t.Fatalf("web started before db was running: %s", describeServices(list))
	}
	if w := list["worker"]; w.State != supervisor.StateInactive || w.PID != 0 {
		t.Fatalf("worker is not inactive while web, which it is after, is not ready: %s", describeServices(list))
	}
	gateOpened := time.Now() // migrated runs on this machine, with this clock
	g.open(t)
	list = d.waitServices("all running", allRunning("db", "web", "worker"))
	db, web, worker := list["db"], list["web"], list["worker"]
	if !db.Started.Before(web.Started) || !web.Started.Before(gateOpened) || !gateOpened.Before(worker.Started) {
		t.Errorf("want db started < web started < gate opened < worker started, got %v, %v, %v, %v",
			db.Started, web.Started, gateOpened, worker.Started)
	}
	// migrated writes its log in order: web's readiness came before
	// worker's start.
	ready, started := d.logEntries("app ready", "web"), d.logEntries("app started", "worker")
	if len(ready) != 1 || len(started) != 1 || ready[0].index > started[0].index {
		t.Errorf("want one \"app ready\" of web logged before one \"app started\" of worker, got %v and %v", ready, started)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	out, rows := d.servicesTable()
	for _, a := range []supervisor.AppInfo{db, web, worker} {
		r := rows[a.Name]
		if r["STATE"] != "running" || r["PID"] != strconv.Itoa(a.PID) || r["READY"] != "yes" || r["RESTARTS"] != "0" {
			t.Errorf("migratectl services row of %s: %v, want running, pid %d, ready, no restarts\n%s", a.Name, r, a.PID, out)
		}
	}
	if r := rows["web"]; r["STATUS"] != "serving "+addr || r["LISTEN"] != "tcp://"+addr {
		t.Errorf("migratectl services row of web: %v, want status \"serving %s\" and listen tcp://%s\n%s", r, addr, addr, out)
	}
	if len(rows) != 3 {
		t.Errorf("migratectl services lists %d services, want 3:\n%s", len(rows), out)
	}
	status := d.ctlOK("status", "web")
	for _, want := range []string{"● web — running since ", "Main PID: " + strconv.Itoa(web.PID) + "\n",
		"Listen: tcp://" + addr + " (http)\n", "FD store: state: memfd"} {
		if !strings.Contains(status, want) {
			t.Errorf("migratectl status web lacks %q:\n%s", want, status)
		}
	}
	t.Logf("$ migratectl services\n%s", out)
	t.Logf("$ migratectl status web\n%s", status)
	if gen, pid := sdHello(t, addr); gen != 1 || pid != web.PID {
		t.Errorf("web's socket answered hello %d %d, want generation 1 from web's main process %d", gen, pid, web.PID)
	}
}

// TestServiceFailsAtItsStartLimit runs a service that exits 3 at once,
// restarted on failure with burst 3 in a minute: it runs three times (two
// restarts), then stays failed with result start-limit, as migratectl
// services and status say; its output of every run is kept.
func TestServiceFailsAtItsStartLimit(t *testing.T) {
	d, _ := startServices(t, map[string]string{"flaky": `[exec]
args = ["/bin/sh", "-c", "echo starting; exit 3"]

[restart]
policy = "on-failure"
delay = "10ms"
burst = 3
interval = "1m"
`})
	a := d.waitService("flaky", "failed", func(a supervisor.AppInfo) bool { return a.State == supervisor.StateFailed })
	if a.Result != supervisor.ResultStartLimit || a.Restarts != 2 || a.PID == 0 || len(a.Processes) != 0 || a.Exit == nil || a.Exit.Code != 3 {
		t.Errorf("flaky: %s, want failed (start-limit) after 2 restarts, its last run's exit 3", describeService(a))
	}
	out, rows := d.servicesTable()
	if r := rows["flaky"]; r["STATE"] != "failed (start-limit)" || r["RESTARTS"] != "2" || r["PID"] != "-" {
		t.Errorf("migratectl services row of flaky: %v, want failed (start-limit), 2 restarts, no pid\n%s", r, out)
	}
	status := d.ctlOK("status", "flaky")
	for _, want := range []string{"× flaky — failed (start-limit)\n", "Restarts: 2 (policy on-failure)\n"} {
		if !strings.Contains(status, want) {
			t.Errorf("migratectl status flaky lacks %q:\n%s", want, status)
		}
	}
	lines := d.serviceOutput("flaky")
	if len(lines) != 3 {
		t.Fatalf("flaky's kept output has %d lines, want the \"starting\" of each of its 3 runs: %+v", len(lines), lines)
	}
	for _, l := range lines {
		if l.Text != "starting" || l.Stream != "stdout" {
			t.Errorf("flaky's kept output: %+v, want stdout starting", l)
		}
	}
	t.Logf("$ migratectl services\n%s", out)
	t.Logf("$ migratectl status flaky\n%s", status)
}

// TestServiceResourceLimits runs a service with a memory and a pids limit:
// migratectl status shows them as the cgroup's, and the kernel has them.
func TestServiceResourceLimits(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("resource limits need cgroups, which need root")
	}
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		t.Skipf("resource limits need cgroups: %v", err)
	}
	d, _ := startServices(t, map[string]string{"limited": `[exec]
args = ["/bin/sleep", "1000"]

[resources]
memory_max = "64M"
pids_max = 32
`})
	d.waitService("limited", "running", runningReady)
	a := d.serviceStatus("limited")
	if u := a.Usage; u == nil || u.MemoryMax != 64<<20 || u.TasksMax != 32 || u.Tasks < 1 {
		t.Fatalf("migratectl status --json limited: usage %+v, want memoryMax %d, tasksMax 32 and a task", u, 64<<20)
	}
	if got := cgroupLimit(t, a.Cgroup, "memory", "memory.limit_in_bytes", "memory.max"); got != strconv.Itoa(64<<20) {
		t.Errorf("the kernel's memory limit of %s is %q, want %d", a.Cgroup, got, 64<<20)
	}
	if got := cgroupLimit(t, a.Cgroup, "pids", "pids.max", "pids.max"); got != "32" {
		t.Errorf("the kernel's pids limit of %s is %q, want 32", a.Cgroup, got)
	}
	status := d.ctlOK("status", "limited")
	for _, want := range []string{"Cgroup: " + a.Cgroup + "\n", " (limit 32)\n", "limit 64.0 MiB)\n"} {
		if !strings.Contains(status, want) {
			t.Errorf("migratectl status limited lacks %q:\n%s", want, status)
		}
	}
	t.Logf("$ migratectl status limited\n%s", status)
}

// cgroupLimit reads a limit file of cgroup rel (as status names it): the
// v1 file in the controller's hierarchy, or the v2 file in the unified one.
func cgroupLimit(t *testing.T, rel, controller, v1, v2 string) string {
	t.Helper()
	paths := []string{filepath.Join("/sys/fs/cgroup", controller, rel, v1), filepath.Join("/sys/fs/cgroup", rel, v2)}
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("no limit file of cgroup %s: none of %v", rel, paths)
	return ""
}
