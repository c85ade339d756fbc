//go:build linux

package accounting

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// helperEnv names the helper a re-executed test binary runs instead of the
// tests.
const helperEnv = "ACCOUNTING_TEST_HELPER"

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		runHelper(name)
		os.Exit(0)
	}
	// Orphans (the double-forked grandchildren and the children of killed
	// helpers) are reparented to the test process rather than to PID 1, so
	// that the tests reap them and leave no zombie behind.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "become child subreaper:", err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}

// The helpers. Each prints "ready" first, then follows the commands it
// reads on stdin, one a line; closing stdin ends it.
var helpers = map[string]func(in *bufio.Reader){
	"echo":      helperEcho,
	"alloc":     helperAlloc,
	"forker":    helperForker,
	"daemonize": helperDaemonize,
	"pause":     func(*bufio.Reader) { pauseForever() },
	"spawner":   helperSpawner,
	"enterleaf": helperEnterLeaf,
	"nested":    helperNested,
}

func runHelper(name string) {
	h, ok := helpers[name]
	if !ok {
		fmt.Fprintln(os.Stderr, "unknown helper", name)
		os.Exit(2)
	}
	fmt.Println("ready")
	h(bufio.NewReader(os.Stdin))
}

// helperEcho writes back every byte it reads until stdin closes.
func helperEcho(in *bufio.Reader) {
	for {
		b, err := in.ReadByte()
		if err != nil {
			return
		}
		os.Stdout.Write([]byte{b})
	}
}

// helperAlloc, told "go", touches every page of ALLOC_MB MiB, then says
// "survived" and waits for stdin to close.
func helperAlloc(in *bufio.Reader) {
	expect(in, "go")
	var mb int
	fmt.Sscan(os.Getenv("ALLOC_MB"), &mb)
	buf := make([]byte, mb<<20)
	for i := 0; i < len(buf); i += os.Getpagesize() {
		buf[i] = 1
	}
	fmt.Println("survived")
	runtime.KeepAlive(buf)
	in.ReadString('\n')
}

// helperForker, told "go", starts "sleep 1000" children (one task each)
// until a start fails or it has started 64, reports "started N ERR", and
// waits for stdin to close.
func helperForker(in *bufio.Reader) {
	expect(in, "go")
	n, err := 0, error(nil)
	for ; n < 64; n++ {
		cmd := exec.Command("sleep", "1000")
		if err = cmd.Start(); err != nil {
			break
		}
		cmd.Process.Release()
	}
	fmt.Printf("started %d %s\n", n, errnoName(err))
	in.ReadString('\n')
}

// helperDaemonize, told "go", starts a paused grandchild in a new session,
// prints "grandchild PID" and exits at once, orphaning it.
func helperDaemonize(in *bufio.Reader) {
	expect(in, "go")
	cmd := selfCommand("pause")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Println("error", err)
		return
	}
	fmt.Println("grandchild", cmd.Process.Pid)
}

// helperSpawner, told "go", starts 500 "sleep 1000" children as fast as
// it can, prints "spawned", and waits for stdin to close.
func helperSpawner(in *bufio.Reader) {
	expect(in, "go")
	for i := 0; i < 500; i++ {
		cmd := exec.Command("sleep", "1000")
		if err := cmd.Start(); err != nil {
			fmt.Println("error", err)
			return
		}
		cmd.Process.Release()
	}
	fmt.Println("spawned")
	in.ReadString('\n')
}

// helperEnterLeaf makes a Manager on ACCT_ROOT for ACCT_PARENT, calls
// EnterLeaf, prints "cgroup PATH" (its unified cgroup) and waits.
func helperEnterLeaf(in *bufio.Reader) {
	m, err := NewManager(os.Getenv("ACCT_PARENT"), WithRoot(os.Getenv("ACCT_ROOT")))
	if err == nil {
		err = m.EnterLeaf()
	}
	if err != nil {
		fmt.Println("error", err)
		return
	}
	fmt.Println("cgroup", ownUnifiedCgroup())
	in.ReadString('\n')
}

// helperNested, told "go", makes a Nested Manager for ACCT_PARENT,
// creates "app", prints "paths P1;P2;...", deletes both and prints "done".
func helperNested(in *bufio.Reader) {
	expect(in, "go")
	m, err := NewManager(os.Getenv("ACCT_PARENT"), Nested())
	if err == nil {
		err = m.EnterLeaf()
	}
	var g *Group
	if err == nil {
		g, err = m.Create("app", nil)
	}
	if err != nil {
		fmt.Println("error", err)
		return
	}
	fmt.Println("paths", strings.Join(g.Paths(), ";"))
	if err := g.Delete(); err != nil {
		fmt.Println("error", err)
		return
	}
	if err := m.Delete(); err != nil {
		fmt.Println("error", err)
		return
	}
	fmt.Println("done")
	in.ReadString('\n')
}

func expect(in *bufio.Reader, want string) {
	line, _ := in.ReadString('\n')
	if strings.TrimSpace(line) != want {
		os.Exit(3)
	}
}

func pauseForever() {
	for {
		unix.Pause()
	}
}

func selfCommand(helper string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"="+helper)
	return cmd
}

func errnoName(err error) string {
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, syscall.EAGAIN):
		return "EAGAIN"
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}

func ownUnifiedCgroup() string {
	b, _ := os.ReadFile("/proc/self/cgroup")
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p
		}
	}
	return ""
}
