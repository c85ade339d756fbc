package tests

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/internal/benchout"
	"github.com/migrate-run/migrate/supervisor"
)

// BenchmarkReportDescriptors is the report's Table III and Fig. 12: for
// each example app, one live session under a real migrated, counted as
// docs/bench.md and examples/rshell count them — the descriptors of the
// process serving the session (/proc/PID/fd), the slots of the
// continuation it hands over when suspended and the descriptors the
// supervisor holds for it after collapse (migratectl show), and the
// continuation's attribute/value state as the store keeps it, raw and
// zstd-compressed. The supervisor's own count of held descriptors
// (migratectl stats) must grow by exactly the held figure. The apps are
// counter-server (a process per connection, a complete continuation),
// broadcast-server (one process for every client, an internal
// continuation) and rshell-server (a process per connection with an
// interactive /bin/sh on a pty, as the paper's sshd). The numbers do not
// depend on the machine's load, so quick and full runs are the same.
//
//	go test -run '^$' -bench ReportDescriptors -benchtime 1x ./tests/
func BenchmarkReportDescriptors(b *testing.B) {
	out := benchout.Descriptors{Notes: []string{
		"Paper, Table III (OpenSSH): 12 descriptors active with migrate (9 without), 8 in the continuation, 3 held after collapse; Fig. 12: 3.6 KB of state for an SSH session.",
		"Active: /proc/PID/fd of the process serving the session, with its control socket to the supervisor. Held: the supervisor's descriptors after collapse (duplicates of one open file become one). Sizes: the continuation's attribute/value state as the store keeps it (raw, zstd); the record's slot descriptions and exec description come on top.",
		"sshd is not measured here: it does not speak the migrate protocol, so it has no continuation (the paper modified it).",
	}}
	for _, m := range []func(*testing.B) benchout.DescApp{descCounter, descBroadcast, descRshell} {
		row := m(b)
		b.Logf("%s: %d active, %d in the continuation, %d held; state %d B raw, %d B compressed", row.App, row.Active,
			row.InContinuation, row.Held, row.RawBytes, row.Compressed)
		out.Apps = append(out.Apps, row)
	}
	if err := benchout.Write(benchout.SectionDescriptors, out); err != nil {
		b.Fatal(err)
	}
}

func descCounter(b *testing.B) benchout.DescApp {
	d := startDaemon(b)
	_, addr := d.counterApp("counter", 50*time.Millisecond)
	firstLine(b, dialStream(b, addr))
	return descSuspend(b, d, "counter-server", contstore.KindComplete,
		"a process per connection; the continuation is the connection and the next number")
}

func descBroadcast(b *testing.B) benchout.DescApp {
	d := startDaemon(b)
	_, addr := d.broadcastApp(50 * time.Millisecond)
	firstLine(b, dialBroadcast(b, addr))
	return descSuspend(b, d, "broadcast-server", contstore.KindInternal,
		"one process for every client (its listener, other clients and timers count in active); an internal continuation")
}

func descRshell(b *testing.B) benchout.DescApp {
	if _, err := os.Stat("/bin/sh"); err != nil {
		b.Skip("no /bin/sh")
	}
	d := startDaemon(b)
	d.runApp("rshell", []string{"--accept", "--listen", "tcp://127.0.0.1:0"}, binPath(b, "rshell-server"), "--shell", "/bin/sh")
	sh := startRshell(b, d.listenAddr("rshell"))
	sh.run(b, "echo READY-$((6*7))", "READY-42")
	return descSuspend(b, d, "rshell-server", contstore.KindComplete,
		"a process per connection (inetd style) with an interactive /bin/sh on a pty; the paper's sshd row")
}

// firstLine waits for the client's first line: the server streams once
// GetSession has returned, so the library's duplicate of the connection,
// open until the supervisor's Ack, is closed by then and not counted.
func firstLine(b *testing.B, s *stream) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, _, err := s.waitPast(ctx, 0); err != nil {
		b.Fatal(err)
	}
}

// descSuspend counts the one active session's server, suspends it with
// migratectl, and reads the continuation.
func descSuspend(b *testing.B, d *daemon, app string, kind contstore.Kind, note string) benchout.DescApp {
	b.Helper()
	sess := d.waitSessions(1)[0]
	active := fdTargets(b, sess.PID)
	before := capStats(b, d)
	var r struct{ Continuations []contstore.ID }
	d.ctlJSON(&r, "suspend", sess.ID.String())
	if len(r.Continuations) != 1 {
		b.Fatalf("suspend of %s's session: continuations %v, want one", app, r.Continuations)
	}
	var show struct{ Continuation supervisor.ContInfo }
	d.ctlJSON(&show, "show", r.Continuations[0].String())
	c := show.Continuation
	after := capStats(b, d)
	if c.Kind != kind || c.State != contstore.StateSuspended {
		b.Fatalf("%s's continuation is %s and %s, want %s and suspended", app, c.Kind, c.State, kind)
	}
	if held := after.HeldAfter - before.HeldAfter; held != c.FDsAfter || c.FDsAfter == 0 {
		b.Fatalf("%s: the supervisor holds %d more descriptors, the continuation says %d", app, held, c.FDsAfter)
	}
	var slots []string
	for _, sl := range c.Slots {
		slots = append(slots, fmt.Sprintf("%d:%s→%d", sl.Number, sl.Role, sl.Held))
	}
	b.Logf("%s: active %v; slots %s", app, active, strings.Join(slots, " "))
	return benchout.DescApp{App: app, Active: len(active), InContinuation: c.FDsBefore, Held: c.FDsAfter,
		RawBytes: c.StoreRawBytes, Compressed: c.StoreCompressedBytes, Note: note}
}

// fdTargets lists what pid's descriptors are, sorted by number.
func fdTargets(b *testing.B, pid int) []string {
	b.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	num := func(e os.DirEntry) int { n, _ := strconv.Atoi(e.Name()); return n }
	sort.Slice(ents, func(i, j int) bool { return num(ents[i]) < num(ents[j]) })
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		out = append(out, e.Name()+"="+target)
	}
	return out
}

// rshellClient is the rshell client with its input a pipe of the test's
// (not a terminal: the remote shell still runs on a pty of the server's).
type rshellClient struct {
	in  io.WriteCloser
	out *os.File // the client's output, a file the test polls
}

func startRshell(b *testing.B, addr string) *rshellClient {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binPath(b, "rshell"), "--addr", addr)
	out, err := os.Create(filepath.Join(b.TempDir(), "rshell.out"))
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		in.Close()
		cancel()
		_ = cmd.Wait()
		out.Close()
	})
	return &rshellClient{in: in, out: out}
}

// run types line and waits until want appears in the output.
func (c *rshellClient) run(b *testing.B, line, want string) {
	b.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ := os.ReadFile(c.out.Name())
		if strings.Contains(string(got), want) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("rshell printed no %q within 20s: %q", want, got)
		}
		time.Sleep(20 * time.Millisecond) // a file: nothing tells when it grows
	}
}
