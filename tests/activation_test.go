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
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/supervisor"
)

// TestGoSystemdServerUnderMigrateRun runs sdserver, a server written
// against go-systemd alone, under migrate-run as systemd would run it with
// Type=notify, a socket unit, FileDescriptorStoreMax and
// Restart=on-failure. The server serves the socket migrate-run holds (the
// same socket, through every restart), its READY=1 and STATUS= reach
// migratectl status, and each time it exits 3 after two connections it is
// started again with the socket and the state it stored: the hello line's
// generation counts 1, 2, 3. The stored state is a system continuation in
// migratectl list.
func TestGoSystemdServerUnderMigrateRun(t *testing.T) {
	svc := runService(t, "web", []string{"--notify", "--listen", "tcp://127.0.0.1:0", "--fdname", "web",
		"--fdstore", "4", "--restart", "on-failure", "--restart-delay", "10ms"},
		binPath(t, "sdserver"), "--exit-after", "2")
	first := svc.waitStatus("ready", func(i supervisor.AppInfo) bool { return i.Ready })
	addr, ok := strings.CutPrefix(first.StatusText, "serving ")
	if first.State != supervisor.StateRunning || !ok || first.PID == 0 || first.Restarts != 0 {
		t.Fatalf("ready sdserver: state %q, status %q, pid %d, %d restarts; want running, serving ADDR, a pid, 0 restarts",
			first.State, first.StatusText, first.PID, first.Restarts)
	}
	if port := svc.heldPort(); port != portOf(t, addr) {
		t.Fatalf("migrate-run listens on port %d, sdserver serves %s", port, addr)
	}
	held := listeners(t, svc.pid())
	human, err := svc.sup.ctl("status", "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`Ready: yes`, `Status: "serving ` + regexp.QuoteMeta(addr) + `"`, `Listen: tcp://127\.0\.0\.1:\d+ \(web\)`} {
		if !regexp.MustCompile(want).MatchString(human) {
			t.Errorf("migratectl status web does not match %q:\n%s", want, human)
		}
	}

	// Each generation serves two connections (the third only one), then
	// exits 3, and the policy starts the next with the socket and state.
	for gen := 1; gen <= 3; gen++ {
		info := svc.waitStatus(fmt.Sprintf("generation %d ready", gen), func(i supervisor.AppInfo) bool {
			return i.Restarts == gen-1 && i.Ready
		})
		checkActivation(t, info.PID, gen)
		if got := listeners(t, info.PID); !maps.Equal(got, held) {
			t.Errorf("generation %d (pid %d) listens on %v, want migrate-run's socket %v", gen, info.PID, got, held)
		}
		for conn := 1; conn <= 2 && (gen < 3 || conn == 1); conn++ {
			g, pid := hello(t, addr)
			if g != gen || pid != info.PID {
				t.Fatalf("connection %d of generation %d: hello %d %d, want hello %d %d", conn, gen, g, pid, gen, info.PID)
			}
			if conn == 1 {
				svc.waitStatus("STATUS=1 connections served", func(i supervisor.AppInfo) bool {
					return i.PID == info.PID && i.StatusText == "1 connections served"
				})
			}
		}
	}

	info := svc.waitStatus("2 restarts", func(i supervisor.AppInfo) bool { return i.Restarts == 2 })
	if len(info.FDStore) != 1 || info.FDStore[0].Name != "state" || info.FDStore[0].Cont == 0 || info.FDStore[0].Desc.Kind != "memfd" {
		t.Fatalf("fd store %+v, want one memfd named state held as a continuation", info.FDStore)
	}
	cont := info.FDStore[0].Cont
	list := svc.sup.conts()
	i := slices.IndexFunc(list, func(c supervisor.ContInfo) bool { return c.ID == cont })
	if i < 0 || list[i].App != "web" || list[i].Kind != contstore.KindSystem || list[i].State != contstore.StateSuspended {
		t.Errorf("migratectl list %+v, want the fd store's continuation %v as web's suspended system continuation", list, cont)
	}
}

