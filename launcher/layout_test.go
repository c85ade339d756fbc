//go:build linux

package launcher

import (
	"encoding/json"
	"io"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// identity is what makes two descriptors refer to the same object.
func identity(t *testing.T, fd int) (dev, ino uint64) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatalf("fstat %d: %v", fd, err)
	}
	return uint64(st.Dev), st.Ino
}

// requireLayout checks that the helper had exactly want open when it
// started (target -> the test's descriptor for the same object), and that
// anything else it had open was opened after exec by its own runtime: close-
// on-exec, or /dev/null on a missing standard descriptor.
func requireLayout(t *testing.T, rep *helperReport, want map[int]int) {
	t.Helper()
	for target, src := range want {
		got, ok := rep.FDs[target]
		if !ok {
			t.Errorf("target %d is not open in the child", target)
			continue
		}
		dev, ino := identity(t, src)
		if got.Dev != dev || got.Ino != ino {
			t.Errorf("target %d is %s (%d:%d), want the object of descriptor %d (%d:%d)", target, got.Link, got.Dev, got.Ino, src, dev, ino)
		}
		if got.Cloexec {
			t.Errorf("target %d is close-on-exec in the child", target)
		}
	}
	for fd, got := range rep.FDs {
		if fd <= 2 && got.Link == "/dev/null" {
			continue // the app's own Go runtime opens a missing stdio slot (TestStdioHolesClosed checks with a shell)
		}
		if _, ok := want[fd]; !ok && !got.Cloexec {
			t.Errorf("descriptor %d (%s) was inherited but is not in the layout", fd, got.Link)
		}
	}
}

// TestLayoutExact: the targets hold the right objects, the holes between
// them (3, 4, 6-8) are closed, and a descriptor the supervisor leaked
// without O_CLOEXEC does not reach the app.
func TestLayoutExact(t *testing.T) {
	checkLeaks(t)
	null := openRaw(t, "/dev/null", unix.O_RDONLY)
	_, out := pipe(t)
	_, errw := pipe(t)
	file := openRaw(t, filepath.Join(t.TempDir(), "five"), unix.O_RDWR|unix.O_CREAT)
	leaked, err := unix.Dup(null.n) // no O_CLOEXEC, as a careless supervisor would have it
	if err != nil {
		t.Fatal(err)
	}
	newRawFD(t, leaked, "leaked")

	spec := helperSpec(t, "report")
	spec.Files = []FD{{0, null.n}, {1, out.n}, {2, errw.n}, {5, file.n}}
	rep, _, rp := runReport(t, spec)
	requireLayout(t, rep, map[int]int{0: null.n, 1: out.n, 2: errw.n, 5: file.n, reportTarget: rp.n})
	requireNoChildren(t)
}

// TestLayoutOverlap: sources that are other entries' targets, in a rotation
// (40<-41<-42<-40), a source at its own target, and one source at two
// targets, all land where they should.
func TestLayoutOverlap(t *testing.T) {
	checkLeaks(t)
	objs := make([]rawFD, 4)
	for i := range objs {
		objs[i] = openRaw(t, filepath.Join(t.TempDir(), "obj"), unix.O_RDWR|unix.O_CREAT)
	}
	at := func(obj rawFD, n int) int {
		if _, err := unix.FcntlInt(uintptr(n), unix.F_GETFD, 0); err != unix.EBADF {
			t.Fatalf("descriptor %d is taken; the test needs it", n)
		}
		if err := unix.Dup3(obj.n, n, unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		newRawFD(t, n, "placed")
		return n
	}
	a, b, c, d := at(objs[0], 40), at(objs[1], 41), at(objs[2], 42), at(objs[3], 43)

	spec := helperSpec(t, "report")
	spec.Files = []FD{{41, a}, {42, b}, {40, c}, {43, d}, {3, b}, {0, c}}
	rep, _, rp := runReport(t, spec)
	requireLayout(t, rep, map[int]int{41: a, 42: b, 40: c, 43: d, 3: b, 0: c, reportTarget: rp.n})
	requireNoChildren(t)
}

// TestStdioHolesClosed: a layout without 0 and 2 leaves them closed in the
// app, although the trampoline's Go runtime opens /dev/null on a missing
// standard descriptor. A shell is the witness: a Go app would do the same.
func TestStdioHolesClosed(t *testing.T) {
	checkLeaks(t)
	spec := programSpec(t, "sh", "-c", `for n in 0 2; do if [ -e /proc/$$/fd/$n ]; then echo $n open; else echo $n closed; fi; done`)
	if got, want := output(t, spec), "0 closed\n2 closed\n"; got != want {
		t.Errorf("the shell says %q, want %q", got, want)
	}
	requireNoChildren(t)
}

// TestNonblockPreserved: passing a nonblocking listening socket does not
// make it blocking. The flag lives in the open file description, shared
// with the child (which sees it too); neither Start nor the trampoline
// touch it.
func TestNonblockPreserved(t *testing.T) {
	checkLeaks(t)
	n, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ln := newRawFD(t, n, "listener")
	if err := unix.Bind(ln.n, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(ln.n, 1); err != nil {
		t.Fatal(err)
	}

	spec := helperSpec(t, "report")
	spec.Files = []FD{{3, ln.n}}
	rep, _, rp := runReport(t, spec)
	requireLayout(t, rep, map[int]int{3: ln.n, reportTarget: rp.n})
	if rep.FDs[3].Flags&unix.O_NONBLOCK == 0 {
		t.Errorf("the child sees the socket blocking")
	}
	flags, err := unix.FcntlInt(uintptr(ln.n), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.O_NONBLOCK == 0 {
		t.Errorf("the supervisor's socket became blocking")
	}
}

// TestSourcesUntouched: Start leaves the caller's descriptors open and
// close-on-exec as they were.
func TestSourcesUntouched(t *testing.T) {
	checkLeaks(t)
	_, w := pipe(t)
	spec := helperSpec(t, "exit")
	spec.Files = []FD{{1, w.n}}
	wait(t, start(t, spec))
	flags, err := unix.FcntlInt(uintptr(w.n), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("source descriptor after Start: flags %#x, %v; want open and close-on-exec", flags, err)
	}
}

// TestConcurrentStarts: Starts running at once each give their app its own
// layout, and none of the others' descriptors or config sockets.
func TestConcurrentStarts(t *testing.T) {
	checkLeaks(t)
	const n = 4
	type result struct {
		rep  *helperReport
		want map[int]int
		err  error
	}
	results := make(chan result, n)
	for range n {
		r, w := pipe(t)
		spec := helperSpec(t, "report")
		spec.Files = []FD{{reportTarget, w.n}}
		go func() {
			p, err := Start(spec)
			w.Close()
			if err != nil {
				results <- result{err: err}
				return
			}
			b, _ := io.ReadAll(r)
			_, err = p.Wait()
			var rep helperReport
			if err == nil {
				err = json.Unmarshal(b, &rep)
			}
			results <- result{&rep, map[int]int{reportTarget: r.n}, err}
		}()
	}
	for range n {
		res := <-results
		if res.err != nil {
			t.Errorf("concurrent Start: %v", res.err)
			continue
		}
		requireLayout(t, res.rep, res.want)
	}
	requireNoChildren(t)
}
