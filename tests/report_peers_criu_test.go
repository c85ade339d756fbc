package tests

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/internal/benchout"
	"golang.org/x/sys/unix"
)

// criuInterval is counter-server's pause between two lines in the CRIU
// run: short, so that the next number after a restore measures the
// restore rather than the server's ticker.
const criuInterval = "1ms"

// criuTimeout bounds one criu command and the wait for the next number.
const criuTimeout = 30 * time.Second

// BenchmarkReportPeerCRIU checkpoints and restores counter-server with
// CRIU while a client of the benchmark's reads its stream over a live TCP
// connection: criu dump --tcp-established (freeze, write the images, kill
// the tree), then criu restore --tcp-established --restore-detached, cycle
// after cycle, on the same connection. It writes the peer-criu section:
// dump time, restore time, end to end (dump start → the client receives
// the next number), the size of one dump's images, and whether the stream
// went on without gap or repeat.
//
// counter-server runs as a plain process (no supervisor) in a session of
// its own, so that the dumped tree is counter-server and its one serving
// child and not the benchmark. Everything runs in a network namespace the
// benchmark creates (one locked thread unshares it and starts counter-
// server and criu; the client connects from that thread too), so that
// CRIU's network lock (nftables) touches no one else's network.
//
// The criu binary is $CRIU, else criu on PATH. When there is none, or
// criu check fails, or the first dump fails, the section says so (available
// false, with criu's output and the reason) instead of being left out.
func BenchmarkReportPeerCRIU(b *testing.B) {
	res := measureCRIU(b, benchout.Pick(20, 3))
	if res.Available {
		b.Logf("criu %s (%s): %d cycles, dump median %.1f ms p99 %.1f, restore median %.1f ms p99 %.1f, end to end median %.1f ms p99 %.1f, images %d bytes, stream intact: %v",
			res.Version, res.Binary, res.Cycles, res.Dump.Median, res.Dump.P99, res.Restore.Median, res.Restore.P99,
			res.EndToEnd.Median, res.EndToEnd.P99, res.ImageSize, res.Survived)
	} else {
		b.Logf("criu not available (%s): %s\n%s", res.Binary, res.Reason, res.Check)
	}
	if err := benchout.Write(benchout.SectionPeerCRIU, res); err != nil {
		b.Fatal(err)
	}
}

