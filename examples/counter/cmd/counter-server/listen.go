//go:build linux

package main

import (
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/migrate-run/migrate/examples/counter/listenfds"
	"golang.org/x/sys/unix"
)

// listen is the parent: it accepts clients and starts a child for each.
func listen(args []string, stderr io.Writer, log func(string, ...any)) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "listen on HOST:PORT when no socket is passed (LISTEN_FDS)")
	interval := fs.Duration("interval", defaultInterval, "pause between two lines")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *interval <= 0 {
		fs.Usage()
		return 2
	}
	ln, err := listenfds.Listen(*addr)
	if err != nil {
		log("%v", err)
		return 1
	}
	log("listening on %s", ln.Addr())
	go registerCompat(log) // not in the way of the first clients
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, unix.SIGINT, unix.SIGTERM)
	go func() { <-stop; ln.Close() }()
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return 0
		}
		if err != nil {
			log("accept: %v", err)
			time.Sleep(100 * time.Millisecond) // EMFILE and friends: let descriptors free up
			continue
		}
		if err := startChild(conn.(syscall.Conn), *interval); err != nil {
			log("start a server for %s: %v", conn.RemoteAddr(), err)
		}
		conn.Close() // the child has its own copy
	}
}

// startChild re-executes this program as "serve" with conn on descriptor
// 3, and reaps it when it ends. It passes a raw descriptor through
// syscall.StartProcess: exec.Cmd.ExtraFiles would call Fd, which switches
// the socket to blocking mode.
func startChild(conn syscall.Conn, interval time.Duration) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dup, err := dupOf(conn)
	if err != nil {
		return err
	}
	defer unix.Close(dup)
	pid, _, err := syscall.StartProcess(exe, []string{exe, "serve", "--interval", interval.String()}, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2, uintptr(dup)},
	})
	if err != nil {
		return err
	}
	go reap(pid)
	return nil
}

func reap(pid int) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// dupOf returns a close-on-exec duplicate of conn's descriptor, reached
// through SyscallConn so the socket's mode is left alone.
func dupOf(conn syscall.Conn) (int, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return -1, err
	}
	dup := -1
	var serr error
	if err := rc.Control(func(fd uintptr) { dup, serr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if serr != nil {
		return -1, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", serr)
	}
	return dup, nil
}
