package supervisor

import (
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/fdpass"
)

// defaultFDName is systemd's name for a descriptor stored without FDNAME=.
const defaultFDName = "stored"

// fdEntry is one stored descriptor (systemd's fd store, FDSTORE=1).
type fdEntry struct {
	Name  string             // FDNAME=, defaultFDName when none was given; never empty
	FD    int                // held by the store until removed; -1 in an entry the store removed
	Desc  fdpass.Description // what it is (fdpass.Describe), as of add
	Poll  bool               // removed when it hangs up (EPOLLHUP/EPOLLERR), systemd's default; false for what epoll cannot watch (regular files, directories)
	Added time.Time          // when add took it
	Key   uint64             // opaque, set by the owner via setKey (the supervisor puts a continuation id here)
}

// storedFD is an entry as the store keeps it.
type storedFD struct {
	fdEntry
	id uint64 // names it in the poller's epoll set; never reused
}

// fdStore holds a service's stored descriptors: at most max of them, no
// two sharing an open file description, each under a name. An entry with
// Poll set is removed (and its descriptor closed) when it hangs up; a
// poller goroutine, started with the first such entry and stopped by
// close, watches them with epoll. It waits in epoll_wait, so it holds an
// OS thread while it runs: one per store with a polled entry.
type fdStore struct {
	max      int
	onRemove func(fdEntry)

	mu     sync.Mutex
	held   []*storedFD // insertion order
	lastID uint64
	poller *fdPoller // nil until an entry is polled
	closed bool
}

// newFDStore makes an empty store of at most max descriptors (0 or less:
// none, systemd's FileDescriptorStoreMax=0). onRemove, which may be nil, is
// called for every entry the store removes by itself because it hung up,
// outside the store's lock, from the poller goroutine, with the entry's FD
// already closed (-1). onRemove may call any method of the store but close.
func newFDStore(max int, onRemove func(fdEntry)) *fdStore {
	return &fdStore{max: max, onRemove: onRemove}
}

// add takes ownership of fds, all of them, whatever happens. A descriptor
// sharing an open file description with one the store holds, or with one
// earlier in fds, is closed and skipped (systemd's same_fd). name ""
// becomes "stored"; a name systemd would refuse closes every descriptor
// and returns an error wrapping errBadFDName. poll asks for the entries to
// be removed when they hang up. Once the store holds max descriptors the
// rest are closed, and add returns the entries it kept with an error
// wrapping errFDStoreFull saying how many were refused. A descriptor that
// cannot be described or watched is closed and its error joined in; a
// number given twice, or one the store holds already, is an error and is
// not closed again. The entries returned are copies, in the order of fds.
// After close, add closes fds and returns an error wrapping
// errFDStoreClosed.
func (f *fdStore) add(name string, fds []int, poll bool) ([]fdEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name == "" {
		name = defaultFDName
	} else if err := checkFDName(name); err != nil {
		f.closeGiven(fds)
		return nil, fmt.Errorf("store %d descriptors: %w: %w", len(fds), errBadFDName, err)
	}
	if f.closed {
		f.closeGiven(fds)
		return nil, fmt.Errorf("store %d descriptors as %q: %w", len(fds), name, errFDStoreClosed)
	}
	a := fdAdd{f: f, name: name, poll: poll, now: time.Now()}
	for _, fd := range fds {
		a.take(fd)
	}
	return a.finish()
}

// closeGiven closes the descriptors add was given and will not keep, each
// number once, and none the store holds.
func (f *fdStore) closeGiven(fds []int) {
	skip := map[int]bool{}
	for _, h := range f.held {
		skip[h.FD] = true
	}
	for _, fd := range fds {
		if !skip[fd] {
			skip[fd] = true
			_ = unix.Close(fd)
		}
	}
}

// remove closes and drops every entry named name and returns them, in
// insertion order, with FD -1.
func (f *fdStore) remove(name string) []fdEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropWhere(func(e *storedFD) bool { return e.Name == name })
}

// dropWhere closes and drops every held entry match selects.
func (f *fdStore) dropWhere(match func(*storedFD) bool) []fdEntry {
	var gone []fdEntry
	kept := f.held[:0]
	for _, e := range f.held {
		if !match(e) {
			kept = append(kept, e)
			continue
		}
		if e.Poll {
			f.poller.unwatch(e.FD)
		}
		_ = unix.Close(e.FD)
		out := e.fdEntry
		out.FD = -1
		gone = append(gone, out)
	}
	clear(f.held[len(kept):])
	f.held = kept
	return gone
}

// setKey sets the Key of the entry holding fd; false if none does.
func (f *fdStore) setKey(fd int, key uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.held {
		if e.FD == fd {
			e.Key = key
			return true
		}
	}
	return false
}

// entries returns copies of the entries, in insertion order. Their FDs
// are the store's and may be closed by the poller at any moment: to pass
// them on, use dupAll.
func (f *fdStore) entries() []fdEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]fdEntry, len(f.held))
	for i, e := range f.held {
		out[i] = e.fdEntry
	}
	return out
}

// dupAll returns the entries, in insertion order, each with FD a fresh
// close-on-exec duplicate (numbered 3 or above) that the caller owns: what
// a service's next process is handed. It duplicates under the store's
// lock, so no entry is closed between listing and duplicating. On error
// it returns none, and no duplicate stays open.
func (f *fdStore) dupAll() ([]fdEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]fdEntry, 0, len(f.held))
	for _, e := range f.held {
		fd, err := unix.FcntlInt(uintptr(e.FD), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			for _, d := range out {
				_ = unix.Close(d.FD)
			}
			return nil, fmt.Errorf("duplicate stored fd %d (%s): %w", e.FD, e.Name, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err))
		}
		c := e.fdEntry
		c.FD = fd
		out = append(out, c)
	}
	return out, nil
}

// len returns how many descriptors the store holds.
func (f *fdStore) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.held)
}

// close closes every descriptor and stops the poller, waiting for it to
// exit (after the onRemove it may be running: so onRemove must not call
// close). It may be called more than once.
func (f *fdStore) close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.dropWhere(func(*storedFD) bool { return true })
	p := f.poller
	f.mu.Unlock()
	if p == nil {
		return
	}
	p.stop()
	<-p.done // once it returned, nothing of the store is in use
}

// removeKey closes and drops the entry whose key is key; it reports
// whether there was one.
func (f *fdStore) removeKey(key uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.dropWhere(func(e *storedFD) bool { return e.Key == key })) > 0
}