// measureCRIU runs the CRIU cycles, or says why it could not.
func measureCRIU(b *testing.B, cycles int) benchout.CRIU {
	res := benchout.CRIU{Notes: []string{
		"counter-server runs without a supervisor, in a network namespace of the benchmark's, with --interval " + criuInterval + " and GODEBUG=multipathtcp=0 (Go's listeners use MPTCP by default since Go 1.24, and CRIU cannot dump MPTCP sockets: \"Unsupported proto 262\")",
		"dump: criu dump -t PID --tcp-established --network-lock nftables (counter-server and its serving child: frozen, written to an image directory on the test's temporary directory, killed); restore: criu restore -d --tcp-established from those images; both timed around the criu process",
	}}
	bin := os.Getenv("CRIU")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("criu"); err != nil {
			res.Reason = "no criu binary: $CRIU is unset and criu is not on PATH"
			return res
		}
	}
	res.Binary = bin
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err == nil {
		// "Version: 4.1.1" and, for a build from git, "GitID: ...".
		res.Version = strings.Join(strings.Fields(strings.NewReplacer("Version:", "", "GitID:", "GitID").Replace(string(out))), " ")
	}
	if out, err := exec.Command(bin, "check").CombinedOutput(); err != nil {
		res.Check = strings.TrimSpace(string(out))
		res.Reason = "criu check failed: " + err.Error()
		if strings.Contains(res.Check, "vDSO") || strings.Contains(res.Check, "vdso") {
			res.Reason += "; kernels 6.13 and later moved the vDSO/vvar areas, which CRIU before 4.1 cannot parse (checkpoint-restore/criu#2532)"
		}
		return res
	}
	if os.Geteuid() != 0 {
		res.Reason = "criu dump and restore need root"
		return res
	}
	counter := binPath(b, "counter-server")

	ns, err := newNetns()
	if err != nil {
		res.Reason = "cannot create a network namespace: " + err.Error()
		return res
	}
	defer ns.close()
	// The serving child is orphaned when dump kills counter-server, and
	// criu restore -d leaves the restored tree to criu's parent's reaper:
	// as the subreaper, the benchmark reaps them, and frees their pids for
	// the next restore (this machine's init reaps nothing).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		b.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

	dir := b.TempDir()
	port, err := freeNetnsPort(ns)
	if err != nil {
		b.Fatal(err)
	}
	tree, err := startCounterTree(ns, counter, filepath.Join(dir, "counter-server.log"), fmt.Sprintf("127.0.0.1:%d", port),
		[]string{"GODEBUG=multipathtcp=0"}, true)
	if err != nil {
		b.Fatal(err)
	}
	defer tree.kill()
	var conn net.Conn
	ns.do(func() { conn, err = net.DialTimeout("tcp", tree.addr, criuTimeout) })
	if err != nil {
		b.Fatalf("connect to counter-server in the namespace: %v\n%s", err, tree.log())
	}
	stream := newNumberStream(conn)
	defer stream.close()
	if err := stream.waitLines(10, criuTimeout); err != nil {
		b.Fatalf("counter-server: %v\n%s", err, tree.log())
	}
	if err := tree.findChild(); err != nil {
		b.Fatal(err)
	}

	var dumps, restores, e2e []time.Duration
	runCRIU := func(args ...string) ([]byte, error) {
		var out []byte
		var err error
		ns.do(func() {
			cmd := exec.Command(bin, args...)
			cmd.Dir = dir
			out, err = cmd.CombinedOutput()
		})
		return out, err
	}
	for i := range cycles {
		images := filepath.Join(dir, fmt.Sprintf("images-%d", i))
		work := filepath.Join(dir, fmt.Sprintf("work-%d", i))
		for _, d := range []string{images, work} {
			if err := os.Mkdir(d, 0o700); err != nil {
				b.Fatal(err)
			}
		}
		t0 := time.Now()
		out, err := runCRIU("dump", "-t", strconv.Itoa(tree.root), "--tcp-established", "--network-lock", "nftables",
			"-D", images, "-W", work, "-o", "dump.log")
		t1 := time.Now()
		if err != nil {
			why := fmt.Sprintf("criu dump failed (%v): %s", err, criuErrors(out, filepath.Join(work, "dump.log")))
			if i > 0 {
				b.Fatalf("cycle %d: %s", i+1, why)
			}
			res.Check = criuCheckSummary(bin)
			res.Reason = why
			if strings.Contains(why, "Can't get 1:16 opt") {
				res.Reason += "; Linux 6.16 restricted SO_PASSCRED and SO_PASSSEC to unix and netlink sockets, and this CRIU still reads them from every socket (fixed upstream: checkpoint-restore/criu#2705, #2719)"
			}
			return res
		}
		// Dump killed the tree: reap it so that restore gets its pids back.
		if err := tree.reap(); err != nil {
			b.Fatalf("cycle %d: %v", i+1, err)
		}
		// The stream was read up to the freeze; the next number is the
		// restored process's.
		stream.markNext()
		size, err := dirSize(images)
		if err != nil {
			b.Fatal(err)
		}
		res.ImageSize = size
		t2 := time.Now()
		out, err = runCRIU("restore", "-d", "--tcp-established", "-D", images, "-W", work, "-o", "restore.log")
		t3 := time.Now()
		if err != nil {
			b.Fatalf("cycle %d: criu restore failed (%v): %s", i+1, err, criuErrors(out, filepath.Join(work, "restore.log")))
		}
		tree.alive = true
		at, err := stream.waitMarked(criuTimeout)
		if err != nil {
			b.Fatalf("cycle %d: after the restore: %v\n%s", i+1, err, tree.log())
		}
		dumps = append(dumps, t1.Sub(t0))
		restores = append(restores, t3.Sub(t2))
		e2e = append(e2e, at.Sub(t0))
		for _, d := range []string{images, work} {
			if err := os.RemoveAll(d); err != nil {
				b.Fatal(err)
			}
		}
		// A few numbers from the restored process before the next dump.
		_, _, lines, _ := stream.state()
		if err := stream.waitLines(lines+5, criuTimeout); err != nil {
			b.Fatalf("cycle %d: after the restore: %v", i+1, err)
		}
	}
	first, last, lines, serr := stream.state()
	if kernelAtLeast(6, 16) {
		res.Notes = append(res.Notes, "Linux 6.16 and later allow SO_PASSCRED and SO_PASSSEC only on unix and netlink sockets; released CRIU up to 4.1.1 reads them from every socket and so cannot dump a TCP socket there: the criu measured here ("+res.Version+") carries the fix (upstream checkpoint-restore/criu#2719)")
	}
	res.Available = true
	res.Cycles = cycles
	res.Dump = benchout.Summarize(dumps)
	res.Restore = benchout.Summarize(restores)
	res.EndToEnd = benchout.Summarize(e2e)
	res.Survived = serr == nil && last-first+1 == uint64(lines)
	res.Notes = append(res.Notes, fmt.Sprintf("the client received %d numbers, %d to %d, over %d dump+restore cycles on one connection: %s",
		lines, first, last, cycles, map[bool]string{true: "no gap or repeat", false: fmt.Sprintf("broken (%v)", serr)}[res.Survived]))
	if !res.Survived {
		b.Errorf("the stream broke across CRIU cycles: %v (%d lines, %d to %d)", serr, lines, first, last)
	}
	return res
}

