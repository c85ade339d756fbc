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
// is closed. It runs once per Run.
func (s *Supervisor) reap(stop <-chan struct{}) {
	defer s.wg.Done()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGCHLD)
	defer signal.Stop(sigs)
	for {
		s.reapAll()
		select {
		case <-sigs:
		case <-stop:
			s.reapAll()
			return
		}
	}
}

// reapAll reaps every child that has exited.
func (s *Supervisor) reapAll() {
	for {
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
