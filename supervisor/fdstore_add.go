package supervisor

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/fdpass"
)

// fdAdd is one add call under way, under the store's lock.
type fdAdd struct {
	f       *fdStore
	name    string
	poll    bool
	now     time.Time
	added   []fdEntry
	refused []storedFD // kept open until finish, to compare later fds with
	errs    []error
}

func (a *fdAdd) take(fd int) {
	if a.owned(fd) {
		// Closing it would close what the store, or this call, holds.
		a.errs = append(a.errs, fmt.Errorf("fd %d given twice, or already stored", fd))
		return
	}
	desc, err := fdpass.Describe(fd)
	if err != nil {
		a.fail(fd, err)
		return
	}
	e := storedFD{fdEntry: fdEntry{Name: a.name, FD: fd, Desc: desc, Added: a.now}}
	if dup, err := a.duplicate(e); err != nil || dup {
		a.fail(fd, err)
		return
	}
	if len(a.f.held) >= a.f.max {
		a.refused = append(a.refused, e)
		return
	}
	if err := a.f.hold(&e, a.poll); err != nil {
		a.fail(fd, err)
		return
	}
	a.added = append(a.added, e.fdEntry)
}

// owned reports whether fd is a number the store holds or this call has
// refused (and will close).
func (a *fdAdd) owned(fd int) bool {
	for _, h := range a.f.held {
		if h.FD == fd {
			return true
		}
	}
	for _, r := range a.refused {
		if r.FD == fd {
			return true
		}
	}
	return false
}

// duplicate reports whether e shares an open file description with a held
// descriptor or one refused earlier in this call (the held include those
// added earlier in it).
func (a *fdAdd) duplicate(e storedFD) (bool, error) {
	for _, h := range a.f.held {
		if same, err := sameFD(e, *h); same || err != nil {
			return same, err
		}
	}
	for _, r := range a.refused {
		if same, err := sameFD(e, r); same || err != nil {
			return same, err
		}
	}
	return false, nil
}

// sameFD compares two descriptors' open file descriptions, asking the
// kernel only about those on one inode.
func sameFD(a, b storedFD) (bool, error) {
	if a.Desc.Dev != b.Desc.Dev || a.Desc.Ino != b.Desc.Ino {
		return false, nil
	}
	return fdpass.SameFile(a.FD, b.FD)
}

// fail closes fd, noting err if there is one (a duplicate has none).
func (a *fdAdd) fail(fd int, err error) {
	_ = unix.Close(fd)
	if err != nil {
		a.errs = append(a.errs, err)
	}
}

func (a *fdAdd) finish() ([]fdEntry, error) {
	for _, r := range a.refused {
		_ = unix.Close(r.FD)
	}
	if len(a.refused) > 0 {
		a.errs = append(a.errs, fmt.Errorf("%w: %d refused, at most %d held", errFDStoreFull, len(a.refused), a.f.max))
	}
	if len(a.errs) > 0 {
		return a.added, fmt.Errorf("store descriptors as %q: %w", a.name, errors.Join(a.errs...))
	}
	return a.added, nil
}

// hold appends e to the store, watching it when poll asks and epoll can.
// On error e is not held and its descriptor still open.
func (f *fdStore) hold(e *storedFD, poll bool) error {
	f.lastID++
	e.id = f.lastID
	if poll {
		if f.poller == nil {
			p, err := newFDPoller()
			if err != nil {
				return err
			}
			f.poller = p
			go f.pollLoop(p)
		}
		watched, err := f.poller.watch(e.FD, e.id)
		if err != nil {
			return err
		}
		e.Poll = watched
	}
	f.held = append(f.held, e)
	return nil
}