// counterTree is counter-server's process tree as criu dumps and restores it:
// the listening parent and the child serving the one client. CRIU restores
// both with their pids.
type counterTree struct {
	root, child int
	alive       bool // not yet killed and reaped
	addr        string
	logf        string
	logStart    int64 // logf's size when this start began
}

// startCounterTree starts counter-server on addr (in ns unless it is
// nil), in a session of its own, with env added to its environment, stdin
// /dev/null and stdout and stderr appended to logf (criu restores files by
// path). With wait it returns once counter-server listens.
func startCounterTree(ns *netns, counter, logf, addr string, env []string, wait bool) (*counterTree, error) {
	t := &counterTree{addr: addr, logf: logf}
	logFile, err := os.OpenFile(t.logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	if info, err := logFile.Stat(); err == nil {
		t.logStart = info.Size()
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	cmd := exec.Command(counter, "--addr", t.addr, "--interval", criuInterval)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if ns != nil {
		ns.do(func() { err = cmd.Start() })
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return nil, err
	}
	t.root, t.alive = cmd.Process.Pid, true
	// The tree is reaped by pid (wait4), not by cmd.Wait: let go of the
	// process handle (its pidfd).
	if err := cmd.Process.Release(); err != nil {
		t.kill()
		return nil, err
	}
	if ns != nil {
		if got, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", t.root)); err != nil || got != ns.ino {
			t.kill()
			return nil, fmt.Errorf("counter-server runs in network namespace %q, not the benchmark's %q (%v)", got, ns.ino, err)
		}
	}
	if !wait {
		return t, nil
	}
	deadline := time.Now().Add(criuTimeout)
	for !strings.Contains(t.log(), "listening on") {
		if time.Now().After(deadline) || processGone(t.root) {
			t.kill()
			return nil, fmt.Errorf("counter-server does not listen:\n%s", t.log())
		}
		time.Sleep(5 * time.Millisecond) // a log file tells no one it grew
	}
	return t, nil
}

// log is what this start of counter-server logged.
func (t *counterTree) log() string {
	b, _ := os.ReadFile(t.logf)
	return string(b[min(t.logStart, int64(len(b))):])
}

// findChild finds the serving child: the root's only child, forked by
// any of its threads.
func (t *counterTree) findChild() error {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", t.root))
	if err != nil {
		return err
	}
	var kids []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, fs.ErrNotExist) { // a thread may end meanwhile
			return err
		}
		kids = append(kids, strings.Fields(string(b))...)
	}
	if len(kids) != 1 {
		return fmt.Errorf("counter-server has children %v, want the one serving child", kids)
	}
	t.child, err = strconv.Atoi(kids[0])
	return err
}

