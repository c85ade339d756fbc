package tests

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/supervisor"
)

// TestSSHDInInetdMode runs OpenSSH's sshd as inetd would, one sshd -i per
// connection, under migrate-run --accept on a loopback port, and logs in
// with a real ssh client and a key three times at once: each session waits
// at a gate of its own until all three connections are open, then runs a
// command whose output must come back exactly. migratectl status then
// counts three connections accepted, none refused and none open, and its
// human form shows the socket with those counts.
func TestSSHDInInetdMode(t *testing.T) {
	f := newSSHFixture(t)
	port := portBelowEphemeral(t)
	address := "tcp://127.0.0.1:" + strconv.Itoa(port)
	svc := runService(t, "sshd", []string{"--accept", "--listen", address}, f.sshdArgs()...)
	if held := svc.heldPort(); held != port {
		t.Fatalf("migrate-run listens on port %d, want %d", held, port)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}

	const logins = 3
	s := newSessions(t)
	var gates []*fifoGate
	for i := range logins {
		g := newFIFOGate(t, filepath.Join(f.Dir, fmt.Sprintf("gate%d", i)))
		gates = append(gates, g)
		want := fmt.Sprintf("login%d %s 42\n", i, me.Username)
		s.start(func(ctx context.Context) error {
			out, err := f.run(t, ctx, port, g.command(`echo "$word $(id -un) $((6*7))"`))
			if err == nil && out != want {
				err = fmt.Errorf("login %d printed %q, want %q", i, out, want)
			}
			return err
		})
	}
	svc.waitStatus(fmt.Sprintf("%d connections open at once", logins), func(i supervisor.AppInfo) bool {
		s.failIfOneEnded()
		return len(i.Listen) == 1 && i.Listen[0].Connections == logins
	})
	for i, g := range gates {
		g.open(t, fmt.Sprintf("login%d", i))
	}
	s.wait()

	info := svc.waitStatus("every connection closed", func(i supervisor.AppInfo) bool {
		return len(i.Listen) == 1 && i.Listen[0].Connections == 0
	})
	l := info.Listen[0]
	if l.Address != address || !l.Accept || l.MaxConnections != supervisor.DefaultMaxConnections || l.Accepted != logins || l.Refused != 0 ||
		info.State != supervisor.StateRunning {
		t.Errorf("after %d logins: %s, socket %+v; want running, %s accepting, %d accepted, 0 refused",
			logins, info.State, l, address, logins)
	}
	human, err := svc.sup.ctl("status", "sshd")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Listen: " + address, fmt.Sprintf("0/%d connections", supervisor.DefaultMaxConnections), fmt.Sprintf("%d accepted, 0 refused", logins)} {
		if !strings.Contains(human, want) {
			t.Errorf("migratectl status sshd does not say %q:\n%s", want, human)
		}
	}
}

// TestSSHDInInetdModeConnectionLimit runs sshd under migrate-run --accept
// --max-connections 1: while one ssh session is open, a second connection
// is closed at once, before sshd's banner, and counted refused; once the
// session has ended, a new login is served.
func TestSSHDInInetdModeConnectionLimit(t *testing.T) {
	f := newSSHFixture(t)
	port := portBelowEphemeral(t)
	svc := runService(t, "sshd", []string{"--accept", "--max-connections", "1", "--listen", "tcp://127.0.0.1:" + strconv.Itoa(port)}, f.sshdArgs()...)

	s := newSessions(t)
	g := newFIFOGate(t, filepath.Join(f.Dir, "gate"))
	s.start(func(ctx context.Context) error {
		out, err := f.run(t, ctx, port, g.command(`echo "$word"`))
		if err == nil && out != "held\n" {
			err = fmt.Errorf("the held session printed %q, want held", out)
		}
		return err
	})
	svc.waitStatus("one connection open", func(i supervisor.AppInfo) bool {
		s.failIfOneEnded()
		return len(i.Listen) == 1 && i.Listen[0].Connections == 1
	})

	if got, err := firstBytes(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); got != "" || !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("a second connection while one is open read %q, %v; want it closed at once, before sshd's banner", got, err)
	}
	info := svc.waitStatus("the second connection counted refused", func(i supervisor.AppInfo) bool {
		return len(i.Listen) == 1 && i.Listen[0].Refused == 1
	})
	if l := info.Listen[0]; l.Connections != 1 || l.Accepted != 1 || l.MaxConnections != 1 {
		t.Errorf("with the second connection refused: socket %+v, want 1/1 connections, 1 accepted", l)
	}

	g.open(t, "held")
	s.wait()
	svc.waitStatus("the held connection closed", func(i supervisor.AppInfo) bool {
		return len(i.Listen) == 1 && i.Listen[0].Connections == 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := f.run(t, ctx, port, "echo again"); err != nil || out != "again\n" {
		t.Fatalf("a login after the held session ended: %q, %v; want again", out, err)
	}
	info = svc.waitStatus("the second login closed", func(i supervisor.AppInfo) bool {
		return len(i.Listen) == 1 && i.Listen[0].Connections == 0
	})
	if l := info.Listen[0]; l.Accepted != 2 || l.Refused != 1 {
		t.Errorf("after two logins and a refusal: socket %+v, want 2 accepted, 1 refused", l)
	}
}

// firstBytes connects to addr and returns what it reads first (within
// 10 s), with the read's error.
func firstBytes(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return "", err
	}
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

// sessions runs logins in goroutines; at cleanup it cancels those still
// running and waits for them.
type sessions struct {
	t       *testing.T
	ctx     context.Context
	wg      sync.WaitGroup
	ended   chan error // each login's result as it ends
	running int
}

func newSessions(t *testing.T) *sessions {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	s := &sessions{t: t, ctx: ctx, ended: make(chan error, 16)}
	t.Cleanup(func() { cancel(); s.wg.Wait() })
	return s
}

func (s *sessions) start(login func(context.Context) error) {
	s.running++
	s.wg.Go(func() { s.ended <- login(s.ctx) })
}

// failIfOneEnded fails the test when a login ended (before its gate
// opened).
func (s *sessions) failIfOneEnded() {
	s.t.Helper()
	select {
	case err := <-s.ended:
		s.t.Fatalf("a login ended before its gate opened: %v", err)
	default:
	}
}

// wait waits for every login started and fails the test with their
// errors.
func (s *sessions) wait() {
	s.t.Helper()
	for ; s.running > 0; s.running-- {
		if err := <-s.ended; err != nil {
			s.t.Error(err)
		}
	}
	if s.t.Failed() {
		s.t.FailNow()
	}
}

// fifoGate is a named pipe a remote command reads a word from before it
// goes on: the test decides when. The test holds it open for reading and
// writing, so that the command's open never blocks and a word written
// before the command reads it waits in the pipe for it.
type fifoGate struct {
	path string
	f    *os.File
}

func newFIFOGate(t *testing.T, path string) *fifoGate {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &fifoGate{path: path, f: f}
}

// command is a shell command that reads a line from the gate into $word,
// then runs then.
func (g *fifoGate) command(then string) string {
	return "read word < '" + g.path + "' && " + then
}

// open writes word for the command to read.
func (g *fifoGate) open(t *testing.T, word string) {
	t.Helper()
	if _, err := g.f.WriteString(word + "\n"); err != nil {
		t.Fatal(err)
	}
}
