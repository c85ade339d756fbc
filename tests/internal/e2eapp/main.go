//go:build linux

// Command e2eapp is the test app of the end-to-end tests: small apps
// written against the migrate library that do what the examples do not.
//
//	e2eapp deps     [--interval D]   streams numbers to each client; the first
//	                                 client's session is "main", every later
//	                                 one depends on it; internal continuations
//	e2eapp stall    [--interval D]   streams numbers; its suspend handler
//	                                 never answers
//	e2eapp intruder --cont ID --session ID
//	                                 tries to act on another app's session
//	                                 and continuation, one line per attempt
//
// deps and stall take their listening socket from LISTEN_FDS (migrate-run
// --listen). Every event is one line on stderr, "e2eapp: ...".
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: e2eapp deps|stall|intruder [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "deps":
		err = deps(os.Args[2:])
	case "stall":
		err = stall(os.Args[2:])
	case "intruder":
		err = intruder(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		logf("%v", err)
		os.Exit(1)
	}
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, "e2eapp: "+format+"\n", a...) }

// listener returns the socket passed as LISTEN_FDS (fd 3).
func listener() (net.Listener, error) {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) || os.Getenv("LISTEN_FDS") == "" {
		return nil, fmt.Errorf("no listening socket passed (LISTEN_FDS)")
	}
	f := os.NewFile(3, "listen")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("listening socket on fd 3: %w", err)
	}
	logf("listening on %s", ln.Addr())
	return ln, nil
}
