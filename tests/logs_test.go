package tests

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

// logsScript prints a line to each stream, waits for a line on stdin,
// prints one more and exits.
const logsScript = `echo first; echo oops >&2; read go; echo "after $go"`

// An app migrated started has its output captured: migratectl logs prints
// the kept lines as TIME STREAM LINE, logs -f prints a line written after
// it started and exits once the app is done, --json -n 1 gives the last.
func TestLogsOfAnAdminStartedApp(t *testing.T) {
	d := startDaemon(t)
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdinR.Close(); stdinW.Close() })
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fds := [3]int{int(stdinR.Fd()), int(null.Fd()), int(null.Fd())}
	if _, err := d.admin().StartApp(ctx, &proto.AdminStartApp{Name: "talker", Args: []string{"sh", "-c", logsScript},
		Env: []string{"PATH=/usr/bin:/bin"}, Cwd: "/"}, fds); err != nil {
		t.Fatalf("StartApp: %v", err)
	}
	stdinR.Close()
	kept := waitKept(t, d, "talker", 2)
	streams := map[string]string{}
	for _, line := range kept {
		f := strings.SplitN(line, " ", 3)
		if len(f) != 3 {
			t.Fatalf("logs printed %q, want TIME STREAM LINE", line)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", f[0]); err != nil {
			t.Fatalf("logs printed time %q: %v", f[0], err)
		}
		streams[f[2]] = f[1]
	}
	if streams["first"] != "stdout" || streams["oops"] != "stderr" {
		t.Fatalf("logs printed %q", kept)
	}

	follow := exec.CommandContext(ctx, binPath(t, "migratectl"), "--socket", d.sock, "logs", "-f", "talker")
	out, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = follow.Process.Kill(); _ = follow.Wait() })
	lines := bufio.NewScanner(out)
	for range 2 { // the kept lines first
		if !lines.Scan() {
			t.Fatalf("logs -f ended before the kept lines: %v", lines.Err())
		}
	}
	if _, err := stdinW.WriteString("now\n"); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() || !strings.HasSuffix(lines.Text(), " stdout after now") {
		t.Fatalf("logs -f printed %q, want the line written after it started", lines.Text())
	}
	if lines.Scan() {
		t.Fatalf("logs -f printed %q more", lines.Text())
	}
	if err := follow.Wait(); err != nil {
		t.Fatalf("logs -f did not end cleanly once the app was done: %v", err)
	}

	var page supervisor.LogsPage
	d.ctlJSON(&page, "logs", "-n", "1", "talker")
	if len(page.Lines) != 1 || page.Lines[0].Text != "after now" || page.Lines[0].Seq != 3 || !page.Done {
		t.Fatalf("logs --json -n 1: %+v", page)
	}
	if _, err := d.ctl("logs", "nosuch"); err == nil || !strings.Contains(err.Error(), "service nosuch not found") {
		t.Fatalf("logs of an unknown app: %v", err)
	}
}

// waitKept polls migratectl logs until it prints n lines; the app writes
// them on its own time.
func waitKept(t *testing.T, d *daemon, app string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := d.ctl("logs", app)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if out != "" && len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs printed %q, want %d lines", out, n)
		}
		time.Sleep(50 * time.Millisecond) // no event says the app wrote
	}
}
