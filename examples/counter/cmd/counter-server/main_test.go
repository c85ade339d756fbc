//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/migrate-run/migrate/examples/counter/streamcheck"
	"go.uber.org/goleak"
)

// asMain makes the test binary run counter-server's main instead of the
// tests, so the server (and the children it re-executes through
// os.Executable) are real processes.
const asMain = "COUNTER_SERVER_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		os.Exit(run(os.Args[1:], os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

// server is a running counter-server and the lines of its stderr.
type server struct {
	cmd   *exec.Cmd
	lines chan string
	addr  string
}

// startServer runs counter-server with args and files as descriptors 3
// on; argv starting with "sh" runs a shell wrapper instead, which finds the
// server as $EXE. It waits for "listening on" and stops the server (and
// waits for its children to end) at cleanup.
func startServer(t *testing.T, files []*os.File, argv ...string) *server {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if len(argv) == 0 || argv[0] != "sh" {
		argv = append([]string{exe}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), asMain+"=1", "EXE="+exe)
	cmd.ExtraFiles = files
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, lines: make(chan string, 100)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(s.lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		for range s.lines { // drain until every writer (children too) is gone
		}
		wg.Wait()
		cmd.Wait()
	})
	line := s.expect(t, "counter-server: listening on ")
	s.addr = strings.TrimPrefix(line, "counter-server: listening on ")
	return s
}

// expect returns the next stderr line, which must start with prefix.
func (s *server) expect(t *testing.T, prefix string) string {
	t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			t.Fatalf("server ended before %q", prefix)
		}
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("server said %q, want %q...", line, prefix)
		}
		return line
	case <-time.After(10 * time.Second):
		t.Fatalf("server did not say %q", prefix)
		return ""
	}
}

func TestStreamsToEachClientFromAChildOfItsOwn(t *testing.T) {
	t.Setenv("MIGRATE_SOCKET", "") // no supervisor
	s := startServer(t, nil, "--addr", "127.0.0.1:0", "--interval", "1ms")
	type result struct {
		code     int
		out, err string
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			var out, errOut bytes.Buffer
			code := streamcheck.Run("client", streamcheck.Counter, []string{"--addr", s.addr, "--count", "50"}, &out, &errOut)
			results <- result{code, out.String(), errOut.String()}
		}()
	}
	pids := map[string]bool{}
	for range 2 {
		line := s.expect(t, "counter-server: pid ")
		f := strings.Fields(line) // counter-server: pid P serving ADDR from 1
		if len(f) != 7 || f[3] != "serving" || f[5] != "from" || f[6] != "1" {
			t.Fatalf("serving line %q", line)
		}
		if f[2] == strconv.Itoa(s.cmd.Process.Pid) {
			t.Errorf("the listening process serves a client itself: %q", line)
		}
		pids[f[2]] = true
	}
	if len(pids) != 2 {
		t.Errorf("two clients served by pids %v, want two processes", pids)
	}
	for range 2 {
		r := <-results
		want := "ok: received 50 numbers, last 50, no gap or duplicate\n"
		if r.code != 0 || r.out != want {
			t.Errorf("client exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
		}
	}
	// Each child notices its client left, and ends.
	for range 2 {
		s.expect(t, "counter-server: client ")
	}
}

func TestTakesItsSocketFromListenFDs(t *testing.T) {
	t.Setenv("MIGRATE_SOCKET", "")
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// systemd sets LISTEN_PID to the service's pid after fork; a shell
	// that execs keeps its pid, $$.
	s := startServer(t, []*os.File{f}, "sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$EXE" --interval 1ms`)
	if s.addr != ln.Addr().String() {
		t.Errorf("listening on %s, want the passed %s", s.addr, ln.Addr())
	}
	var out, errOut bytes.Buffer
	if code := streamcheck.Run("client", streamcheck.Counter, []string{"--addr", s.addr, "--count", "5"}, &out, &errOut); code != 0 {
		t.Errorf("client exit %d: %s", code, errOut.String())
	}
	s.expect(t, "counter-server: pid ")
	s.expect(t, "counter-server: client ")
}

func TestListenFDsForAnotherProcessAreIgnored(t *testing.T) {
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "--interval", "1ms")
	cmd.Env = append(os.Environ(), asMain+"=1", "LISTEN_FDS=1", fmt.Sprintf("LISTEN_PID=%d", os.Getpid()))
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "no listening socket") {
		t.Errorf("exit %v, output %q; want 1 and no listening socket", err, out)
	}
}
