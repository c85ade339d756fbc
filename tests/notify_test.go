package tests

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/supervisor"
)

// TestMigratedNotifiesServiceManager runs migrated as systemd's Type=notify
// would: with NOTIFY_SOCKET naming a datagram socket. READY=1 must arrive
// only once the control socket answers, and STOPPING=1 once it is told to
// stop; then it exits 0.
func TestMigratedNotifiesServiceManager(t *testing.T) {
	dir := t.TempDir()
	ns, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	sock := filepath.Join(dir, "migrated.sock")
	cmd := exec.Command(binPath(t, "migrated"), "--socket", sock, "--state-dir", filepath.Join(dir, "state"), "--no-cgroups")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+filepath.Join(dir, "notify"))
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	ready := readDatagram(t, ns)
	if !strings.Contains(ready, "READY=1") || !strings.Contains(ready, "STATUS=serving "+sock) {
		t.Fatalf("first notification %q, want READY=1 and STATUS=serving %s", ready, sock)
	}
	// READY promised a listening control socket: it must answer now.
	ctl, err := supervisor.Dial(sock)
	if err != nil {
		t.Fatalf("READY=1 sent but the control socket does not answer: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ctl.Stats(ctx); err != nil {
		t.Fatalf("READY=1 sent but stats fails: %v", err)
	}
	ctl.Close()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if stopping := readDatagram(t, ns); !strings.Contains(stopping, "STOPPING=1") {
		t.Fatalf("notification after SIGTERM %q, want STOPPING=1", stopping)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("migrated after SIGTERM: %v\n%s", err, log.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("migrated did not exit within 20s of SIGTERM\n%s", log.String())
	}
}

func readDatagram(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no notification from migrated: %v", err)
	}
	return string(buf[:n])
}
