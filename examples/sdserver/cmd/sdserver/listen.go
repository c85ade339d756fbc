//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/coreos/go-systemd/v22/activation"
)

// stateName is the name of the descriptor that carries the generation
// through the service manager's file descriptor store (FDNAME=state, and
// so LISTEN_FDNAMES).
const stateName = "state"

// errNoSocket is returned when no socket was passed and --listen is empty.
var errNoSocket = errors.New("no listening socket: pass --listen HOST:PORT or run with LISTEN_FDS")

// setUp gets the listeners and the state: the sockets and the state
// descriptor passed by the service manager, or a socket opened on listen
// and a fresh state. The state is stored (FDSTORE=1) before it returns,
// so a restart after READY=1 finds the generation of this start; a failure
// to store it is logged, not fatal (the server serves without a store).
func setUp(listen string, n notifier, log func(string, ...any)) ([]net.Listener, *state, error) {
	lns, stateFile, err := passed(log)
	if err != nil {
		return nil, nil, err
	}
	if len(lns) == 0 {
		if lns, err = listenOn(listen); err != nil {
			closeFile(stateFile)
			return nil, nil, err
		}
	}
	st, err := openState(stateFile)
	if err != nil {
		closeListeners(lns)
		return nil, nil, err
	}
	if err := st.store(n); err != nil {
		log("%v; a restart will start from generation 1", err)
	}
	return lns, st, nil
}

// passed returns the stream sockets passed with LISTEN_FDS (when
// LISTEN_PID is this process) as listeners, and the descriptor named state
// if there is one. It unsets LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES, and
// the descriptors are close-on-exec. A passed descriptor that is neither
// the state nor a stream socket is an error: the service manager was set
// up for another program.
//
// It takes the descriptors with activation.Files rather than
// ListenersWithNames, which drops a descriptor that is not a socket (the
// state memfd) without closing it.
func passed(log func(string, ...any)) ([]net.Listener, *os.File, error) {
	var (
		lns       []net.Listener
		stateFile *os.File
	)
	files := activation.Files(true)
	for i, f := range files {
		if f.Name() == stateName && stateFile == nil {
			stateFile = f
			continue
		}
		if f.Name() == stateName {
			log("descriptor %d is a second %s; closing it and keeping the first", 3+i, stateName)
			f.Close()
			continue
		}
		ln, err := net.FileListener(f) // a duplicate: f is ours to close
		f.Close()
		if err != nil {
			closeFiles(files[i+1:])
			closeListeners(lns)
			closeFile(stateFile)
			return nil, nil, fmt.Errorf("take passed descriptor %d (%s): not a listening stream socket: %w", 3+i, f.Name(), err)
		}
		lns = append(lns, ln)
	}
	return lns, stateFile, nil
}

// listenOn opens a TCP listener on addr.
func listenOn(addr string) ([]net.Listener, error) {
	if addr == "" {
		return nil, errNoSocket
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on --listen %s: %w", addr, err)
	}
	return []net.Listener{ln}, nil
}

// addrs lists the listeners' addresses, separated by spaces.
func addrs(lns []net.Listener) string {
	s := make([]string, len(lns))
	for i, ln := range lns {
		s[i] = ln.Addr().String()
	}
	return strings.Join(s, " ")
}

func closeListeners(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

func closeFile(f *os.File) {
	if f != nil {
		f.Close()
	}
}
