//go:build linux

package supervisor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/coreos/go-systemd/v22/daemon"
)

// notifyHelperEnv makes TestNotifyHelperProcess, in a child test binary,
// send its argument with go-systemd.
const notifyHelperEnv = "MIGRATE_TEST_NOTIFY_HELPER"

// TestNotifyHelperProcess is the child of TestNotifyFromChild.
func TestNotifyHelperProcess(t *testing.T) {
	state := os.Getenv(notifyHelperEnv)
	if state == "" {
		t.Skip("the child process of TestNotifyFromChild")
	}
	if sent, err := daemon.SdNotify(false, state); !sent || err != nil {
		t.Fatalf("SdNotify: %v, %v", sent, err)
	}
}

// A datagram from another process, sent with go-systemd as a Go service
// would, carries that process's pid.
func TestNotifyFromChild(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	h := startNotify(t, path)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestNotifyHelperProcess$")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+path, notifyHelperEnv+"=READY=1\nSTATUS=child")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	m := h.next()
	if m.PID != cmd.Process.Pid || !m.Ready || m.Status == nil || *m.Status != "child" {
		t.Fatalf("from pid %d: %+v, want pid %d, READY=1, STATUS=child", m.PID, m, cmd.Process.Pid)
	}
}

// systemd's own client, systemd-notify, is understood: its message, then
// its barrier, which it waits on until the receiver closes the barrier's
// descriptor. As root it also runs as another user, whose uid arrives
// (the socket is open to all).
func TestNotifySystemdNotify(t *testing.T) {
	bin, err := exec.LookPath("systemd-notify")
	if err != nil {
		t.Skip("no systemd-notify on this system")
	}
	dir := t.TempDir()
	// Open the test's directories to the other user.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "notify")
	h := startNotify(t, path)
	uids := []uint32{uint32(os.Getuid())}
	if os.Geteuid() == 0 {
		uids = append(uids, 65534)
	}
	for _, uid := range uids {
		cmd := exec.Command(bin, "--ready", "--status=up as "+strconv.Itoa(int(uid)))
		cmd.Env = []string{"NOTIFY_SOCKET=" + path}
		if uid != uint32(os.Getuid()) {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		}
		exited := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { exited <- cmd.Wait() }()
		// systemd-notify sends on behalf of its parent (the service's
		// shell script): the kernel lets only a privileged sender claim
		// another pid, so an unprivileged one falls back to its own.
		wantPID := cmd.Process.Pid
		if uid == 0 {
			wantPID = os.Getpid()
		}
		m := h.next()
		if m.PID != wantPID || m.UID != uid || !m.Ready || m.Status == nil || *m.Status != "up as "+strconv.Itoa(int(uid)) {
			t.Errorf("from pid %d uid %d: %+v; want pid %d uid %d, READY=1 and the status", m.PID, m.UID, m, wantPID, uid)
		}
		m.closeFDs()
		barrier := h.next()
		if !barrier.Barrier || len(barrier.FDs) != 1 || barrier.PID != cmd.Process.Pid {
			t.Fatalf("want a barrier with one descriptor from pid %d, got %+v", cmd.Process.Pid, barrier)
		}
		barrier.closeFDs()
		if err := <-exited; err != nil {
			t.Fatalf("systemd-notify as uid %d: %v", uid, err)
		}
	}
}
