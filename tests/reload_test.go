package tests

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/migrate-run/migrate/supervisor"
)

// sleeperService is a service file whose main process sleeps.
const sleeperService = `[exec]
args = ["/bin/sleep", "1000"]
`

// TestReloadAppliesWhatChanged edits the service directory of a running
// migrated and sends it SIGHUP: the changed service restarts (a new main
// process), the removed one stops and leaves the list, the new one starts,
// and the unchanged one (its file rewritten with a comment and another
// layout) keeps its process. Then a file with an unknown key: SIGHUP
// changes nothing and migrated logs the file and line; migratectl reload
// fails with the same message. Fixed again, migratectl reload says nothing
// changed.
func TestReloadAppliesWhatChanged(t *testing.T) {
	d, dir := startServices(t, map[string]string{"keep": sleeperService, "change": sleeperService, "gone": sleeperService})
	before := d.waitServices("running", allRunning("keep", "change", "gone"))

	writeService(t, dir, "keep", "# the same service\n[exec]\nargs = [ \"/bin/sleep\",\n\t\"1000\" ]\n")
	writeService(t, dir, "change", "[exec]\nargs = [\"/bin/sleep\", \"1001\"]\n")
	if err := os.Remove(filepath.Join(dir, "gone.toml")); err != nil {
		t.Fatal(err)
	}
	writeService(t, dir, "new", sleeperService)
	sendHUP(t, d)
	after := d.waitServices("reloaded", func(m map[string]supervisor.AppInfo) bool {
		_, gone := m["gone"]
		return !gone && allRunning("keep", "change", "new")(m) && m["change"].PID != before["change"].PID
	})
	if len(after) != 3 {
		t.Errorf("after the reload: %s, want keep, change and new", describeServices(after))
	}
	if after["keep"].PID != before["keep"].PID {
		t.Errorf("keep's main process changed from %d to %d: its definition did not", before["keep"].PID, after["keep"].PID)
	}
	for _, name := range []string{"change", "gone"} {
		if pid := before[name].PID; !processGone(pid) {
			t.Errorf("%s's old main process %d still runs after the reload", name, pid)
		}
	}
	e := d.waitLogEntry("services reloaded", "")
	if got := [3]string{logList(e, "started"), logList(e, "stopped"), logList(e, "restarted")}; got != [3]string{"new", "gone", "change"} {
		t.Errorf("migrated logged started, stopped, restarted %q, want new, gone, change", got)
	}

	const broken = "# broken\nrestart_policy = \"always\"\n[exec]\nargs = [\"/bin/sleep\", \"1000\"]\n"
	const where = "/keep.toml:2: restart_policy unknown key"
	writeService(t, dir, "keep", broken)
	sendHUP(t, d)
	if e := d.waitLogEntry("reload failed, services unchanged", ""); !strings.Contains(e.str("error"), filepath.Join(dir, "keep.toml")+":2: ") {
		t.Errorf("migrated logged the failed reload as %q, want the file and line", e.str("error"))
	}
	if now := d.serviceList(); !samePIDs(now, after) {
		t.Errorf("a broken file changed the running services:\nbefore%s\nafter%s", describeServices(after), describeServices(now))
	}
	_, err := d.ctl("reload")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(err.Error(), where) || !strings.Contains(err.Error(), "nothing changed") {
		t.Errorf("migratectl reload of a broken file: %v, want exit status 1 naming %s", err, where)
	}
	t.Logf("$ migratectl reload\n%v", err)

	writeService(t, dir, "keep", sleeperService)
	out := d.ctlOK("reload")
	if out != "nothing changed\nunchanged  change, keep, new\n" {
		t.Errorf("migratectl reload after the fix printed %q, want nothing changed", out)
	}
	if now := d.serviceList(); !samePIDs(now, after) {
		t.Errorf("a reload that changed nothing changed the running services:\nbefore%s\nafter%s", describeServices(after), describeServices(now))
	}
}

// sendHUP sends migrated SIGHUP.
func sendHUP(t *testing.T, d *daemon) {
	t.Helper()
	if err := syscall.Kill(d.pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// logList is the list of strings under key of a log entry, joined by ",".
func logList(e logEntry, key string) string {
	list, _ := e.fields[key].([]any)
	var out []string
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

// samePIDs reports whether two lists have the same services, each with
// the same main process.
func samePIDs(a, b map[string]supervisor.AppInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for name, x := range a {
		if y, ok := b[name]; !ok || x.PID != y.PID || x.State != y.State {
			return false
		}
	}
	return true
}

// TestBrokenServiceDirectoryAtStart starts migrated on a directory whose
// files are broken in four ways: it exits 1 at once, naming each problem
// with its file (and line), and never serves its socket.
func TestBrokenServiceDirectoryAtStart(t *testing.T) {
	dir, cfg := t.TempDir(), t.TempDir()
	writeService(t, cfg, "a", "readiness = 3\n"+sleeperService)
	writeService(t, cfg, "b", sleeperService+"[restart]\npolicy = \"sometimes\"\n")
	writeService(t, cfg, "c", "[exec]\nargz = [\"/bin/sleep\", \"1000\"]\n")
	writeService(t, cfg, "d", "after = [\"nosuch\"]\n"+sleeperService)
	writeService(t, cfg, "fine", sleeperService)
	ctx, cancel := context.WithTimeout(context.Background(), svcWait)
	defer cancel()
	sock := filepath.Join(dir, "migrated.sock")
	cmd := exec.CommandContext(ctx, binPath(t, "migrated"), "--config", cfg, "--socket", sock,
		"--state-dir", filepath.Join(dir, "state"), "--no-cgroups")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("migrated on a broken directory: %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{
		filepath.Join(cfg, "a.toml") + ":1: readiness want a string, not a TOML integer\n",
		filepath.Join(cfg, "b.toml") + `:4: [restart] policy "sometimes": want no, on-failure or always` + "\n",
		filepath.Join(cfg, "c.toml") + ":2: [exec] argz unknown key\n",
		filepath.Join(cfg, "d.toml") + `: after "nosuch": no such service` + "\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("migrated's output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("migrated left its socket %s behind: %v", sock, err)
	}
	t.Logf("$ migrated --config DIR\n%s", out)
}
