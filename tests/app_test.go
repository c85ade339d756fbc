package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// app is a command run with migrate-run under a daemon; its output (and
// that of every process of the app) goes to a log file.
type app struct {
	t      testing.TB
	name   string
	logf   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// runApp runs "migrate-run --socket D --name NAME [runArgs...] -- argv..."
// and stops it at cleanup (migrate-run then stops the app).
func (d *daemon) runApp(name string, runArgs []string, argv ...string) *app {
	d.t.Helper()
	a := &app{t: d.t, name: name, logf: filepath.Join(d.dir, name+".log")}
	log, err := os.OpenFile(a.logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	defer log.Close()
	args := append([]string{"--socket", d.sock, "--name", name}, runArgs...)
	a.cmd = exec.Command(binPath(d.t, "migrate-run"), append(append(args, "--"), argv...)...)
	a.cmd.Stdout, a.cmd.Stderr = log, log
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	a.exited = make(chan struct{})
	go func() { _ = a.cmd.Wait(); close(a.exited) }()
	d.t.Cleanup(a.stop)
	return a
}

func (a *app) stop() {
	select {
	case <-a.exited:
		return
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(20 * time.Second):
		a.t.Errorf("migrate-run %s did not stop within 20s of SIGTERM", a.name)
		_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		<-a.exited
	}
}

func (a *app) log() string {
	b, _ := os.ReadFile(a.logf)
	return string(b)
}

// waitLine polls the app's log (a file: no event when it grows) until a
// line matches re, and returns the line's submatches.
func (a *app) waitLine(re string) []string {
	a.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, line := range strings.Split(a.log(), "\n") {
			if m := rx.FindStringSubmatch(line); m != nil {
				return m
			}
		}
		select {
		case <-a.exited:
			a.t.Fatalf("migrate-run %s exited before a line matched %q:\n%s", a.name, re, a.log())
		default:
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("no line of %s matched %q within 20s:\n%s", a.name, re, a.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// counterApp runs counter-server under d with a listening socket the
// supervisor holds, and returns it and the address it listens on.
func (d *daemon) counterApp(name string, interval time.Duration) (*app, string) {
	d.t.Helper()
	a := d.runApp(name, []string{"--listen", "tcp://127.0.0.1:0"}, binPath(d.t, "counter-server"), "--interval", interval.String())
	m := a.waitLine(`^counter-server: listening on (\S+)$`)
	return a, m[1]
}

// processGone reports whether pid has exited (and been reaped, or is a
// zombie).
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// waitGone waits until pid has exited.
func waitGone(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still runs after 15s", pid)
		}
		time.Sleep(10 * time.Millisecond) // no pidfd: not our child
	}
}

// environ returns the environment of pid as a map.
func environ(t testing.TB, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + itoa(pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(b), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}
