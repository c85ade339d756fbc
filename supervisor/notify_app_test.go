package supervisor

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/contstore"
)

// runNotifyApp is the test binary as a service that speaks sd_notify. At
// start it reports the descriptors it was given ("fds NAMES" and, for each
// memfd-like one, "fd NAME CONTENT"), then runs one command per stdin line
// and answers "ok" once it is done:
//
//	send KEY=V;KEY=V    the message, ';' standing for newlines
//	store NAME TEXT     FDSTORE=1 with a fresh memfd holding TEXT
//	exit CODE           exits
func runNotifyApp() {
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	fmt.Printf("fds %s\n", strings.Join(names[:min(n, len(names))], ","))
	for i := range n {
		buf := make([]byte, 64)
		if k, err := unix.Pread(3+i, buf, 0); err == nil {
			fmt.Printf("fd %s %s\n", names[i], buf[:k])
		}
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		var err error
		switch cmd {
		case "send":
			err = sdNotify(strings.ReplaceAll(arg, ";", "\n"), -1)
		case "store":
			name, text, _ := strings.Cut(arg, " ")
			fd, merr := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
			if merr != nil {
				err = merr
				break
			}
			_, _ = unix.Write(fd, []byte(text))
			err = sdNotify("FDSTORE=1\nFDNAME="+name, fd)
			unix.Close(fd)
		case "exit":
			code, _ := strconv.Atoi(arg)
			os.Exit(code)
		}
		if err != nil {
			fmt.Printf("error %v\n", err)
			continue
		}
		fmt.Println("ok")
	}
	os.Exit(0)
}

func sdNotify(state string, fd int) error {
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	return unix.Sendmsg(s, []byte(state), oob, &unix.SockaddrUnix{Name: os.Getenv("NOTIFY_SOCKET")}, 0)
}

// notifyApp starts the notify app as name with spec's service settings.
func (h *harness) notifyApp(name string, mod func(*AppSpec)) *testAppIO {
	h.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		h.t.Fatal(err)
	}
	spec := AppSpec{Name: name, Args: []string{exe, "-test.run=^$"}, Cwd: "/",
		Env: []string{helperEnv + "=notify", "PATH=/usr/bin:/bin"}}
	mod(&spec)
	return h.startSpecIO(spec)
}

// do runs one command in the notify app and waits for its "ok".
func (io *testAppIO) do(cmd string) {
	io.t.Helper()
	if _, err := io.stdin.WriteString(cmd + "\n"); err != nil {
		io.t.Fatal(err)
	}
	io.expect("ok")
}

func TestNotifyReadinessStatusAndOutsiders(t *testing.T) {
	h := newHarness(t, nil)
	io := h.notifyApp("ready", func(s *AppSpec) { s.Readiness = ReadyNotify })
	io.expect("fds")
	if info, _ := h.s.Status("ready"); info.State != StateStarting || info.Ready {
		t.Fatalf("before READY=1: %+v", info)
	}
	// A process outside the service cannot make it ready.
	if err := sendAs(h.s.notifyPath("ready"), "READY=1\nSTATUS=forged"); err != nil {
		t.Fatal(err)
	}
	io.do("send STATUS=warming up")
	// The supervisor reads the datagrams in the order they were sent: once
	// the app's STATUS shows, the outsider's READY=1 was read (and refused).
	info := h.waitApp("ready", "its STATUS", func(i AppInfo) bool { return i.StatusText == "warming up" })
	if info.State != StateStarting || info.Ready {
		t.Fatalf("after an outsider's READY=1 and the app's STATUS: %+v", info)
	}
	io.do("send READY=1;STATUS=serving;ERRNO=0")
	info = h.waitApp("ready", "ready", func(i AppInfo) bool { return i.Ready })
	if info.State != StateRunning || info.StatusText != "serving" {
		t.Fatalf("after READY=1: %+v", info)
	}
	io.do("send RELOADING=1")
	h.waitApp("ready", "reloading", func(i AppInfo) bool { return i.State == StateReloading })
	io.do("send READY=1")
	h.waitApp("ready", "ready again", func(i AppInfo) bool { return i.State == StateRunning })
	io.do("send STOPPING=1;STATUS=bye")
	h.waitApp("ready", "stopping", func(i AppInfo) bool { return i.State == StateStopping && i.StatusText == "bye" })
}

