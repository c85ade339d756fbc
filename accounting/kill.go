//go:build linux

package accounting

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// roundWait bounds how long one round of the fallback kill waits for the
// signalled processes to go before it looks for new ones.
const roundWait = 100 * time.Millisecond

// Kill sends SIGKILL to every process of the group and of the cgroups
// below it, including processes forked while Kill runs and processes that
// left the supervisor's process tree (a double-forked daemon), and returns
// once the group is empty. With cgroup.kill (cgroup v2 or the unified
// hierarchy of a hybrid host, kernel 5.14 and later) the kernel kills the
// whole subtree at once, new forks included, and Kill waits for
// cgroup.events to say "populated 0". Otherwise it repeats a round of
// freeze, SIGKILL to each listed process (through a pidfd, so a reused pid
// is never hit), thaw, until the group is empty. Frozen groups are killed
// too, and Kill leaves the group's freezer set to thawed. If processes
// remain at the Manager's timeout (stuck in the kernel, or held by a
// frozen v1 ancestor), it fails with ErrTimeout and a *NotEmptyError
// listing them.
func (g *Group) Kill() error {
	if err := g.kill(g.m.deadline()); err != nil {
		return fmt.Errorf("kill group %q: %w", g.name, err)
	}
	return nil
}

func (g *Group) kill(deadline time.Time) error {
	missing, err := missingDirs(g.dirs)
	if err != nil {
		return err
	}
	if len(missing) == len(g.dirs) {
		return ErrNotFound
	}
	if g.v2 != nil && !g.m.cfg.noCgroupKill && !slices.Contains(missing, g.UnifiedPath()) {
		done, err := g.killUnified(deadline)
		if err != nil || done {
			return g.timeoutDetail(err)
		}
	}
	return g.timeoutDetail(g.killLoop(deadline))
}

// killUnified writes cgroup.kill and waits for the group to empty. It
// reports done=false, for the loop to finish, when the kernel has no
// cgroup.kill or a process remains in a v1 hierarchy only.
func (g *Group) killUnified(deadline time.Time) (done bool, err error) {
	dir := g.UnifiedPath()
	err = writeCgroupFile(filepath.Join(dir, "cgroup.kill"), "1")
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // kernel before 5.14 (or the group went meanwhile: the loop finds it empty)
	}
	if err != nil {
		return false, err
	}
	// v1-frozen processes act on the SIGKILL only once thawed.
	if err := g.unfreeze(); err != nil {
		return false, err
	}
	if err := waitEvent(dir, "populated", 0, deadline); err != nil {
		return false, err
	}
	pids, err := g.Procs()
	return len(pids) == 0, err
}

// killLoop freezes the group (so nothing forks between listing and
// signalling), signals what it lists, thaws, and waits for the group to
// empty, until it is empty or the deadline passes.
func (g *Group) killLoop(deadline time.Time) error {
	for {
		pids, err := g.Procs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return g.unfreeze()
		}
		if time.Now().After(deadline) {
			return errors.Join(ErrTimeout, g.unfreeze())
		}
		if err := g.killRound(deadline); err != nil {
			return err
		}
		until := time.Now().Add(roundWait)
		if until.After(deadline) {
			until = deadline
		}
		if err := g.waitEmpty(until); err != nil {
			return err
		}
	}
}

func (g *Group) killRound(deadline time.Time) error {
	err := g.setFrozen(true, deadline)
	if err != nil && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTimeout) {
		return err // a freezer that cannot even be written; a missing or slow one only weakens the round
	}
	return errors.Join(g.signalAll(unix.SIGKILL), g.unfreeze())
}

// signalAll sends sig to every process of the group through a pidfd, and
// only to those listed again once their pidfd is open: a pid read from
// cgroup.procs may belong to an unrelated process by the time it is used,
// while a pidfd pins one process and the second listing shows it is ours.
func (g *Group) signalAll(sig unix.Signal) error {
	pids, err := g.Procs()
	if err != nil {
		return err
	}
	fds, err := openPidfds(pids)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	if err != nil {
		return err
	}
	still, err := g.Procs()
	if err != nil {
		return err
	}
	for _, pid := range still {
		fd, ok := fds[pid]
		if !ok {
			continue // forked after the first listing: the next round gets it
		}
		if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal %d: %w", pid, err)
		}
	}
	return nil
}

// openPidfds opens a pidfd (close-on-exec, as every pidfd) for each pid
// still alive. The map holds what was opened even on error.
func openPidfds(pids []int) (map[int]int, error) {
	fds := make(map[int]int, len(pids))
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		switch {
		case err == nil:
			fds[pid] = fd
		case !errors.Is(err, unix.ESRCH):
			return fds, fmt.Errorf("open pidfd of %d: %w", pid, err)
		}
	}
	return fds, nil
}

// waitEmpty waits until the group is empty or until passes; reaching
// until is not an error (killLoop judges the deadline). The unified
// hierarchy notifies emptiness; v1 does not, so there it polls.
func (g *Group) waitEmpty(until time.Time) error {
	if g.v2 != nil {
		err := waitEvent(g.UnifiedPath(), "populated", 0, until)
		if err == nil || errors.Is(err, ErrTimeout) {
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		} // the unified part is missing: poll the v1 parts
	}
	for backoff := time.Millisecond; time.Now().Before(until); backoff = min(2*backoff, 20*time.Millisecond) {
		pids, err := g.Procs()
		if err != nil || len(pids) == 0 {
			return err
		}
		time.Sleep(backoff)
	}
	return nil
}

// unfreeze writes the group's freezer to thawed without waiting: enough
// for Kill (a v1-frozen task acts on its SIGKILL once thawed; a v2-frozen
// one needs nothing), and all that can be done while an ancestor keeps the
// group frozen.
func (g *Group) unfreeze() error {
	v1dir, v2dir := g.freezerDirs()
	switch {
	case v1dir != "":
		return notFound(writeCgroupFile(filepath.Join(v1dir, "freezer.state"), "THAWED"))
	case v2dir != "":
		return notFound(writeCgroupFile(filepath.Join(v2dir, "cgroup.freeze"), "0"))
	}
	return nil
}

// timeoutDetail adds the processes that remain to a timeout.
func (g *Group) timeoutDetail(err error) error {
	if !errors.Is(err, ErrTimeout) {
		return err
	}
	pids, perr := g.Procs()
	if perr != nil {
		return errors.Join(err, perr)
	}
	return fmt.Errorf("%w: %w", err, &NotEmptyError{Group: g.name, Pids: pids})
}
