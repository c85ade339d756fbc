package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/examples/rshell/pty"
	"github.com/migrate-run/migrate/internal/benchout"
	"github.com/migrate-run/migrate/supervisor"
)

// BenchmarkReportStagesRshell is Table IV for rshell-server (the paper's
// sshd): an interactive sh behind rshell-server under migrated (an accept
// service started by migrate-run), its client rshell on a pty of the
// test's. Each cycle suspends the session, types Enter while no server
// runs (it waits in the held connection) and resumes it: the client's next
// byte is the echo the fresh server relays. 200 cycles (quick: 20).
func BenchmarkReportStagesRshell(b *testing.B) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		b.Skip("no /bin/sh")
	}
	cycles := benchout.Pick(200, 20)
	prof := newProfile(b, benchout.SectionStagesRshell)
	d := startDaemon(b, "--log-level", "info", "--cpuprofile", prof.path)
	d.runApp("rshell", []string{"--accept", "--listen", "tcp://127.0.0.1:0"},
		binPath(b, "rshell-server"), "--shell", "/bin/sh", "--login=false")
	tm := startPtyClient(b, binPath(b, "rshell"), d.listenAddr("rshell"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := tm.write("echo READY-$((6*7))\r"); err != nil {
		b.Fatal(err)
	}
	if err := tm.waitFor(ctx, 0, readyRx); err != nil {
		b.Fatal(err)
	}
	ac := d.admin()

	var st stageSamples
	for range cycles {
		sess, err := rshellSession(ctx, ac)
		if err != nil {
			b.Fatal(err)
		}
		mark := tm.seen()
		t0 := time.Now()
		ids, sst, err := ac.SuspendStages(ctx, sess)
		if err != nil || len(ids) != 1 {
			b.Fatalf("suspend: %v %v", ids, err)
		}
		t1 := time.Now()
		if err := tm.write("\r"); err != nil {
			b.Fatal(err)
		}
		res, err := ac.Resume(ctx, ids[0])
		if err != nil {
			b.Fatalf("resume: %v", err)
		}
		t2 := time.Now()
		at, err := tm.firstAfter(ctx, mark)
		if err != nil {
			b.Fatal(err)
		}
		// The echo and a new prompt: the shell is idle again.
		if err := tm.waitFor(ctx, mark, promptRx); err != nil {
			b.Fatal(err)
		}
		st.add(t0, t1, t2, at, sst, res.Stages)
	}
	d.stopNow()
	notes := []string{"sh (not a login shell) behind rshell-server --accept under migrated; the next byte is the echo of Enter typed while suspended"}
	st.write(b, benchout.SectionStagesRshell, "rshell-server", cycles, prof, notes)
}

var (
	readyRx  = regexp.MustCompile(`READY-42\r\n[^\n]*[#$] $`)
	promptRx = regexp.MustCompile(`\r\n[^\n]*[#$] $`)
)

// listenAddr polls the app's status until its socket has its port, and
// returns HOST:PORT.
func (d *daemon) listenAddr(app string) string {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st struct{ Service supervisor.AppInfo }
		if err := d.ctlJSONErr(&st, "status", app); err == nil && len(st.Service.Listen) == 1 {
			if addr, ok := strings.CutPrefix(st.Service.Listen[0].Address, "tcp://"); ok && !strings.HasSuffix(addr, ":0") {
				return addr
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s does not listen within 20s", app)
		}
		time.Sleep(20 * time.Millisecond) // no event says a socket is bound
	}
}

// rshellSession returns the id of rshell's one active session: a resumed
// server registers it again.
func rshellSession(ctx context.Context, ac *supervisor.AdminClient) (contstore.SessionID, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		list, err := ac.Sessions(ctx, "rshell")
		if err != nil {
			return 0, err
		}
		if len(list) == 1 && list[0].State == "active" && list[0].PID != 0 {
			return list[0].ID, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no one active rshell session within 20s: %+v", list)
		}
		time.Sleep(time.Millisecond) // no event says a session registered
	}
}

// ptyClient is rshell on a pty of the test's, as a terminal emulator runs
// it; it records when each chunk of output arrived.
type ptyClient struct {
	master *os.File
	cmd    *exec.Cmd
	exited chan struct{}
	read   chan struct{} // closed when the reader ended

	mu     sync.Mutex
	out    []byte
	chunks []chunk
	err    error
	more   chan struct{}
}

// chunk is one read's end in out and its arrival.
type chunk struct {
	end int
	at  time.Time
}

func startPtyClient(t testing.TB, bin, addr string) *ptyClient {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	if err := pty.SetSize(master, 40, 100); err != nil {
		master.Close()
		t.Fatal(err)
	}
	c := &ptyClient{master: master, exited: make(chan struct{}), read: make(chan struct{}), more: make(chan struct{}, 1)}
	c.cmd = exec.Command(bin, "--addr", addr)
	c.cmd.Env = []string{"TERM=xterm-256color", "PATH=/usr/bin:/bin"}
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = slave, slave, slave
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := c.cmd.Start(); err != nil {
		master.Close()
		t.Fatal(err)
	}
	go func() { _ = c.cmd.Wait(); close(c.exited) }()
	go c.reader()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.exited
		master.Close()
		<-c.read
	})
	return c
}

func (c *ptyClient) reader() {
	defer close(c.read)
	buf := make([]byte, 32<<10)
	for {
		n, err := c.master.Read(buf)
		now := time.Now()
		c.mu.Lock()
		if n > 0 {
			c.out = append(c.out, buf[:n]...)
			c.chunks = append(c.chunks, chunk{end: len(c.out), at: now})
		}
		if err != nil {
			c.err = fmt.Errorf("the terminal: %w", err) // EIO once the client is gone
		}
		c.mu.Unlock()
		select {
		case c.more <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// write types s.
func (c *ptyClient) write(s string) error {
	_, err := c.master.WriteString(s)
	return err
}

// seen returns how many bytes the terminal showed so far.
func (c *ptyClient) seen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.out)
}

// firstAfter waits for output past byte mark and returns when it arrived.
func (c *ptyClient) firstAfter(ctx context.Context, mark int) (time.Time, error) {
	var at time.Time
	err := c.until(ctx, func() bool {
		for i := len(c.chunks) - 1; i >= 0 && c.chunks[i].end > mark; i-- {
			at = c.chunks[i].at
		}
		return !at.IsZero()
	})
	return at, err
}

// waitFor waits until the output past byte mark matches re.
func (c *ptyClient) waitFor(ctx context.Context, mark int, re *regexp.Regexp) error {
	err := c.until(ctx, func() bool { return re.Match(c.out[mark:]) })
	if err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		return fmt.Errorf("the terminal did not show %q: it shows %q: %w", re, c.out[mark:], err)
	}
	return nil
}

// until waits until ok, called under c.mu, holds.
func (c *ptyClient) until(ctx context.Context, ok func() bool) error {
	for {
		c.mu.Lock()
		done, err := ok(), c.err
		c.mu.Unlock()
		if done {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-c.more:
		case <-c.read:
		case <-c.exited:
			return fmt.Errorf("rshell exited: %v", c.cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
