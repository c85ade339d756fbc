package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/supervisor"
)

// svcWait bounds each wait of the service tests for the supervisor to
// reach a state.
const svcWait = 20 * time.Second

// startServices writes files (service name → TOML) into a fresh service
// directory and runs migrated --config on it; it returns the daemon, which
// answers but may still be starting the services, and the directory.
func startServices(t *testing.T, files map[string]string) (*daemon, string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		writeService(t, dir, name, body)
	}
	return startDaemon(t, "--config", dir), dir
}

func writeService(t testing.TB, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".toml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ctlOK runs migratectl and returns its stdout, failing the test when it
// fails.
func (d *daemon) ctlOK(args ...string) string {
	d.t.Helper()
	out, err := d.ctl(args...)
	if err != nil {
		d.t.Fatalf("%v\nmigrated's log ends:\n%s", err, d.logTail())
	}
	return out
}

// serviceList is migratectl --json services, by name.
func (d *daemon) serviceList() map[string]supervisor.AppInfo {
	d.t.Helper()
	var r struct{ Services []supervisor.AppInfo }
	d.ctlJSON(&r, "services")
	m := make(map[string]supervisor.AppInfo, len(r.Services))
	for _, a := range r.Services {
		m[a.Name] = a
	}
	return m
}

// serviceStatus is migratectl --json status NAME.
func (d *daemon) serviceStatus(name string) supervisor.AppInfo {
	d.t.Helper()
	var r struct{ Service supervisor.AppInfo }
	d.ctlJSON(&r, "status", name)
	return r.Service
}

// waitServices polls migratectl --json services until ok holds of the
// list; what says what the test waits for.
func (d *daemon) waitServices(what string, ok func(map[string]supervisor.AppInfo) bool) map[string]supervisor.AppInfo {
	d.t.Helper()
	deadline := time.Now().Add(svcWait)
	for {
		list := d.serviceList()
		if ok(list) {
			return list
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("services not %s within %v: %s\nmigrated's log ends:\n%s", what, svcWait, describeServices(list), d.logTail())
		}
		time.Sleep(20 * time.Millisecond) // nothing tells an operator that a service moved on
	}
}

// waitService polls migratectl --json status NAME until ok holds of it.
func (d *daemon) waitService(name, what string, ok func(supervisor.AppInfo) bool) supervisor.AppInfo {
	d.t.Helper()
	deadline := time.Now().Add(svcWait)
	for {
		a := d.serviceStatus(name)
		if ok(a) {
			return a
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s not %s within %v: %s\nmigrated's log ends:\n%s", name, what, svcWait, describeService(a), d.logTail())
		}
		time.Sleep(20 * time.Millisecond) // nothing tells an operator that a service moved on
	}
}

// runningReady reports whether a's main process runs and is ready.
func runningReady(a supervisor.AppInfo) bool {
	return a.State == supervisor.StateRunning && a.Ready && a.PID != 0
}

// allRunning holds of a list in which every one of names runs, ready.
func allRunning(names ...string) func(map[string]supervisor.AppInfo) bool {
	return func(m map[string]supervisor.AppInfo) bool {
		for _, n := range names {
			if !runningReady(m[n]) {
				return false
			}
		}
		return true
	}
}

func describeServices(m map[string]supervisor.AppInfo) string {
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(m)) {
		b.WriteString("\n  " + describeService(m[n]))
	}
	return b.String()
}

func describeService(a supervisor.AppInfo) string {
	s := fmt.Sprintf("%s %s", a.Name, a.State)
	if a.Result != "" {
		s += " (" + a.Result + ")"
	}
	s += fmt.Sprintf(" pid %d ready %v restarts %d", a.PID, a.Ready, a.Restarts)
	if a.Exit != nil {
		s += fmt.Sprintf(" exit %+v", *a.Exit)
	}
	return s
}

// servicesTable runs migratectl services and returns what it printed and
// its rows by name, each a map from column title to cell.
func (d *daemon) servicesTable() (string, map[string]map[string]string) {
	d.t.Helper()
	out := d.ctlOK("services")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	cols := regexp.MustCompile(`\s{2,}`) // tabwriter pads with at least two spaces
	header := cols.Split(lines[0], -1)
	if len(header) == 0 || header[0] != "NAME" {
		d.t.Fatalf("migratectl services printed %q, want a NAME column first", out)
	}
	rows := map[string]map[string]string{}
	for _, line := range lines[1:] {
		cells := cols.Split(strings.TrimRight(line, " "), -1)
		if len(cells) != len(header) {
			d.t.Fatalf("migratectl services printed row %q with %d cells under %d columns:\n%s", line, len(cells), len(header), out)
		}
		row := map[string]string{}
		for i, h := range header {
			row[h] = cells[i]
		}
		rows[cells[0]] = row
	}
	return out, rows
}

