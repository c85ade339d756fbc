//go:build linux

package supervisor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/launcher"
)

// acceptRetry is how long an acceptor waits after an accept error that is
// not the peer's (out of descriptors or memory) before it tries again.
const acceptRetry = 100 * time.Millisecond

// acceptor accepts connections on one socket of an accept service and
// starts the service's command for each, with the connection on its
// standard input and output (inetd style, systemd's Accept=yes). Its
// counters are guarded by Supervisor.mu.
type acceptor struct {
	s    *Supervisor
	a    *App
	spec ListenSpec
	// f is a duplicate of the held socket, non-blocking in Go's poller;
	// closing it ends the loop. The acceptor owns it.
	f        *os.File
	open     int    // connections whose process runs
	accepted uint64 // connections handed to a process
	refused  uint64 // connections closed at once: MaxConnections were open
	stopOnce sync.Once
	stop     chan struct{} // closed by stopAcceptors
	done     chan struct{} // closed when the loop ended
}

// startAcceptors starts accepting on every socket of an accept service,
// which is then running: it has no main process.
func (s *Supervisor) startAcceptors(a *App) error {
	for i, l := range a.spec.Listen {
		fd, err := dupCloexec(a.listen[i])
		if err != nil {
			return fmt.Errorf("accept on %s: %w", l.Address, err)
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			_ = unix.Close(fd)
			return fmt.Errorf("accept on %s: %w", l.Address, os.NewSyscallError("fcntl", err))
		}
		ac := &acceptor{s: s, a: a, spec: l, f: os.NewFile(uintptr(fd), "accept "+l.Address),
			stop: make(chan struct{}), done: make(chan struct{})}
		a.acceptors = append(a.acceptors, ac)
		s.wg.Add(1)
		go ac.loop()
	}
	s.mu.Lock()
	a.run.set(StateRunning)
	a.run.ready, a.started = true, time.Now()
	s.mu.Unlock()
	return nil
}

// stopAcceptors stops accepting and waits until every loop ended; the held
// sockets stay open. Connections already handed over are not touched.
func (s *Supervisor) stopAcceptors(a *App) {
	for _, ac := range a.acceptors {
		ac.stopOnce.Do(func() {
			close(ac.stop)
			_ = ac.f.Close()
		})
		<-ac.done
	}
}

func (ac *acceptor) loop() {
	defer ac.s.wg.Done()
	defer close(ac.done)
	rc, err := ac.f.SyscallConn()
	if err != nil {
		ac.s.log.Error().Err(err).Str("app", ac.a.name).Msg("accept loop not started")
		return
	}
	for {
		var nfd int
		var sa unix.Sockaddr
		var aerr error
		err := rc.Read(func(fd uintptr) bool {
			nfd, sa, aerr = unix.Accept4(int(fd), unix.SOCK_CLOEXEC)
			return aerr != unix.EAGAIN
		})
		switch {
		case err != nil: // closed: the service stops
			return
		case aerr == nil:
			ac.serve(nfd, sa)
		case errors.Is(aerr, unix.ECONNABORTED) || errors.Is(aerr, unix.EINTR) || errors.Is(aerr, unix.EPROTO):
		default:
			ac.s.log.Error().Err(aerr).Str("app", ac.a.name).Str("address", ac.spec.Address).Msg("accept failed, retrying")
			select {
			case <-time.After(acceptRetry):
			case <-ac.stop:
				return
			}
		}
	}
}

// serve hands one accepted connection to a fresh process of the service,
// or closes it when MaxConnections are open or the service stops.
func (ac *acceptor) serve(nfd int, sa unix.Sockaddr) {
	s, a := ac.s, ac.a
	defer unix.Close(nfd) // the process has its own copy
	s.mu.Lock()
	if a.stopped || s.closed {
		s.mu.Unlock()
		return
	}
	if ac.open >= ac.spec.MaxConnections {
		ac.refused++
		n := ac.refused
		s.mu.Unlock()
		s.log.Warn().Str("app", a.name).Str("address", ac.spec.Address).Int("max", ac.spec.MaxConnections).
			Uint64("refused", n).Msg("connection limit reached, connection closed")
		return
	}
	ac.open++
	ac.accepted++
	spec := s.connSpec(a, nfd, sa)
	s.mu.Unlock()
	p, err := s.launch(a, spec, launchOpts{conn: ac})
	if err != nil {
		s.mu.Lock()
		ac.open--
		s.mu.Unlock()
		s.log.Error().Err(err).Str("app", a.name).Msg("connection process not started")
		return
	}
	s.log.Debug().Str("app", a.name).Int("pid", p.pid).Str("peer", sockaddrText(sa)).Msg("connection accepted")
}

// finished counts down the connection of a process that exited. The
// caller holds s.mu.
func (ac *acceptor) finished() { ac.open-- }

// connSpec is the launch of a connection's process: the connection on fd
// 0 and 1 and, as systemd passes it, on fd 3 with LISTEN_FDS=1 and
// LISTEN_FDNAMES=connection; the service's stderr on 2; REMOTE_ADDR and
// REMOTE_PORT for an IP peer. The caller holds s.mu.
func (s *Supervisor) connSpec(a *App, nfd int, sa unix.Sockaddr) launcher.Spec {
	files := []launcher.FD{{Target: 0, FD: nfd}, {Target: 1, FD: nfd}, {Target: 2, FD: a.stdio[2]}, {Target: 3, FD: nfd}}
	env := append(s.appEnv(a), "LISTEN_FDS=1", "LISTEN_FDNAMES=connection")
	if host, port, ok := inetPeer(sa); ok {
		env = append(env, "REMOTE_ADDR="+host, "REMOTE_PORT="+port)
	}
	proc := &specs.Process{Args: a.spec.Args, Env: a.spec.Env, Cwd: a.spec.Cwd, User: a.user}
	return launcher.Spec{Process: proc, Files: files, ExtraEnv: env, ListenPID: true, Setpgid: true, Cgroups: a.cgroups()}
}

func inetPeer(sa unix.Sockaddr) (host, port string, ok bool) {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return net.IP(sa.Addr[:]).String(), strconv.Itoa(sa.Port), true
	case *unix.SockaddrInet6:
		return net.IP(sa.Addr[:]).String(), strconv.Itoa(sa.Port), true
	}
	return "", "", false
}

func sockaddrText(sa unix.Sockaddr) string {
	if host, port, ok := inetPeer(sa); ok {
		return net.JoinHostPort(host, port)
	}
	return "unix"
}
