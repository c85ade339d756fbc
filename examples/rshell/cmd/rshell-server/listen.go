//go:build linux

package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/migrate-run/migrate"
	"github.com/migrate-run/migrate/examples/counter/listenfds"
	"golang.org/x/sys/unix"
)

// acceptRetry is the pause after an accept error that is not the peer's
// (out of descriptors, say).
const acceptRetry = 100 * time.Millisecond

// listen is the listener: it accepts clients and starts a child for each
// ("rshell-server serve"), the connection on descriptor 3, and reaps them.
func listen(o options, log func(string, ...any)) int {
	ln, err := listenfds.Listen(o.addr)
	if err != nil {
		log("%v", err)
		return 1
	}
	log("listening on %s", ln.Addr())
	if migrate.Available() {
		registerCompat(context.Background(), log)
	}
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
			time.Sleep(acceptRetry)
			continue
		}
		if err := startChild(conn.(syscall.Conn), o); err != nil {
			log("start a server for %s: %v", conn.RemoteAddr(), err)
		}
		conn.Close() // the child has its own copy
	}
}

// startChild starts "rshell-server serve" with conn on descriptor 3 and
// reaps it when it ends. The descriptor is passed raw: exec.Cmd's
// ExtraFiles would call Fd, which makes the socket blocking.
func startChild(conn syscall.Conn, o options) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dup, err := dupOf(conn)
	if err != nil {
		return err
	}
	defer unix.Close(dup)
	argv := append([]string{exe, serveCmd}, o.childArgs()...)
	pid, _, err := syscall.StartProcess(exe, argv, &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2, uintptr(dup)}})
	if err != nil {
		return err
	}
	go func() {
		for {
			if _, err := unix.Wait4(pid, nil, 0, nil); err != unix.EINTR {
				return
			}
		}
	}()
	return nil
}
