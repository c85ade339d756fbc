//go:build linux

package rshell_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The binaries, built once per run (without -race: they are what users
// run; the packages' own tests run under -race).
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds migrate-run, migratectl, rshell-server and rshell into a
// temporary directory removed by TestMain, and returns it.
func binaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binaries under a supervisor")
	}
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		if binDir, buildErr = os.MkdirTemp("", "rshell-test-bin-"); buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/", "./cmd/migrate-run", "./cmd/migratectl",
			"./examples/rshell/cmd/rshell-server", "./examples/rshell/cmd/rshell")
		cmd.Dir = filepath.Dir(strings.TrimSpace(string(out)))
		if msg, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, msg)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// service is rshell-server under an embedded supervisor: migrate-run
// --accept on a loopback port of its choosing.
type service struct {
	t      *testing.T
	bin    string
	sock   string
	addr   string // the port migrate-run listens on, HOST:PORT
	home   string // HOME of the shells: an empty directory
	logf   string
	parent string // the cgroup parent, "" without cgroups
	cmd    *exec.Cmd
	exited chan struct{}
}

var services atomic.Int64

// startService runs rshell-server with args under migrate-run and waits
// until it listens. With root it runs the app in cgroups under a parent of
// its own, which must be gone after migrate-run stopped.
func startService(t *testing.T, args ...string) *service {
	t.Helper()
	dir := t.TempDir()
	s := &service{t: t, bin: binaries(t), sock: filepath.Join(dir, "sock"), home: filepath.Join(dir, "home"),
		logf: filepath.Join(dir, "migrate-run.log"), exited: make(chan struct{})}
	if err := os.Mkdir(s.home, 0o700); err != nil {
		t.Fatal(err)
	}
	run := []string{"--socket", s.sock, "--state-dir", filepath.Join(dir, "state"), "--name", "rshell",
		"--log-format", "json", "--log-level", "info", "--accept", "--listen", "tcp://127.0.0.1:0"}
	if os.Geteuid() == 0 {
		s.parent = fmt.Sprintf("rshell-test-%d-%d", os.Getpid(), services.Add(1))
		run = append(run, "--cgroup-parent", s.parent)
	} else {
		run = append(run, "--no-cgroups")
	}
	log, err := os.Create(s.logf)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	argv := append(append(run, "--", filepath.Join(s.bin, "rshell-server")), args...)
	s.cmd = exec.Command(filepath.Join(s.bin, "migrate-run"), argv...)
	s.cmd.Env = append(os.Environ(), "HOME="+s.home)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(s.stop)
	s.addr = s.listening()
	return s
}

// listening polls migratectl status until the service listens (no event
// says so), and returns its address.
func (s *service) listening() string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st struct {
			Service struct {
				Listen []struct{ Address string }
			}
		}
		if err := s.ctlJSON(&st, "status", "rshell"); err == nil && len(st.Service.Listen) == 1 {
			if addr, ok := strings.CutPrefix(st.Service.Listen[0].Address, "tcp://"); ok && !strings.HasSuffix(addr, ":0") {
				return addr
			}
		}
		select {
		case <-s.exited:
			s.t.Fatalf("migrate-run exited:\n%s", s.log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("not listening within 20s:\n%s", s.log())
		}
	}
}

// stop stops migrate-run (SIGTERM, then SIGKILL to its process group)
// and checks that its cgroups went with it.
func (s *service) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		s.t.Errorf("migrate-run did not stop within 20s of SIGTERM:\n%s", s.log())
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
	if s.parent == "" {
		return
	}
	if dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + s.parent); len(dirs) > 0 {
		s.t.Errorf("cgroups left after migrate-run stopped: %v", dirs)
	}
}

func (s *service) log() string {
	b, _ := os.ReadFile(s.logf)
	return string(b)
}

// ctl runs migratectl and returns its stdout.
func (s *service) ctl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(s.bin, "migratectl"), append([]string{"--socket", s.sock, "--timeout", "20s"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("migratectl %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out), nil
}

func (s *service) ctlJSON(v any, args ...string) error {
	out, err := s.ctl(append([]string{"--json"}, args...)...)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(out), v)
}

// sessionInfo and contInfo are the parts of migratectl's JSON the tests
// read.
type sessionInfo struct {
	ID    string `json:"id"`
	State string `json:"state"`
	PID   int    `json:"pid"`
}

type contInfo struct {
	ID                   string `json:"id"`
	State                string `json:"state"`
	OldPID               int    `json:"oldPid"`
	FDsBefore            int    `json:"fdsBefore"`
	FDsAfter             int    `json:"fdsAfter"`
	StoreRawBytes        int    `json:"storeRawBytes"`
	StoreCompressedBytes int    `json:"storeCompressedBytes"`
	Slots                []struct {
		Number int    `json:"number"`
		Name   string `json:"name"`
		Role   string `json:"role"`
		Held   int    `json:"held"`
	} `json:"slots"`
	Store []struct {
		Key   string `json:"key"`
		Value []byte `json:"value"`
	} `json:"store"`
}

// session returns the service's one active session, waiting for it.
func (s *service) session() sessionInfo {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var r struct{ Sessions []sessionInfo }
		err := s.ctlJSON(&r, "sessions")
		if err == nil && len(r.Sessions) == 1 && r.Sessions[0].State == "active" && r.Sessions[0].PID != 0 {
			return r.Sessions[0]
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no active session within 20s: %+v, %v\n%s", r.Sessions, err, s.log())
		}
		time.Sleep(20 * time.Millisecond) // no event tells a client a session registered
	}
}

// suspend suspends session id and returns the continuation's record.
func (s *service) suspend(id string) contInfo {
	s.t.Helper()
	var r struct{ Continuations []string }
	if err := s.ctlJSON(&r, "suspend", id); err != nil || len(r.Continuations) != 1 {
		s.t.Fatalf("suspend session %s: %v %v\n%s", id, r.Continuations, err, s.log())
	}
	var c struct{ Continuation contInfo }
	if err := s.ctlJSON(&c, "show", "--values", r.Continuations[0]); err != nil {
		s.t.Fatal(err)
	}
	return c.Continuation
}

// resume resumes continuation id and returns the fresh server's pid.
func (s *service) resume(id string) int {
	s.t.Helper()
	var r struct{ PID int }
	if err := s.ctlJSON(&r, "resume", id); err != nil || r.PID == 0 {
		s.t.Fatalf("resume continuation %s: pid %d, %v\n%s", id, r.PID, err, s.log())
	}
	return r.PID
}