// checkActivation checks the socket activation environment sdserver's
// generation gen started with (which /proc keeps as it was at exec): the
// socket named web, then from the second start on the stored state.
func checkActivation(t *testing.T, pid, gen int) {
	t.Helper()
	env := environ(t, pid)
	fds, names := "1", "web"
	if gen > 1 {
		fds, names = "2", "web:state"
	}
	if env["LISTEN_PID"] != strconv.Itoa(pid) || env["LISTEN_FDS"] != fds || env["LISTEN_FDNAMES"] != names || env["NOTIFY_SOCKET"] == "" {
		t.Errorf("generation %d (pid %d) started with LISTEN_PID=%s LISTEN_FDS=%s LISTEN_FDNAMES=%s NOTIFY_SOCKET=%s, want %d, %s, %s and a socket",
			gen, pid, env["LISTEN_PID"], env["LISTEN_FDS"], env["LISTEN_FDNAMES"], env["NOTIFY_SOCKET"], pid, fds, names)
	}
}

// TestWatchdogRestartsAHungServer runs two sdservers with a 1 s watchdog,
// one that pets it (WATCHDOG=1 every 500 ms) and one that never does
// (--no-watchdog). The silent one is aborted with SIGABRT, shown
// restarting with result watchdog, and started again; the other, which
// ran for longer, is never touched. (A second is slack enough for a
// machine busy with other packages' tests.)
func TestWatchdogRestartsAHungServer(t *testing.T) {
	sdserver := binPath(t, "sdserver")
	flags := []string{"--listen", "tcp://127.0.0.1:0", "--watchdog", "1s", "--restart", "on-failure", "--restart-delay", "500ms"}
	healthy := runService(t, "healthy", flags, sdserver)
	alive := healthy.waitStatus("ready", func(i supervisor.AppInfo) bool { return i.Ready })
	hung := runService(t, "hung", flags, sdserver, "--no-watchdog")
	first := hung.waitStatus("ready", func(i supervisor.AppInfo) bool { return i.Ready })
	// docs/services.md promises WATCHDOG_USEC; systemd also sets WATCHDOG_PID.
	if env := environ(t, first.PID); env["WATCHDOG_USEC"] != "1000000" || env["WATCHDOG_PID"] != "" && env["WATCHDOG_PID"] != strconv.Itoa(first.PID) {
		t.Errorf("sdserver started with WATCHDOG_USEC=%s WATCHDOG_PID=%s, want 1000000 and (if set) %d", env["WATCHDOG_USEC"], env["WATCHDOG_PID"], first.PID)
	}

	// From the miss to the exit, the aborted process still shows running.
	missed := hung.waitStatus("restarting, result watchdog", func(i supervisor.AppInfo) bool {
		return i.State == supervisor.StateRestarting && i.Result == supervisor.ResultWatchdog
	})
	if missed.Ready || missed.Restarts != 0 || missed.PID != first.PID || missed.Exit == nil || len(missed.Processes) != 0 {
		t.Errorf("restarting after the missed watchdog: ready %v, %d restarts, pid %d, exit %v, processes %v; want not ready, 0 restarts, the ended pid %d with its exit, no process",
			missed.Ready, missed.Restarts, missed.PID, missed.Exit, missed.Processes, first.PID)
	}
	hung.run.waitLine(`^SIGABRT: abort$`) // the Go runtime's last words
	again := hung.waitStatus("restarted", func(i supervisor.AppInfo) bool { return i.Restarts >= 1 && i.Ready })
	if again.PID == first.PID || again.Result != "" {
		t.Errorf("restarted: pid %d (was %d), result %q; want a new process and no result", again.PID, first.PID, again.Result)
	}

	now, err := healthy.status()
	if err != nil {
		t.Fatal(err)
	}
	if now.PID != alive.PID || now.Restarts != 0 || now.State != supervisor.StateRunning || now.Result != "" {
		t.Errorf("the sdserver petting its watchdog: pid %d (was %d), %d restarts, state %s, result %q; want it untouched",
			now.PID, alive.PID, now.Restarts, now.State, now.Result)
	}
}

// hello connects to sdserver at addr, reads its first line, checks that a
// line comes back in upper case, and returns the generation and pid the
// first line gave.
func hello(t *testing.T, addr string) (gen, pid int) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read sdserver's hello: %q, %v", line, err)
	}
	if _, err := fmt.Sscanf(line, "hello %d %d\n", &gen, &pid); err != nil {
		t.Fatalf("sdserver's first line %q: %v", line, err)
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if echo, err := r.ReadString('\n'); echo != "PING\n" {
		t.Fatalf("sdserver echoed %q, %v; want PING", echo, err)
	}
	return gen, pid
}

