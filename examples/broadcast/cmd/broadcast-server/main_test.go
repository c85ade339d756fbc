//go:build linux

package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/migrate-run/migrate/examples/broadcast/line"
	"github.com/migrate-run/migrate/examples/counter/streamcheck"
	"go.uber.org/goleak"
)

const asMain = "BROADCAST_SERVER_AS_MAIN"

// versionEnv stands in for -ldflags "-X main.version=V" in a server the
// test runs: the test binary is built once.
const versionEnv = "BROADCAST_SERVER_TEST_VERSION"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		if v := os.Getenv(versionEnv); v != "" {
			version = v
		}
		os.Exit(run(os.Args[1:], os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

// proc is a running broadcast-server and the lines of its stderr.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	addr  string
}

// startServer runs broadcast-server with args, waits for "listening on",
// and stops it at cleanup.
func startServer(t *testing.T, args ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), asMain+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &proc{cmd: cmd, lines: make(chan string, 100)}
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
		for range s.lines {
		}
		wg.Wait()
		if err := cmd.Wait(); err != nil {
			t.Errorf("server ended with %v", err)
		}
	})
	s.addr = strings.TrimPrefix(s.expect(t, "broadcast-server: listening on "), "broadcast-server: listening on ")
	return s
}

// expect returns the next stderr line, which must start with prefix.
func (s *proc) expect(t *testing.T, prefix string) string {
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

type result struct {
	code     int
	out, err string
}

// runClient runs a broadcast client for count lines; the verdict arrives on
// the channel.
func runClient(addr string, count int) <-chan result {
	done := make(chan result, 1)
	go func() {
		var out, errOut bytes.Buffer
		code := streamcheck.Run("client", line.Format, []string{"--addr", addr, "--count", strconv.Itoa(count)}, &out, &errOut)
		done <- result{code, out.String(), errOut.String()}
	}()
	return done
}

func TestEveryClientGetsTheSameStream(t *testing.T) {
	t.Setenv("MIGRATE_SOCKET", "")
	s := startServer(t, "--addr", "127.0.0.1:0", "--interval", "1ms")
	a := runClient(s.addr, 100)
	s.expect(t, "broadcast-server: client ")
	b := runClient(s.addr, 100)
	s.expect(t, "broadcast-server: client ")
	for _, ch := range []<-chan result{a, b} {
		r := <-ch
		if r.code != 0 || !strings.HasPrefix(r.out, "ok: received 100 numbers") {
			t.Errorf("client exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
		}
	}
}