// serviceOutput polls migratectl --json logs NAME until the service is
// done and its output all read, and returns the lines.
func (d *daemon) serviceOutput(name string) []supervisor.LogLine {
	d.t.Helper()
	deadline := time.Now().Add(svcWait)
	for {
		var page supervisor.LogsPage
		d.ctlJSON(&page, "logs", name)
		if page.Done {
			return page.Lines
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("logs of %s not done within %v: %+v", name, svcWait, page.Lines)
		}
		time.Sleep(20 * time.Millisecond) // no event says the capture drained
	}
}

// waitOutputLine polls migratectl --json logs NAME until a line reads
// text: a service says so when it is set up.
func (d *daemon) waitOutputLine(name, text string) {
	d.t.Helper()
	deadline := time.Now().Add(svcWait)
	for {
		var page supervisor.LogsPage
		d.ctlJSON(&page, "logs", name)
		if slices.ContainsFunc(page.Lines, func(l supervisor.LogLine) bool { return l.Text == text }) {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s did not print %q within %v: %+v", name, text, svcWait, page.Lines)
		}
		time.Sleep(20 * time.Millisecond) // no event says the service wrote
	}
}

// logEntry is one line of migrated's JSON log, with its place in the file.
type logEntry struct {
	index  int
	fields map[string]any
}

func (e logEntry) str(key string) string { s, _ := e.fields[key].(string); return s }

// logEntries returns the entries of migrated's log whose message is msg
// and, if app is not "", whose app is app, in the order migrated wrote
// them.
func (d *daemon) logEntries(msg, app string) []logEntry {
	var out []logEntry
	for i, line := range strings.Split(d.log(), "\n") {
		var f map[string]any
		if json.Unmarshal([]byte(line), &f) != nil {
			continue
		}
		e := logEntry{index: i, fields: f}
		if e.str("message") == msg && (app == "" || e.str("app") == app) {
			out = append(out, e)
		}
	}
	return out
}

// waitLogEntry polls migrated's log until it has an entry with message msg
// (and app, if not ""), and returns the last such entry.
func (d *daemon) waitLogEntry(msg, app string) logEntry {
	d.t.Helper()
	deadline := time.Now().Add(svcWait)
	for {
		if es := d.logEntries(msg, app); len(es) > 0 {
			return es[len(es)-1]
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("migrated did not log %q within %v; its log ends:\n%s", msg, svcWait, d.logTail())
		}
		time.Sleep(20 * time.Millisecond) // a log file has no event
	}
}

// logTail is the last lines of migrated's log, for failure messages.
func (d *daemon) logTail() string {
	lines := strings.Split(strings.TrimSuffix(d.log(), "\n"), "\n")
	return strings.Join(lines[max(len(lines)-40, 0):], "\n")
}

// freePort returns a loopback TCP port nothing listens on now, for a
// service file's [[listen]] (which takes no port 0).
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// sdHello connects to an sdserver at addr, reads its first line, "hello
// GENERATION PID", and closes the connection (which, with --exit-after
// 1, ends the server).
func sdHello(t testing.TB, addr string) (gen, pid int) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, svcWait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(svcWait)); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("read sdserver's first line from %s: %v (read %q)", addr, err, line)
	}
	f := strings.Fields(line)
	if len(f) == 3 && f[0] == "hello" {
		gen, err1 := strconv.Atoi(f[1])
		pid, err2 := strconv.Atoi(f[2])
		if err1 == nil && err2 == nil {
			return gen, pid
		}
	}
	t.Fatalf("sdserver's first line %q, want hello GENERATION PID", line)
	return 0, 0
}

// gate is a named pipe a service's shell reads a line from before it goes
// on: the test decides when the service gets past it.
type gate struct {
	path string
	w    *os.File
}

// newGate makes a gate; the test holds it open for reading and writing,
// so that the service's open never blocks and only its read waits.
func newGate(t testing.TB) *gate {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gate")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return &gate{path: path, w: w}
}

// open lets the service's read return.
func (g *gate) open(t testing.TB) {
	t.Helper()
	if _, err := g.w.WriteString("go\n"); err != nil {
		t.Fatal(err)
	}
}