// portOf returns the port of a HOST:PORT address.
func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("port of %s: %v", addr, err)
	}
	return port
}

// service is one app run by migrate-run alone, as an operator runs a
// one-off service: with no supervisor on its socket, migrate-run embeds
// one, with a socket, a store and (as root) a cgroup parent of the test's
// own, and migratectl reaches it there.
type service struct {
	t    *testing.T
	name string
	sup  *daemon // the embedded supervisor's paths and migratectl helpers; no migrated runs
	run  *app    // migrate-run, which is the supervisor
}

// runService runs "migrate-run [runArgs...] -- argv..." as app name and
// waits until its supervisor answers status for it. At cleanup
// migrate-run is stopped, and then no cgroup may be left under its parent.
func runService(t *testing.T, name string, runArgs []string, argv ...string) *service {
	t.Helper()
	dir := t.TempDir()
	sup := &daemon{t: t, dir: dir, sock: filepath.Join(dir, "migrated.sock"), state: filepath.Join(dir, "state")}
	flags := []string{"--state-dir", sup.state, "--log-format", "json", "--log-level", "info"}
	if os.Geteuid() == 0 {
		sup.parent = fmt.Sprintf("migrate-e2e-%d-%d", os.Getpid(), daemons.Add(1))
		flags = append(flags, "--cgroup-parent", sup.parent)
	} else {
		flags = append(flags, "--no-cgroups")
	}
	t.Cleanup(sup.cleanup) // after migrate-run's stop, registered next
	s := &service{t: t, name: name, sup: sup, run: sup.runApp(name, append(flags, runArgs...), argv...)}
	s.waitStatus("known to its supervisor", func(supervisor.AppInfo) bool { return true })
	return s
}

// pid is migrate-run's, the supervisor's.
func (s *service) pid() int { return s.run.cmd.Process.Pid }

// status is migratectl --json status NAME.
func (s *service) status() (supervisor.AppInfo, error) {
	var r struct{ Service supervisor.AppInfo }
	out, err := s.sup.ctl("--json", "status", s.name)
	if err != nil {
		return r.Service, err
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return r.Service, fmt.Errorf("migratectl --json status %s printed %q: %w", s.name, out, err)
	}
	return r.Service, nil
}

// waitStatus polls migratectl status until ok accepts the service's
// status, and returns it; nothing tells a client when a service's state
// changes. It fails the test when migrate-run exits first, or after 20 s.
func (s *service) waitStatus(what string, ok func(supervisor.AppInfo) bool) supervisor.AppInfo {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := s.status()
		if err == nil && ok(info) {
			return info
		}
		select {
		case <-s.run.exited:
			s.t.Fatalf("migrate-run %s exited while waiting for %s:\n%s", s.name, what, s.run.log())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: not %s within 20s: %+v %v\n%s", s.name, what, info, err, s.run.log())
		}
		time.Sleep(20 * time.Millisecond) // no event tells a client that a service moved on
	}
}

// heldPort returns the port of the one TCP socket migrate-run listens on.
func (s *service) heldPort() int {
	s.t.Helper()
	ports := slices.Collect(maps.Values(listeners(s.t, s.pid())))
	if len(ports) != 1 {
		s.t.Fatalf("migrate-run listens on ports %v, want one TCP socket", ports)
	}
	return ports[0]
}

// listeners returns the listening IPv4 TCP sockets among pid's
// descriptors, by inode (the same inode in two processes is the same
// socket), with their ports; from /proc/PID/fd and /proc/net/tcp.
func listeners(t testing.TB, pid int) map[string]int {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	sockets := map[string]bool{}
	for _, e := range ents {
		link, _ := os.Readlink(filepath.Join(dir, e.Name())) // "" if closed since ReadDir
		if inode, ok := strings.CutPrefix(link, "socket:["); ok {
			sockets[strings.TrimSuffix(inode, "]")] = true
		}
	}
	table, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string]int{}
	for _, line := range strings.Split(string(table), "\n")[1:] {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		f := strings.Fields(line)
		const listen = "0A" // TCP_LISTEN
		if len(f) < 10 || f[3] != listen || !sockets[f[9]] {
			continue
		}
		_, hexPort, _ := strings.Cut(f[1], ":")
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			t.Fatalf("/proc/net/tcp local address %q: %v", f[1], err)
		}
		ports[f[9]] = int(port)
	}
	return ports
}
