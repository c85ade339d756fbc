//go:build linux

package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/migrate-run/migrate/examples/rshell/pty"
	"github.com/migrate-run/migrate/examples/rshell/wire"
	"golang.org/x/sys/unix"
)

// How long a fresh session waits for the client's hello and for the
// shell's start.
const (
	helloTimeout = 30 * time.Second
	startTimeout = 10 * time.Second
)

// readHello reads the client's hello; what the client sent after it is
// the start of its stream, returned as such.
func readHello(conn net.Conn) (wire.Hello, []byte, error) {
	conn.SetReadDeadline(time.Now().Add(helloTimeout))
	defer conn.SetReadDeadline(time.Time{})
	r := wire.NewReader(conn)
	f, err := r.Next()
	if err != nil {
		return wire.Hello{}, nil, fmt.Errorf("read hello: %w", err)
	}
	if f.Type != wire.TypeHello {
		return wire.Hello{}, nil, fmt.Errorf("read hello: %w: the first frame is %v", wire.ErrMalformed, f.Type)
	}
	h, err := wire.ParseHello(f.Payload)
	if err != nil {
		return wire.Hello{}, nil, err
	}
	return h, bytes.Clone(r.Buffered()), nil
}

// shell is a session's shell as a server holds it.
type shell struct {
	pty    *os.File // the pty master
	pts    int      // N of /dev/pts/N
	status *os.File // the read end of the status pipe
	pid    int      // the shell
	waiter int      // its parent
	read   []byte   // read from the status pipe after the pid line
}

// startShell allocates a pty sized as the client's terminal and starts the
// waiter, which starts the shell on it; it returns once the shell runs.
// The server keeps no copy of the slave and none of the pipe's write end.
func startShell(o options, h wire.Hello, peer string) (*shell, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return nil, err
	}
	defer slave.Close()
	sh := &shell{pty: master}
	if err := sh.init(o, h, peer, slave); err != nil {
		master.Close()
		if sh.status != nil {
			sh.status.Close()
		}
		return nil, err
	}
	return sh, nil
}

func (sh *shell) init(o options, h wire.Hello, peer string, slave *os.File) error {
	if h.Size.Rows > 0 && h.Size.Cols > 0 {
		if err := pty.SetSize(sh.pty, h.Size.Rows, h.Size.Cols); err != nil {
			return err
		}
	}
	var err error
	if sh.pts, err = pty.Index(sh.pty); err != nil {
		return err
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return fmt.Errorf("start shell: %w", os.NewSyscallError("pipe2", err))
	}
	unix.SetNonblock(p[0], true) // into the poller: the watch stops by deadline
	sh.status = os.NewFile(uintptr(p[0]), "status pipe")
	sh.waiter, err = startWaiter(o, h, peer, slave, p[1])
	unix.Close(p[1])
	if err != nil {
		return err
	}
	line, rest, err := readLine(sh.status, startTimeout)
	if err == nil {
		sh.pid, err = parseStarted(line)
	}
	if err != nil {
		// It said why and is ending, or it is stuck: either way, it goes.
		unix.Kill(sh.waiter, unix.SIGKILL)
		unix.Wait4(sh.waiter, nil, 0, nil)
		return fmt.Errorf("start shell %s: %w", o.shell, err)
	}
	sh.read = rest
	return nil
}

// startWaiter starts this program as the shell's waiter: /dev/null on 0
// and 1, this process's stderr on 2, the slave on 3, the status pipe's
// write end on 4, the shell's environment.
func startWaiter(o options, h wire.Hello, peer string, slave *os.File, statusW int) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("start waiter: %w", err)
	}
	null, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("start waiter: %w", &os.PathError{Op: "open", Path: os.DevNull, Err: err})
	}
	defer unix.Close(null)
	argv := append([]string{exe, waiterCmd, o.shell}, shellArgv(o, h)...)
	// Fd on the slave is harmless: it is blocking, as the shell needs it.
	files := []uintptr{uintptr(null), uintptr(null), 2, slave.Fd(), uintptr(statusW)}
	pid, _, err := syscall.StartProcess(exe, argv, &syscall.ProcAttr{Env: shellEnv(o.shell, h.Term, peer), Files: files})
	if err != nil {
		return 0, fmt.Errorf("start waiter: %w", err)
	}
	return pid, nil
}

// shellArgv is the shell's argv: "sh -c COMMAND" for a command, "-sh" for
// a login shell (as login(1) and sshd start one), else "sh".
func shellArgv(o options, h wire.Hello) []string {
	name := filepath.Base(o.shell)
	switch {
	case h.Command != "":
		return []string{name, "-c", h.Command}
	case o.login:
		return []string{"-" + name}
	}
	return []string{name}
}

// notForTheShell are the variables of the server's own start (and those
// the shell gets set anew).
var notForTheShell = []string{"MIGRATE_", "LISTEN_", "NOTIFY_SOCKET=", "WATCHDOG_", "REMOTE_ADDR=", "REMOTE_PORT=",
	"TERM=", "SHELL=", "RSHELL_CLIENT="}

// shellEnv is this process's environment without the variables of its own
// start, plus SHELL, TERM (the client's, if it has one) and RSHELL_CLIENT
// (the client's address, as ssh sets SSH_CLIENT).
func shellEnv(shell, term, peer string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range notForTheShell {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	env = append(env, "SHELL="+shell, "RSHELL_CLIENT="+peer)
	if term != "" {
		env = append(env, "TERM="+term)
	}
	return env
}

// readLine reads f until a newline, for up to d; it returns the line and
// what came after it.
func readLine(f *os.File, d time.Duration) (string, []byte, error) {
	f.SetReadDeadline(time.Now().Add(d))
	defer f.SetReadDeadline(time.Time{})
	var got []byte
	buf := make([]byte, 512)
	for {
		if i := bytes.IndexByte(got, '\n'); i >= 0 {
			return string(got[:i]), got[i+1:], nil
		}
		n, err := f.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil && n == 0 {
			return "", nil, fmt.Errorf("read the waiter's first line (%q so far): %w", got, err)
		}
	}
}
