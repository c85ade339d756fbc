package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

func TestLogsBadCommandLines(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock") // never dialled: usage is checked first
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs"}, "expected one app name, got 0 arguments"},
		{[]string{"logs", "a", "b"}, "expected one app name, got 2 arguments"},
		{[]string{"logs", "-n", "-1", "a"}, "-n -1 is negative"},
		{[]string{"logs", "-n", "x", "a"}, `invalid argument "x"`},
	} {
		code, out, errOut := migratectl(append([]string{"--socket", sock}, tc.args...)...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// logs prints an app's kept lines, -n the last ones, --json the document;
// -f returns once the app is done; an unknown app is an operation error.
func TestLogsPrintsTheKeptLines(t *testing.T) {
	sock := startSupervisor(t)
	ac, err := supervisor.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fd := int(null.Fd())
	if _, err := ac.StartApp(ctx, &proto.AdminStartApp{Name: "two", Args: []string{"sh", "-c", "echo one; echo two >&2"},
		Env: []string{"PATH=/usr/bin:/bin"}, Cwd: "/"}, [3]int{fd, fd, fd}); err != nil {
		t.Fatal(err)
	}
	// -f ends once the app is done and all its output read: then the
	// kept lines are complete.
	code, out, errOut := migratectl("--socket", sock, "logs", "-f", "two")
	if code != exitOK || errOut != "" || strings.Count(out, "\n") != 2 || !strings.Contains(out, " stdout one\n") ||
		!strings.Contains(out, " stderr two\n") {
		t.Fatalf("logs -f: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = migratectl("--socket", sock, "--json", "logs", "-n", "1", "two")
	if code != exitOK || !strings.HasPrefix(out, `{"app":"two","lines":[{"seq":2,`) || !strings.HasSuffix(out, `"next":3,"more":false,"done":true}`+"\n") {
		t.Fatalf("logs --json -n 1: exit %d, %q", code, out)
	}
	code, out, errOut = migratectl("--socket", sock, "logs", "nosuch")
	if code != exitFail || out != "" || errOut != "migratectl: service nosuch not found\n" {
		t.Fatalf("logs of an unknown app: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
