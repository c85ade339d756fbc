//go:build linux

package fdpass

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// describeAll makes slots numbered 0, 1, 2... for fds.
func describeAll(t testing.TB, fds ...int) []Slot {
	t.Helper()
	slots := make([]Slot, len(fds))
	for i, fd := range fds {
		d, err := Describe(fd)
		if err != nil {
			t.Fatal(err)
		}
		slots[i] = Slot{Number: i, FD: fd, Desc: d}
	}
	return slots
}

func collapse(t testing.TB, slots []Slot) Plan {
	t.Helper()
	p, err := Collapse(slots)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// groups returns, for each held descriptor, the input indices it restores.
func groups(p Plan) [][]int {
	g := make([][]int, len(p.Held))
	for i, h := range p.Restore {
		g[h] = append(g[h], i)
	}
	return g
}

func wantGroups(t *testing.T, p Plan, want ...[]int) {
	t.Helper()
	if got := groups(p); !reflect.DeepEqual(got, want) {
		t.Errorf("plan groups slots as %v, want %v", got, want)
	}
}

func TestCollapseNeverMergesSockets(t *testing.T) {
	noLeaks(t)
	l, c1, s1 := tcpPair(t, unix.AF_INET, loopback4())
	c2 := socket(t, unix.AF_INET, unix.SOCK_STREAM)
	addr, _ := unix.Getsockname(l)
	if err := unix.Connect(c2, addr); err != nil {
		t.Fatal(err)
	}
	u1, u2 := socketPair(t)
	var ua, ub int
	rawFD(t, u1, func(fd int) { ua = dup(t, fd) })
	rawFD(t, u2, func(fd int) { ub = dup(t, fd) })
	plan := collapse(t, describeAll(t, l, c1, s1, c2, ua, ub, dup(t, c1)))
	wantGroups(t, plan, []int{0}, []int{1, 6}, []int{2}, []int{3}, []int{4}, []int{5})
}

func TestCollapseFiles(t *testing.T) {
	noLeaks(t)
	path := tempFile(t, "content")
	f := open(t, path, unix.O_RDONLY)
	again := open(t, path, unix.O_RDONLY)
	d := dup(t, f)
	plan := collapse(t, describeAll(t, f, again, d))
	// Two opens never merge, even at the same offset; the dup does.
	wantGroups(t, plan, []int{0, 2}, []int{1})
	if !slices.Equal(plan.Redundant, []int{d}) {
		t.Errorf("redundant = %v, want [%d]", plan.Redundant, d)
	}
}

func TestCollapsePipesAndFIFOs(t *testing.T) {
	noLeaks(t)
	r, w := pipe(t)
	fifo := t.TempDir() + "/fifo"
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	f1 := open(t, fifo, unix.O_RDWR)
	f2 := open(t, fifo, unix.O_RDWR)
	plan := collapse(t, describeAll(t, r, w, dup(t, r), f1, f2, dup(t, f2)))
	// The two ends of a pipe share an inode but not an open file
	// description; two opens of a FIFO are two.
	wantGroups(t, plan, []int{0, 2}, []int{1}, []int{3}, []int{4, 5})
}

func TestCollapseTerminals(t *testing.T) {
	noLeaks(t)
	m1, s1, path := ptyPair(t)
	m2, _, _ := ptyPair(t)
	rw := open(t, path, unix.O_RDWR)
	ro := open(t, path, unix.O_RDONLY)
	plan := collapse(t, describeAll(t, m1, m2, s1, rw, ro, dup(t, m1)))
	// Two masters are two ptys; the slave opened twice O_RDWR is one
	// terminal; O_RDONLY cannot be restored from an O_RDWR open.
	wantGroups(t, plan, []int{0, 5}, []int{1}, []int{2, 3}, []int{4})
}

func TestCollapseCharDevices(t *testing.T) {
	noLeaks(t)
	n1 := open(t, "/dev/null", unix.O_WRONLY)
	n2 := open(t, "/dev/null", unix.O_WRONLY)
	z := open(t, "/dev/zero", unix.O_RDONLY)
	plan := collapse(t, describeAll(t, n1, z, n2))
	wantGroups(t, plan, []int{0, 2}, []int{1})
}

// TestCollapsePerOpenDevice checks that a character device with per-open
// state (here /dev/kmsg, whose read position is per open) is merged only by
// open file description.
func TestCollapsePerOpenDevice(t *testing.T) {
	noLeaks(t)
	k1, err1 := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	k2, err2 := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err1 != nil || err2 != nil {
		closeLater(t, k1, k2)
		t.Skipf("open /dev/kmsg (needs root): %v %v", err1, err2)
	}
	closeLater(t, k1, k2)
	wantGroups(t, collapse(t, describeAll(t, k1, k2, dup(t, k1))), []int{0, 2}, []int{1})
}

// TestCollapseRestoreByDup applies a plan the way resume does: each slot's
// descriptor is made by dup'ing its held descriptor into a fresh number,
// and must be the open file description the app had (kcmp).
func TestCollapseRestoreByDup(t *testing.T) {
	noLeaks(t)
	path := tempFile(t, "content")
	f := open(t, path, unix.O_RDWR)
	if _, err := unix.Seek(f, 4, 0); err != nil {
		t.Fatal(err)
	}
	r, w := pipe(t)
	app := []int{f, dup(t, f), r, w, dup(t, w)}
	received := make([]int, len(app))
	for i, fd := range app {
		received[i] = dup(t, fd) // what Recv would have installed
	}
	plan := collapse(t, describeAll(t, received...))
	if err := plan.CloseRedundant(); err != nil {
		t.Fatal(err)
	}
	for i, h := range plan.Restore {
		restored := dup(t, plan.Held[h].FD)
		if !mustSame(t, restored, app[i]) {
			t.Errorf("slot %d: restored fd %d is not the app's open file description", i, restored)
		}
	}
}

func TestCollapseIsDeterministic(t *testing.T) {
	noLeaks(t)
	path := tempFile(t, "x")
	f := open(t, path, unix.O_RDONLY)
	r, w := pipe(t)
	slots := describeAll(t, open(t, "/dev/null", unix.O_RDWR), f, r, dup(t, f), w, open(t, "/dev/null", unix.O_RDWR), dup(t, r))
	first := collapse(t, slots)
	for range 5 {
		if again := collapse(t, slots); !reflect.DeepEqual(first, again) {
			t.Fatalf("Collapse gave %+v, then %+v", first, again)
		}
	}
	wantGroups(t, first, []int{0, 5}, []int{1, 3}, []int{2, 6}, []int{4})
	if want := []int{slots[3].FD, slots[5].FD, slots[6].FD}; !slices.Equal(first.Redundant, want) {
		t.Errorf("redundant = %v, want %v in input order", first.Redundant, want)
	}
	if first.Held[1].Slot != 1 || !slices.Equal(first.Held[1].Numbers, []int{1, 3}) {
		t.Errorf("held[1] = %+v, want slot 1 restoring numbers [1 3]", first.Held[1])
	}
}

func TestCloseRedundant(t *testing.T) {
	noLeaks(t)
	path := tempFile(t, "x")
	f, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, f)
	// d1 and d2 are closed by the plan; the cleanup closes them only if
	// the test stops before that, so that it never closes a reused number.
	d1, _ := unix.FcntlInt(uintptr(f), unix.F_DUPFD_CLOEXEC, 0)
	d2, _ := unix.FcntlInt(uintptr(f), unix.F_DUPFD_CLOEXEC, 0)
	closedByPlan := false
	t.Cleanup(func() {
		if !closedByPlan {
			unix.Close(d1)
			unix.Close(d2)
		}
	})
	plan := collapse(t, describeAll(t, f, d1, d2))
	if !slices.Equal(plan.Redundant, []int{d1, d2}) {
		t.Fatalf("redundant = %v, want [%d %d]", plan.Redundant, d1, d2)
	}
	closedByPlan = true
	if err := plan.CloseRedundant(); err != nil {
		t.Fatal(err)
	}
	if !isOpen(f) || isOpen(d1) || isOpen(d2) {
		t.Errorf("after CloseRedundant: held open %v, redundant open %v %v", isOpen(f), isOpen(d1), isOpen(d2))
	}
	if err := plan.CloseRedundant(); !errors.Is(err, ErrBadFD) {
		t.Errorf("second CloseRedundant = %v, want ErrBadFD for the already closed descriptors", err)
	}
}

