package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/internal/benchout"
	"github.com/migrate-run/migrate/supervisor"
)

// Tools of the restart-under-load comparison, as the report names them.
const (
	toolSocketActivate = "systemd-socket-activate"
	toolMigrateListen  = "migrate-run --listen"
	toolOwnPort        = "own port"
)

// peerLoadGap is the load between two restarts.
const peerLoadGap = 50 * time.Millisecond

// BenchmarkReportPeerLoad restarts sdserver (a line server written for
// systemd, see examples/sdserver) R times while hammer's clients connect
// without pause and read its first line, three ways, and writes the
// peer-load section:
//
//   - systemd-socket-activate -l ADDR sdserver: socket-activate listens,
//     and on the first connection execs sdserver in its place with the
//     socket (LISTEN_FDS). It holds the socket only until then: when
//     sdserver exits, the socket is gone with it, so a restart is SIGTERM,
//     wait, and systemd-socket-activate again, which listens anew.
//   - migrate-run --listen tcp://ADDR sdserver: migrate-run holds the
//     socket across the restarts; a restart is migratectl restart.
//   - own port: migrate-run without --listen, sdserver --listen ADDR binds
//     the port itself; a restart is migratectl restart. The contrast: the
//     same manager without a held socket.
//
// A restart's latency runs from the restart request until a probe
// connection (dialled again every millisecond while refused or served by
// the old process) is greeted by the new process ("hello GENERATION PID"
// with the new pid). Counted: hammer's connections attempted, served, and
// refused (ECONNREFUSED, or reset before the first line). migrate-run
// --listen must refuse none and fail none otherwise: the report's target.
func BenchmarkReportPeerLoad(b *testing.B) {
	restarts := benchout.Pick(20, 5)
	sdserver := binPath(b, "sdserver")
	res := benchout.RestartLoad{Clients: loadWorkers, Notes: []string{
		fmt.Sprintf("%d clients connect over and over and read sdserver's first line (2 s at most each); a restart every %v of load", loadWorkers, peerLoadGap),
		"restart latency: restart request → a probe connection is greeted by the new process; sdserver stops on SIGTERM by closing its listener and finishing its open connections",
		"a refused client dials again at once (hammer does not pause), so refused counts attempts, not clients; served shows how much work got through",
		"systemd-socket-activate passes its socket to the program it execs and is gone with it: it cannot keep the socket across a restart of the program (--accept would start one program per connection instead, inetd style: no long-running server to restart)",
	}}

	var run benchout.LoadRun
	if bin, err := exec.LookPath("systemd-socket-activate"); err != nil {
		run = benchout.LoadRun{Tool: toolSocketActivate, Notes: "not installed on this machine"}
	} else {
		run = socketActivateLoad(b, bin, sdserver, restarts)
	}
	res.Runs = append(res.Runs, run)

	mig := migrateLoad(b, "held", []string{"--listen", "tcp://127.0.0.1:0"}, []string{sdserver}, "", restarts)
	mig.Tool = toolMigrateListen
	mig.Notes = "migrate-run holds the listening socket; migratectl restart"
	if mig.Refused != 0 || mig.Conns != mig.Served {
		b.Errorf("%s: %d of %d connections refused, %d failed otherwise, want all served", mig.Tool, mig.Refused, mig.Conns, mig.Conns-mig.Served-mig.Refused)
	}
	res.Runs = append(res.Runs, mig)

	addr := fmt.Sprintf("127.0.0.1:%d", portBelowEphemeral(b))
	own := migrateLoad(b, "own", nil, []string{sdserver, "--listen", addr}, addr, restarts)
	own.Tool = toolOwnPort
	own.Notes = "sdserver binds its port itself under migrate-run (no held socket); migratectl restart"
	res.Runs = append(res.Runs, own)

	for _, r := range res.Runs {
		b.Logf("%-24s %2d restarts: %5d connections, %5d served, %4d refused; restart median %.1f ms p99 %.1f %s",
			r.Tool, r.Restarts, r.Conns, r.Served, r.Refused, r.Restart.Median, r.Restart.P99, r.Notes)
	}
	if err := benchout.Write(benchout.SectionPeerLoad, res); err != nil {
		b.Fatal(err)
	}
}

// socketActivateLoad is the systemd-socket-activate run.
func socketActivateLoad(b *testing.B, bin, sdserver string, restarts int) benchout.LoadRun {
	addr := fmt.Sprintf("127.0.0.1:%d", portBelowEphemeral(b))
	logf := filepath.Join(b.TempDir(), "socket-activate.log")
	var cur *exec.Cmd
	var exited chan struct{}
	start := func() error {
		log, err := os.OpenFile(logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer log.Close()
		cmd := exec.Command(bin, "--listen", addr, sdserver)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return err
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		cur, exited = cmd, done
		return nil
	}
	stop := func() error {
		_ = cur.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			return nil
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cur.Process.Pid, syscall.SIGKILL)
			<-exited
			return fmt.Errorf("systemd-socket-activate (sdserver) did not stop within 20s of SIGTERM")
		}
	}
	if err := start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := stop(); err != nil {
			b.Error(err)
		}
	}()
	var stops []time.Duration
	run := restartUnderLoad(b, addr, restarts, func() error {
		t0 := time.Now()
		if err := stop(); err != nil {
			return err
		}
		stops = append(stops, time.Since(t0))
		return start()
	})
	run.Tool = toolSocketActivate
	run.Notes = fmt.Sprintf("a restart: SIGTERM to sdserver (exec'd in socket-activate's place), wait for it to exit (median %.0f ms of the restart), systemd-socket-activate again",
		benchout.Summarize(stops).Median)
	if b.Failed() {
		b.Logf("systemd-socket-activate's log:\n%s", readFile(logf))
	}
	return run
}