// reap waits for the killed tree: the root, the benchmark's child, then
// the serving child, orphaned to the benchmark (the subreaper).
func (t *counterTree) reap() error {
	t.alive = false
	for _, pid := range []int{t.root, t.child} {
		if pid == 0 {
			continue
		}
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if err == unix.EINTR {
				continue
			}
			if err == unix.ECHILD && pid == t.child {
				break // it died first, and its parent reaped it
			}
			if err != nil {
				return fmt.Errorf("reap pid %d of counter-server's tree: %w", pid, err)
			}
			break
		}
	}
	return nil
}

// kill kills and reaps the tree if it runs: its process group, which is
// the root's session (criu restores both).
func (t *counterTree) kill() {
	if !t.alive {
		return
	}
	if t.child == 0 {
		_ = t.findChild() // none yet, or none: only the root to reap
	}
	unix.Kill(-t.root, unix.SIGKILL)
	_ = t.reap()
}

// criuErrors returns the Error lines of criu's output and log, or its
// output when there are none.
func criuErrors(out []byte, logf string) string {
	text := string(out)
	if b, err := os.ReadFile(logf); err == nil {
		text += "\n" + string(b)
	}
	var errs []string
	seen := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		// Not being able to raise its own RLIMIT_NOFILE is no cause of
		// failure: criu logs it as an error every time here.
		if !strings.Contains(line, "Error (") || strings.Contains(line, "RLIMIT_NOFILE") || seen[line] {
			continue
		}
		seen[line] = true
		errs = append(errs, line)
	}
	if len(errs) == 0 {
		return strings.TrimSpace(string(out))
	}
	return strings.Join(errs, "\n")
}

// criuCheckSummary is the last line of criu check's output.
func criuCheckSummary(bin string) string {
	out, _ := exec.Command(bin, "check").CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			size += info.Size()
		}
		return err
	})
	return size, err
}

// netns is a network namespace of the benchmark's own, held by one locked
// OS thread: processes it starts are born in the namespace, and sockets it
// opens belong to it. Its loopback is up. The namespace goes with the
// thread and the processes started in it.
type netns struct {
	ino  string // /proc/PID/ns/net's link of a process in it
	fns  chan func()
	done chan struct{}
}

func newNetns() (*netns, error) {
	n := &netns{fns: make(chan func()), done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		defer close(n.done)
		// The thread stays locked: it is in the namespace, and ends with
		// this goroutine instead of going back to the scheduler.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			started <- fmt.Errorf("unshare CLONE_NEWNET: %w", err)
			return
		}
		ino, err := os.Readlink("/proc/thread-self/ns/net")
		if err == nil {
			err = loopbackUp()
		}
		n.ino = ino
		started <- err
		if err != nil {
			return
		}
		for f := range n.fns {
			f()
		}
	}()
	if err := <-started; err != nil {
		<-n.done
		return nil, err
	}
	return n, nil
}

// do runs f on the namespace's thread and waits for it.
func (n *netns) do(f func()) {
	ran := make(chan struct{})
	n.fns <- func() { defer close(ran); f() }
	<-ran
}

func (n *netns) close() {
	close(n.fns)
	<-n.done
}

// loopbackUp brings lo up in the calling thread's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS lo: %w", err)
	}
	return nil
}

// freeNetnsPort returns a port nothing listens on in ns's loopback.
func freeNetnsPort(ns *netns) (int, error) {
	var ln net.Listener
	var err error
	ns.do(func() { ln, err = net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// kernelAtLeast reports whether the running kernel's release is at least
// major.minor.
func kernelAtLeast(major, minor int) bool {
	var uts unix.Utsname
	if unix.Uname(&uts) != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
