package supervisor

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

func (c *checker) listen(service string, entries []listenEntry) []ListenSpec {
	var out []ListenSpec
	seen := map[string]bool{}
	for i, e := range entries {
		key := fmt.Sprintf("[[listen]] %d", i+1)
		l := ListenSpec{Address: e.Address, Name: service, Accept: e.Accept}
		if err := checkListenAddress(e.Address); err != nil {
			c.fail(key+" address", "%v", err)
		} else if seen[e.Address] {
			c.fail(key+" address", "%q listed twice", e.Address)
		}
		seen[e.Address] = true
		if e.Name != nil {
			l.Name = *e.Name
		}
		if err := checkFDName(l.Name); err != nil && e.Name != nil {
			c.fail(key+" name", "%v", err)
		} else if err != nil {
			c.fail(key+" name", "missing, and the service's name is no fd name: %v", err)
		}
		c.accept(key, e, &l)
		out = append(out, l)
	}
	return out
}

// acceptRules checks what an accept service cannot have: a service whose
// sockets accept runs its command once per connection and has no main
// process, so every socket accepts, nothing waits for READY=1 and nothing
// restarts.
func (c *checker) acceptRules(s *Service) {
	accept := 0
	for _, l := range s.Listen {
		if l.Accept {
			accept++
		}
	}
	switch {
	case accept == 0:
	case accept < len(s.Listen):
		c.fail("[[listen]] accept", "set on %d of %d sockets: a service either accepts on every socket or on none", accept, len(s.Listen))
	case s.Readiness == ReadyNotify:
		c.fail("readiness", "notify: a service whose sockets accept has no main process to be ready")
	case s.Restart.Policy != RestartNo:
		c.fail("[restart] policy", "%s: a service whose sockets accept has no main process to restart", s.Restart.Policy)
	case s.Watchdog > 0:
		c.fail("watchdog", "a service whose sockets accept has no main process to watch")
	}
}

func (c *checker) accept(key string, e listenEntry, l *ListenSpec) {
	if e.Accept && strings.HasPrefix(e.Address, "udp://") {
		c.fail(key+" accept", "needs a stream or seqpacket socket, not udp")
	}
	if e.MaxConnections == nil {
		if e.Accept {
			l.MaxConnections = DefaultMaxConnections
		}
		return
	}
	n := *e.MaxConnections
	switch {
	case !e.Accept:
		c.fail(key+" max_connections", "needs accept = true")
	case n < 1 || n > 1<<16:
		c.fail(key+" max_connections", "%d: want 1 to %d", n, 1<<16)
	}
	l.MaxConnections = int(n)
}

// checkListenAddress checks an address's syntax; it resolves no name.
func checkListenAddress(a string) error { return checkAddress(a, false) }

// checkAddress is checkListenAddress, accepting port 0 (any free port: a
// one-off app's socket) with anyPort.
func checkAddress(a string, anyPort bool) error {
	switch {
	case strings.HasPrefix(a, "tcp://") || strings.HasPrefix(a, "udp://"):
		_, port, err := net.SplitHostPort(a[len("tcp://"):])
		if n, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil || (n == 0 && !anyPort) {
			return fmt.Errorf("%q: want HOST:PORT with a port 1 to 65535", a)
		}
	case strings.HasPrefix(a, "unix:") || strings.HasPrefix(a, "unixpacket:"):
		_, path, _ := strings.Cut(a, ":")
		// sun_path holds 108 bytes with the terminating NUL.
		if !strings.HasPrefix(path, "/") || len(path) > 107 || strings.IndexByte(path, 0) >= 0 {
			return fmt.Errorf("%q: want an absolute path of at most 107 bytes", a)
		}
	default:
		return fmt.Errorf("%q: want %s", a, "tcp://HOST:PORT, udp://HOST:PORT, unix:PATH or unixpacket:PATH")
	}
	return nil
}

// checkFDName applies systemd's rules for LISTEN_FDNAMES and FDNAME: 1
// to 255 bytes of printable ASCII but ':' (fdname_is_valid).
func checkFDName(n string) error {
	if n == "" || len(n) > 255 {
		return fmt.Errorf("%q: want 1 to 255 bytes", n)
	}
	for _, r := range n {
		if r == ':' || r < 0x20 || r >= 0x7f {
			return fmt.Errorf("%q: want printable ASCII but ':'", n)
		}
	}
	return nil
}