// migrateLoad is a migrate-run run: app name, migrate-run's flags, the
// program, and the address it serves ("": the address sdserver reports).
func migrateLoad(b *testing.B, name string, runArgs, argv []string, addr string, restarts int) benchout.LoadRun {
	dir := b.TempDir()
	sup := &daemon{t: b, dir: dir, sock: filepath.Join(dir, "migrated.sock"), state: filepath.Join(dir, "state")}
	flags := []string{"--state-dir", sup.state, "--log-format", "json", "--log-level", "info"}
	if os.Geteuid() == 0 {
		sup.parent = fmt.Sprintf("migrate-e2e-%d-%d", os.Getpid(), daemons.Add(1))
		flags = append(flags, "--cgroup-parent", sup.parent)
	} else {
		flags = append(flags, "--no-cgroups")
	}
	b.Cleanup(sup.cleanup) // after migrate-run's stop, registered next
	a := sup.runApp(name, append(flags, runArgs...), argv...)
	serving := waitServing(b, sup, a, name)
	if addr == "" {
		addr = serving
	}
	return restartUnderLoad(b, addr, restarts, func() error {
		out, err := sup.ctl("restart", name)
		if err == nil && !strings.HasPrefix(out, "restarted "+name+" (pid ") {
			err = fmt.Errorf("migratectl restart %s printed %q", name, out)
		}
		return err
	})
}

// waitServing polls migratectl status until sdserver is ready and returns
// the address of its STATUS=serving ADDR (no event tells a client).
func waitServing(b *testing.B, sup *daemon, a *app, name string) string {
	b.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var r struct{ Service supervisor.AppInfo }
		out, err := sup.ctl("--json", "status", name)
		if err == nil {
			err = json.Unmarshal([]byte(out), &r)
		}
		if err == nil && r.Service.Ready && strings.HasPrefix(r.Service.StatusText, "serving ") {
			return strings.TrimPrefix(r.Service.StatusText, "serving ")
		}
		select {
		case <-a.exited:
			b.Fatalf("migrate-run %s exited before sdserver served:\n%s", name, a.log())
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: sdserver not serving within 20s: %+v %v\n%s", name, r.Service, err, a.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restartUnderLoad runs hammer against addr and restarts the server
// restarts times with restart, one restart every peerLoadGap of load,
// timing each from the request until the new process greets a probe.
func restartUnderLoad(b *testing.B, addr string, restarts int, restart func() error) benchout.LoadRun {
	b.Helper()
	old, err := probeNewServer(addr, 0)
	if err != nil {
		b.Fatalf("%s before the load: %v", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan loadResult, 1)
	go func() { results <- hammer(ctx, addr, loadWorkers) }()
	stopLoad := func() loadResult { cancel(); return <-results }
	var took []time.Duration
	tick := time.NewTicker(peerLoadGap)
	defer tick.Stop()
	for i := range restarts {
		<-tick.C
		t0 := time.Now()
		restarted := make(chan error, 1)
		go func() { restarted <- restart() }()
		pid, perr := probeNewServer(addr, old)
		rerr := <-restarted
		if err := errors.Join(rerr, perr); err != nil {
			stopLoad()
			b.Fatalf("restart %d of %s: %v", i+1, addr, err)
		}
		took = append(took, time.Since(t0))
		old = pid
	}
	r := stopLoad()
	other := 0
	for _, n := range r.Other {
		other += n
	}
	run := benchout.LoadRun{
		Restarts: restarts,
		Conns:    r.OK + r.Refused + other,
		Served:   r.OK,
		Refused:  r.Refused,
		Restart:  benchout.Summarize(took),
	}
	if other > 0 {
		b.Logf("%s: %d connections failed otherwise: %v", addr, other, r.Other)
	}
	return run
}

// probeNewServer connects to addr until a server process other than old
// (0: any) greets the connection with "hello GENERATION PID", dialling
// again every millisecond while refused, reset, or greeted by old; it
// returns the greeting's pid. It gives up after 20 s.
func probeNewServer(addr string, old int) (int, error) {
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		pid, err := greetingPID(addr, deadline)
		if err == nil && pid != old {
			return pid, nil
		}
		if err != nil {
			last = err
		}
		time.Sleep(time.Millisecond) // a client's retry interval: nothing tells it the server is back
	}
	return 0, fmt.Errorf("no new server greeted a connection within 20s (last error: %v)", last)
}

// greetingPID connects once and returns the pid of sdserver's greeting.
func greetingPID(addr string, deadline time.Time) (int, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Until(deadline))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return 0, err
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "hello" {
		return 0, fmt.Errorf("greeting %q, want hello GENERATION PID", line)
	}
	return strconv.Atoi(f[2])
}

func readFile(name string) string {
	b, _ := os.ReadFile(name)
	return string(b)
}
