//go:build linux

package supervisor

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// pollLoop removes the entries that hang up until the store is closed.
func (f *fdStore) pollLoop(p *fdPoller) {
	defer close(p.done)
	defer p.release()
	for {
		ids := p.wait()
		gone, stop := f.reap(ids)
		if stop {
			return
		}
		if len(gone) == 0 {
			continue
		}
		for _, e := range gone {
			if f.onRemove != nil {
				f.onRemove(e)
			}
		}
		f.mu.Lock()
		stop = f.closed
		f.mu.Unlock()
		if stop {
			return
		}
	}
}

// reap drops the entries whose ids hung up; stop says the store is closed.
func (f *fdStore) reap(ids []uint64) (gone []fdEntry, stop bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, true
	}
	gone = f.dropWhere(func(e *storedFD) bool {
		for _, id := range ids {
			if e.id == id {
				return true
			}
		}
		return false
	})
	return gone, false
}

// wakeID names the poller's eventfd in its epoll set; stored entries have
// ids from 1 up.
const wakeID = 0

// fdPoller is an fd store's epoll set. Entries are registered with no
// events, so only EPOLLHUP and EPOLLERR, which epoll always reports, wake
// it; level-triggered, so a hang-up is seen even if it happened before.
// epoll_ctl takes effect in a concurrent epoll_wait, so adding and removing
// need no wake-up; closing the epoll descriptor would not end the wait, so
// stop writes to an eventfd in the set.
type fdPoller struct {
	epfd int
	wake int           // eventfd, readable once stop was called
	done chan struct{} // closed when the goroutine using it has released it
}

// newFDPoller makes the epoll set and its eventfd, both close-on-exec.
func newFDPoller() (*fdPoller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("start fd store poller: %w", os.NewSyscallError("epoll_create1", err))
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("start fd store poller: %w", os.NewSyscallError("eventfd", err))
	}
	p := &fdPoller{epfd: epfd, wake: wake, done: make(chan struct{})}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setEpollID(&ev, wakeID)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		p.release()
		return nil, fmt.Errorf("start fd store poller: %w", os.NewSyscallError("epoll_ctl", err))
	}
	return p, nil
}

// watch registers fd under id. It reports false, and no error, for a
// descriptor epoll cannot watch (EPERM: regular files, directories), as
// systemd does.
func (p *fdPoller) watch(fd int, id uint64) (bool, error) {
	var ev unix.EpollEvent
	setEpollID(&ev, id)
	switch err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err {
	case nil:
		return true, nil
	case unix.EPERM:
		return false, nil
	default:
		return false, fmt.Errorf("watch fd %d: %w", fd, os.NewSyscallError("epoll_ctl", err))
	}
}

// unwatch removes fd from the set. It must be called before fd is closed:
// epoll keys on the open file description, which another process may keep
// open, and would go on reporting it under a number no longer ours.
func (p *fdPoller) unwatch(fd int) {
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

// wait blocks until entries hang up or stop is called, and returns the
// ids of the entries that hung up. Its errors are ours alone (EBADF,
// EFAULT, EINVAL), so it panics on them.
func (p *fdPoller) wait() []uint64 {
	var events [32]unix.EpollEvent
	for {
		n, err := unix.EpollWait(p.epfd, events[:], -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			panic(fmt.Sprintf("fd store poller: epoll_wait: %v", err))
		}
		var ids []uint64
		for _, ev := range events[:n] {
			if id := epollID(&ev); id != wakeID {
				ids = append(ids, id)
			}
		}
		return ids
	}
}

// stop makes wait return; the eventfd stays readable.
func (p *fdPoller) stop() {
	var one = [8]byte{1}
	_, _ = unix.Write(p.wake, one[:])
}

// release closes the epoll set and the eventfd.
func (p *fdPoller) release() {
	_ = unix.Close(p.epfd)
	_ = unix.Close(p.wake)
}

// setEpollID stores id in the event's 64-bit data; Fd and Pad are its two
// halves on every Linux architecture.
func setEpollID(ev *unix.EpollEvent, id uint64) {
	ev.Fd = int32(uint32(id))
	ev.Pad = int32(uint32(id >> 32))
}

func epollID(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}
