//go:build linux

package supervisor

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// becomeSubreaper makes the supervisor the reaper of its apps' orphans
// (PR_SET_CHILD_SUBREAPER), so a double-forked process is still its child.
func becomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl PR_SET_CHILD_SUBREAPER", err)
	}
	return nil
}

// reap waits for children with a wait4(-1) loop on every SIGCHLD until stop
// is closed, and records the exits launches claimed (see launchTable). It
// runs once per Run.
func (s *Supervisor) reap(stop <-chan struct{}) {
	defer s.wg.Done()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGCHLD)
	defer signal.Stop(sigs)
	s.mu.Lock()
	wake := s.launches.wakeChan()
	s.mu.Unlock()
	for {
		s.reapAll()
		select {
		case <-sigs:
		case <-wake:
		case <-stop:
			s.reapSettled(sigs, wake)
			return
		}
	}
}

// reapSettled reaps what has exited and, while a launch in flight may still
// claim a status it parked, waits for that launch: an exit reaped before
// the reaper stops is recorded, however late its launch registers the pid.
func (s *Supervisor) reapSettled(sigs <-chan os.Signal, wake <-chan struct{}) {
	for {
		s.reapAll()
		s.mu.Lock()
		settled := s.launches.settled()
		s.mu.Unlock()
		if settled {
			return
		}
		select {
		case <-sigs:
		case <-wake:
		}
	}
}

// reapAll records the exits launches claimed and reaps every child that
// has exited.
func (s *Supervisor) reapAll() {
	for {
		s.mu.Lock()
		claimed := s.launches.takeClaimed()
		s.mu.Unlock()
		for _, e := range claimed {
			s.reaped(e.pid, e.ws)
		}
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		s.reaped(pid, ws)
	}
}