// sendAs sends a notify message from the test process itself.
func sendAs(path, state string) error {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

func TestNotifyStartTimeoutAndWatchdog(t *testing.T) {
	h := newHarness(t, nil)
	slow := h.notifyApp("slow", func(s *AppSpec) {
		s.Readiness, s.StartTimeout = ReadyNotify, 200*time.Millisecond
	})
	slow.expect("fds")
	info := h.waitApp("slow", "start timeout", func(i AppInfo) bool { return i.Done })
	if info.State != StateFailed || info.Result != ResultTimeout || info.Exit == nil || info.Exit.Signal != "SIGTERM" {
		t.Fatalf("never ready: %+v, want failed (timeout) by SIGTERM", info)
	}

	dog := h.notifyApp("dog", func(s *AppSpec) {
		s.Watchdog = time.Second
		s.Restart = RestartPolicy{Policy: RestartOnFailure, Delay: time.Millisecond, MaxDelay: time.Millisecond, Burst: 2, Interval: time.Minute}
	})
	dog.expect("fds")
	for range 4 { // pets keep it alive past its interval
		dog.do("send WATCHDOG=1")
		time.Sleep(300 * time.Millisecond) // the pets' spacing is the point: well within the interval
	}
	if info, _ := h.s.Status("dog"); info.Restarts != 0 || info.Result != "" {
		t.Fatalf("a petted watchdog fired: %+v", info)
	}
	info = h.waitApp("dog", "watchdog restart", func(i AppInfo) bool { return i.Restarts == 1 })
	if info.Result != ResultWatchdog && info.State != StateStarting && info.State != StateRunning {
		t.Fatalf("after a missed watchdog: %+v", info)
	}
}

func TestFDStoreSurvivesRestartsAndIsDroppedOnStop(t *testing.T) {
	h := newHarness(t, nil)
	io := h.notifyApp("keeper", func(s *AppSpec) {
		s.FDStoreMax = 2
		s.Listen = []ListenSpec{{Address: "tcp://127.0.0.1:0", Name: "web"}}
		s.Restart = RestartPolicy{Policy: RestartOnFailure, Delay: time.Millisecond, MaxDelay: time.Millisecond, Burst: 5, Interval: time.Minute}
	})
	if got := io.expect("fds"); len(got) != 1 || got[0] != "web" {
		t.Fatalf("first start got fds %v, want web", got)
	}
	io.do("store state gen1")
	io.do("store extra x")
	io.do("store third y") // over fdstore_max: refused, closed
	info := h.waitApp("keeper", "fd store entries recorded", func(i AppInfo) bool {
		return len(i.FDStore) == 2 && i.FDStore[0].Cont != 0 && i.FDStore[1].Cont != 0
	})
	var ids []contstore.ID
	for _, e := range info.FDStore {
		rec, err := h.s.store.Get(e.Cont)
		if err != nil || rec.Kind != contstore.KindSystem || rec.State != contstore.StateSuspended || rec.Slots[0].Name != e.Name {
			t.Fatalf("fd store entry %s: record %+v, %v", e.Name, rec, err)
		}
		ids = append(ids, e.Cont)
	}
	if _, err := io.stdin.WriteString("exit 1\n"); err != nil { // a crash: restarted with the store after the socket
		t.Fatal(err)
	}
	if got := io.expect("fds"); len(got) != 1 || got[0] != "web,state,extra" {
		t.Fatalf("after a restart: fds %v, want web,state,extra", got)
	}
	if got := io.expect("fd"); strings.Join(got, " ") != "state gen1" {
		t.Fatalf("stored memfd reads %v", got)
	}
	io.do("send FDSTOREREMOVE=1;FDNAME=extra")
	info = h.waitApp("keeper", "entry removed", func(i AppInfo) bool { return len(i.FDStore) == 1 })
	if _, err := h.s.store.Get(ids[1]); err == nil {
		t.Error("the removed entry's record is still stored")
	}
	// An operator drops one entry by its continuation id.
	io.do("store other z")
	info = h.waitApp("keeper", "entry added", func(i AppInfo) bool { return len(i.FDStore) == 2 && i.FDStore[1].Cont != 0 })
	other := info.FDStore[1].Cont
	if info.FDStore[1].Name != "other" {
		t.Fatalf("fd store %+v, want other second", info.FDStore)
	}
	if err := h.s.Drop(other); err != nil {
		t.Fatalf("drop fd store entry %v: %v", other, err)
	}
	if info, _ := h.s.Status("keeper"); len(info.FDStore) != 1 || info.FDStore[0].Name != "state" {
		t.Fatalf("after drop: %+v", info.FDStore)
	}
	if _, err := h.s.store.Get(other); err == nil {
		t.Error("the dropped entry's record is still stored")
	}
	if _, err := h.s.StopService("keeper"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.store.Get(ids[0]); err == nil {
		t.Error("stop kept the fd store of a service that does not preserve it")
	}
}