func TestCollapseBadInput(t *testing.T) {
	noLeaks(t)
	r, w := pipe(t)
	null := open(t, "/dev/null", unix.O_RDONLY)
	good := describeAll(t, r, w, null)
	edit := func(f func(s []Slot) []Slot) []Slot { return f(slices.Clone(good)) }
	tests := []struct {
		name  string
		slots []Slot
		want  error
	}{
		{"repeated number", edit(func(s []Slot) []Slot { s[1].Number = 0; return s }), ErrBadSlot},
		{"repeated fd", edit(func(s []Slot) []Slot { s[1] = s[0]; s[1].Number = 1; return s }), ErrBadSlot},
		{"negative number", edit(func(s []Slot) []Slot { s[2].Number = -1; return s }), ErrBadSlot},
		{"negative fd", edit(func(s []Slot) []Slot { s[2].FD = -1; return s }), ErrBadSlot},
		{"description of another fd", edit(func(s []Slot) []Slot { s[2].Desc = s[0].Desc; return s }), ErrBadSlot},
		{"closed fd", edit(func(s []Slot) []Slot {
			closed, err := unix.FcntlInt(uintptr(r), unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			d := describeAll(t, closed)[0]
			unix.Close(closed)
			return append(s, Slot{Number: 3, FD: closed, Desc: d.Desc})
		}), ErrBadFD},
	}
	for _, tt := range tests {
		p, err := Collapse(tt.slots)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Collapse = %v, want %v", tt.name, err, tt.want)
		}
		if !reflect.DeepEqual(p, Plan{}) {
			t.Errorf("%s: Collapse returned a plan with its error: %+v", tt.name, p)
		}
	}
	for _, fd := range []int{r, w, null} {
		if !isOpen(fd) {
			t.Errorf("Collapse closed input fd %d", fd)
		}
	}
}

func TestCollapseEmpty(t *testing.T) {
	p := collapse(t, nil)
	if p.Before() != 0 || p.After() != 0 || len(p.Redundant) != 0 {
		t.Errorf("Collapse(nil) = %+v", p)
	}
}

// TestCollapseWithoutKcmp checks the fallback gives the same plan for
// descriptors it can tell apart.
func TestCollapseWithoutKcmp(t *testing.T) {
	noLeaks(t)
	path := tempFile(t, "content")
	f := open(t, path, unix.O_RDONLY)
	moved := open(t, path, unix.O_RDONLY)
	if _, err := unix.Seek(moved, 1, 0); err != nil {
		t.Fatal(err)
	}
	r, w := pipe(t)
	slots := describeAll(t, f, moved, dup(t, f), r, w, dup(t, w))
	withKcmp := collapse(t, slots)
	withoutKcmp(t, unix.ENOSYS)
	if fallback := collapse(t, slots); !reflect.DeepEqual(withKcmp, fallback) {
		t.Errorf("fallback plan %+v differs from kcmp plan %+v", fallback, withKcmp)
	}
}
