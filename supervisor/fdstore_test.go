//go:build linux

package supervisor

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/fdpass"
)

// newTestStore makes a store closed at cleanup, after which the test
// process must have the descriptors it had before.
func newTestStore(t *testing.T, max int, onRemove func(fdEntry)) *fdStore {
	t.Helper()
	before := openFDs(t)
	t.Cleanup(func() { expectFDs(t, before) })
	s := newFDStore(max, onRemove)
	t.Cleanup(s.close)
	return s
}

// pollerFDs is how many descriptors s has of its own: its poller's epoll
// set and eventfd, once started.
func pollerFDs(s *fdStore) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.poller == nil {
		return 0
	}
	return 2
}

// socketPair returns both ends of a close-on-exec stream socket pair.
func socketPair(t *testing.T) (int, int) {
	t.Helper()
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p[0], p[1]
}

func dupFD(t *testing.T, fd int) int {
	t.Helper()
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// inode returns the inode of fd's file.
func inode(t *testing.T, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// mustAdd adds fds and fails t on error or a different number kept.
func mustAdd(t *testing.T, s *fdStore, name string, poll bool, kept int, fds ...int) []fdEntry {
	t.Helper()
	got, err := s.add(name, fds, poll)
	if err != nil || len(got) != kept {
		t.Fatalf("add(%q, %v) = %d entries, %v; want %d", name, fds, len(got), err, kept)
	}
	return got
}

// A descriptor sharing an open file description with a stored one, or
// with one earlier in the same add, is closed and skipped; separate
// sockets and the two ends of a pipe (one inode, two descriptions) are
// each kept.
func TestFDStoreDedupe(t *testing.T) {
	s := newTestStore(t, 10, nil)
	a, b := socketPair(t)
	got := mustAdd(t, s, "a", true, 1, a)
	if got[0].FD != a || got[0].Name != "a" || got[0].Desc.Kind != fdpass.KindUnix || !got[0].Poll {
		t.Fatalf("entry %+v", got[0])
	}
	mustAdd(t, s, "again", true, 0, dupFD(t, a))
	if n := fdsOn(t, inode(t, a)); n != 1 {
		t.Fatalf("%d descriptors on the stored socket, want 1: the duplicate is open", n)
	}
	mustAdd(t, s, "b", true, 1, b, dupFD(t, b), dupFD(t, b))
	if n := fdsOn(t, inode(t, b)); n != 1 {
		t.Fatalf("%d descriptors on the other end, want 1", n)
	}
	r, w := pipe(t)
	mustAdd(t, s, "pipe", false, 2, r, w)
	c, d := socketPair(t)
	mustAdd(t, s, "pair", false, 2, c, d)
	var names []string
	for _, e := range s.entries() {
		names = append(names, e.Name)
	}
	if strings.Join(names, " ") != "a b pipe pipe pair pair" || s.len() != 6 {
		t.Fatalf("entries %v, len %d", names, s.len())
	}
}

// A number given twice, or one the store holds, is a caller's mistake:
// an error, and the store's descriptor is not closed by it.
func TestFDStoreGivenTwice(t *testing.T) {
	s := newTestStore(t, 10, nil)
	a, b := socketPair(t)
	got, err := s.add("a", []int{a, a}, false) // unpolled: closing b below hangs it up
	if err == nil || !strings.Contains(err.Error(), "given twice, or already stored") || len(got) != 1 {
		t.Fatalf("add of one number twice = %d entries, %v", len(got), err)
	}
	if got, err := s.add("again", []int{a}, true); err == nil || len(got) != 0 {
		t.Fatalf("add of a held number = %v, %v", got, err)
	}
	inoB := inode(t, b)
	if _, err := s.add("a:b", []int{a, b}, true); !errors.Is(err, errBadFDName) {
		t.Fatalf("add with a bad name: %v", err)
	}
	if fdsOn(t, inoB) != 0 {
		t.Fatalf("the descriptor given with a bad name is open: %s", fdList())
	}
	if fdsOn(t, inode(t, a)) != 1 || s.len() != 1 {
		t.Fatalf("the held descriptor was closed: %s", fdList())
	}
}

// No name is systemd's "stored"; a name systemd refuses closes every
// descriptor given and changes nothing.
func TestFDStoreNames(t *testing.T) {
	s := newTestStore(t, 10, nil)
	r, w := pipe(t)
	if got := mustAdd(t, s, "", false, 1, r); got[0].Name != "stored" {
		t.Fatalf("default name %q", got[0].Name)
	}
	long := strings.Repeat("n", 255)
	if got := mustAdd(t, s, long, false, 1, w); got[0].Name != long {
		t.Fatalf("name %q", got[0].Name)
	}
	for _, name := range []string{"a:b", strings.Repeat("n", 256), "tab\there", "é", "nul\x00"} {
		before := openFDs(t)
		r, w := pipe(t)
		got, err := s.add(name, []int{r, w}, true)
		if !errors.Is(err, errBadFDName) || got != nil {
			t.Errorf("add(%q) = %v, %v; want errBadFDName", name, got, err)
		}
		expectFDs(t, before)
	}
	if s.len() != 2 {
		t.Fatalf("len %d after refused adds, want 2", s.len())
	}
}

// Beyond max the rest is closed and add says how many it refused; a
// duplicate of a refused descriptor counts as a duplicate.
func TestFDStoreMax(t *testing.T) {
	s := newTestStore(t, 2, nil)
	before := openFDs(t)
	r1, w1 := pipe(t)
	r2, w2 := pipe(t)
	got, err := s.add("p", []int{r1, w1, r2, w2}, true)
	if !errors.Is(err, errFDStoreFull) || !strings.Contains(err.Error(), "2 refused, at most 2 held") || len(got) != 2 {
		t.Fatalf("add = %d entries, %v; want 2 and errFDStoreFull with 2 refused", len(got), err)
	}
	if got[0].FD != r1 || got[1].FD != w1 {
		t.Fatalf("kept %d and %d, want the first two, %d and %d", got[0].FD, got[1].FD, r1, w1)
	}
	expectFDs(t, before+2+pollerFDs(s))
	x, y := socketPair(t)
	unix.Close(y)
	got, err = s.add("x", []int{x, dupFD(t, x)}, true)
	if !errors.Is(err, errFDStoreFull) || !strings.Contains(err.Error(), ": 1 refused") || len(got) != 0 {
		t.Fatalf("add to a full store = %v, %v; want errFDStoreFull with 1 refused", got, err)
	}
	expectFDs(t, before+2+pollerFDs(s))

	none := newFDStore(0, nil)
	defer none.close()
	r, w := pipe(t)
	if got, err := none.add("p", []int{r, w}, true); !errors.Is(err, errFDStoreFull) || len(got) != 0 {
		t.Fatalf("add to a store of 0 = %v, %v", got, err)
	}
	expectFDs(t, before+2+pollerFDs(s)+pollerFDs(none))
}

// remove closes and drops every entry of a name, returning them; others
// stay, and the poller still watches them.
func TestFDStoreRemove(t *testing.T) {
	gone := make(chan fdEntry, 4)
	s := newTestStore(t, 10, func(e fdEntry) { gone <- e })
	before := openFDs(t)
	a, peerA := socketPair(t)
	b, peerB := socketPair(t)
	c, peerC := socketPair(t)
	mustAdd(t, s, "x", true, 2, a, b)
	mustAdd(t, s, "y", true, 1, c)
	removed := s.remove("x")
	if len(removed) != 2 || removed[0].Name != "x" || removed[0].FD != -1 || removed[1].FD != -1 {
		t.Fatalf("remove = %+v, want the two x entries with FD -1", removed)
	}
	if fdsOn(t, inode(t, peerA)) != 1 || fdsOn(t, inode(t, peerB)) != 1 {
		t.Fatalf("a removed descriptor is open: %s", fdList())
	}
	if got := s.remove("nothing"); len(got) != 0 {
		t.Fatalf("remove of an unknown name = %+v", got)
	}
	if e := s.entries(); len(e) != 1 || e[0].FD != c {
		t.Fatalf("entries after remove %+v", e)
	}
	unix.Close(peerC)
	if e := waitRemoved(t, gone); e.Name != "y" {
		t.Fatalf("hang-up removed %+v, want y", e)
	}
	unix.Close(peerA)
	unix.Close(peerB)
	expectFDs(t, before+pollerFDs(s))
}

// waitRemoved returns the next entry the store removed by itself.
func waitRemoved(t *testing.T, gone <-chan fdEntry) fdEntry {
	t.Helper()
	select {
	case e := <-gone:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no entry removed on hang-up")
		return fdEntry{}
	}
}

// An entry that hangs up (its peer closed: EPOLLHUP, or EPOLLERR for a
// pipe's write end) is closed, dropped and reported to onRemove.
func TestFDStoreHangup(t *testing.T) {
	for _, c := range []struct {
		name string
		pair func(t *testing.T) (stored, peer int)
	}{
		{"socket", func(t *testing.T) (int, int) { return socketPair(t) }},
		{"pipe read end", func(t *testing.T) (int, int) { return pipe(t) }},
		{"pipe write end", func(t *testing.T) (int, int) { r, w := pipe(t); return w, r }},
	} {
		t.Run(c.name, func(t *testing.T) {
			gone := make(chan fdEntry, 1)
			s := newTestStore(t, 10, func(e fdEntry) { gone <- e })
			stored, peer := c.pair(t)
			ino := inode(t, stored)
			mustAdd(t, s, "conn", true, 1, stored)
			s.setKey(stored, 42)
			unix.Close(peer)
			e := waitRemoved(t, gone)
			if e.Name != "conn" || e.FD != -1 || e.Key != 42 || e.Desc.Ino != ino {
				t.Fatalf("removed %+v", e)
			}
			if s.len() != 0 || fdsOn(t, ino) != 0 {
				t.Fatalf("after the hang-up: len %d, %s", s.len(), fdList())
			}
		})
	}
}

// An entry stored with poll false (FDPOLL=0), or one epoll cannot watch (a
// regular file), stays when it hangs up.
func TestFDStoreNoPoll(t *testing.T) {
	gone := make(chan fdEntry, 4)
	s := newTestStore(t, 10, func(e fdEntry) { gone <- e })
	keep, keepPeer := socketPair(t)
	if got := mustAdd(t, s, "keep", false, 1, keep); got[0].Poll {
		t.Fatalf("entry %+v polled", got[0])
	}
	file, err := unix.Open(filepath.Join(t.TempDir(), "file"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustAdd(t, s, "file", true, 1, file); got[0].Poll || got[0].Desc.Kind != fdpass.KindFile {
		t.Fatalf("regular file entry %+v: epoll cannot watch it", got[0])
	}
	watch, watchPeer := socketPair(t)
	mustAdd(t, s, "watch", true, 1, watch)
	unix.Close(keepPeer) // first, so a watched keep would hang up no later
	unix.Close(watchPeer)
	if e := waitRemoved(t, gone); e.Name != "watch" {
		t.Fatalf("removed %+v, want watch", e)
	}
	if e := s.entries(); len(e) != 2 || e[0].Name != "keep" || e[1].Name != "file" {
		t.Fatalf("entries %+v, want keep and file", e)
	}
}

// close closes every descriptor and stops the poller (goleak checks it is
// gone); after it add refuses, and closes what it is given.
func TestFDStoreClose(t *testing.T) {
	before := openFDs(t)
	s := newFDStore(10, nil)
	a, b := socketPair(t)
	r, w := pipe(t)
	mustAdd(t, s, "a", true, 2, a, b)
	mustAdd(t, s, "r", false, 2, r, w)
	s.close()
	s.close()
	expectFDs(t, before)
	x, y := socketPair(t)
	if got, err := s.add("late", []int{x, y}, true); !errors.Is(err, errFDStoreClosed) || got != nil {
		t.Fatalf("add after close = %v, %v", got, err)
	}
	if s.len() != 0 || len(s.entries()) != 0 {
		t.Fatalf("entries after close: %+v", s.entries())
	}
	expectFDs(t, before)
}

// close while the poller runs onRemove waits for it: once close returned,
// the poller's descriptors are closed and onRemove is over (the store it
// uses may go next).
func TestFDStoreCloseWaitsForOnRemove(t *testing.T) {
	before := openFDs(t)
	inCallback, release := make(chan struct{}), make(chan struct{})
	s := newFDStore(10, func(fdEntry) { close(inCallback); <-release })
	a, peer := socketPair(t)
	mustAdd(t, s, "a", true, 1, a)
	unix.Close(peer)
	<-inCallback
	closed := make(chan struct{})
	go func() { s.close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("close returned while onRemove runs")
	case <-time.After(50 * time.Millisecond): // a negative: nothing signals "still blocked"
	}
	close(release)
	<-closed
	expectFDs(t, before)
}

// setKey marks an entry; dupAll hands out close-on-exec duplicates, above
// the standard streams, that the caller closes.
func TestFDStoreKeyAndDup(t *testing.T) {
	s := newTestStore(t, 10, nil)
	r, w := pipe(t)
	mustAdd(t, s, "p", true, 2, r, w)
	if !s.setKey(w, 7) || s.setKey(-1, 1) {
		t.Fatal("setKey: want true for a stored fd, false for another")
	}
	if e := s.entries(); e[0].Key != 0 || e[1].Key != 7 {
		t.Fatalf("keys %d %d, want 0 7", e[0].Key, e[1].Key)
	}
	before := openFDs(t)
	dups, err := s.dupAll()
	if err != nil || len(dups) != 2 {
		t.Fatalf("dupAll = %+v, %v", dups, err)
	}
	for i, d := range dups {
		orig := []int{r, w}[i]
		same, err := fdpass.SameFile(d.FD, orig)
		flags, ferr := unix.FcntlInt(uintptr(d.FD), unix.F_GETFD, 0)
		if d.FD < 3 || d.FD == orig || !same || err != nil || ferr != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("duplicate %d of %d: same %v (%v), flags %#x (%v)", d.FD, orig, same, err, flags, ferr)
		}
		unix.Close(d.FD)
	}
	expectFDs(t, before)
}

// Adds, removals and hang-ups racing each other account for every
// descriptor exactly once and leave none open.
func TestFDStoreConcurrent(t *testing.T) {
	const workers, rounds = 4, 50
	gone := make(chan fdEntry, workers*rounds)
	s := newTestStore(t, workers*rounds, func(e fdEntry) { gone <- e })
	var wg sync.WaitGroup
	var kept [workers]int // added, less removed by name
	for i := range workers {
		name := fmt.Sprintf("w%d", i)
		wg.Go(func() {
			for j := range rounds {
				p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := s.add(name, p[:1], true)
				if err != nil {
					t.Error(err)
				}
				kept[i] += len(got)
				unix.Close(p[1]) // the stored end hangs up
				if j%5 == 4 {
					kept[i] -= len(s.remove(name))
				}
				_ = s.entries()
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range kept {
		total += n
	}
	// Every peer is closed: whatever was not removed by name hangs up.
	for range total {
		waitRemoved(t, gone)
	}
	if s.len() != 0 || len(gone) != 0 {
		t.Fatalf("%d held and %d more removed after all %d hung up", s.len(), len(gone), total)
	}
}

func BenchmarkFDStoreAdd(b *testing.B) {
	s := newFDStore(1<<20, nil)
	defer s.close()
	// A store already holding many sockets: add compares by inode first.
	for range 500 {
		p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.add("held", p[:], false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		r, w := pipe(b)
		if _, err := s.add("bench", []int{r, w}, true); err != nil {
			b.Fatal(err)
		}
		s.remove("bench")
	}
}
