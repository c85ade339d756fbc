//go:build linux

package accounting

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeTree imitates the cgroup v2 rules enable relies on: a directory's
// cgroup.controllers is its parent's cgroup.subtree_control (the root's is
// given), "+c" needs c available, and a busy directory refuses with EBUSY.
type fakeTree struct {
	root   string
	offer  string              // the root's cgroup.controllers
	on     map[string][]string // dir -> subtree_control
	busy   map[string]bool
	writes []string
}

func (f *fakeTree) seam() subtree {
	return subtree{read: f.read, write: f.write}
}

func (f *fakeTree) read(file string) ([]byte, error) {
	dir, name := filepath.Split(file)
	dir = filepath.Clean(dir)
	switch {
	case name == "cgroup.subtree_control":
		return []byte(strings.Join(f.on[dir], " ")), nil
	case dir == f.root:
		return []byte(f.offer), nil
	}
	return []byte(strings.Join(f.on[filepath.Dir(dir)], " ")), nil
}

func (f *fakeTree) write(file, data string) error {
	dir := filepath.Dir(file)
	f.writes = append(f.writes, dir+" "+data)
	avail, _ := f.read(filepath.Join(dir, "cgroup.controllers"))
	c := strings.TrimPrefix(data, "+")
	switch {
	case !slices.Contains(strings.Fields(string(avail)), c):
		return unix.ENOENT
	case f.busy[dir]:
		return unix.EBUSY
	}
	f.on[dir] = append(f.on[dir], c)
	return nil
}

// enable writes top-down, only what is offered and not yet on, and turns
// EBUSY into ErrParentBusy naming the directory.
func TestSubtreeEnable(t *testing.T) {
	f := &fakeTree{root: "/cg", offer: "cpu io memory pids", on: map[string][]string{"/cg": {"memory"}}, busy: map[string]bool{}}
	dirs := []string{"/cg", "/cg/a", "/cg/a/migrate"}
	if err := f.seam().enable(dirs, managedControllers); err != nil {
		t.Fatal(err)
	}
	want := []string{"/cg +cpu", "/cg +pids", "/cg/a +cpu", "/cg/a +memory", "/cg/a +pids", "/cg/a/migrate +cpu", "/cg/a/migrate +memory", "/cg/a/migrate +pids"}
	if !slices.Equal(f.writes, want) {
		t.Errorf("writes %q, want %q", f.writes, want)
	}
	f.writes = nil
	if err := f.seam().enable(dirs, managedControllers); err != nil || len(f.writes) != 0 {
		t.Errorf("second enable: %v, writes %q; want nothing written", err, f.writes)
	}
	g := &fakeTree{root: "/cg", offer: "memory", on: map[string][]string{}, busy: map[string]bool{"/cg/migrate": true}}
	err := g.seam().enable([]string{"/cg", "/cg/migrate"}, managedControllers)
	if !errors.Is(err, ErrParentBusy) || !strings.Contains(err.Error(), "/cg/migrate") {
		t.Errorf("enable under a busy parent = %v, want ErrParentBusy naming /cg/migrate", err)
	}
}

// chain runs from the base down to the parent.
func TestChain(t *testing.T) {
	for _, c := range []struct {
		base, parent string
		want         []string
	}{
		{"/", "/migrate", []string{"/m", "/m/migrate"}},
		{"/", "/a/b", []string{"/m", "/m/a", "/m/a/b"}},
		{"/svc", "/svc/migrate", []string{"/m/svc", "/m/svc/migrate"}},
		{"/svc", "/svc", []string{"/m/svc"}},
	} {
		u := &unifiedH{mount: "/m", base: c.base, parent: c.parent}
		if got := u.chain(); !slices.Equal(got, c.want) {
			t.Errorf("chain(%s, %s) = %q, want %q", c.base, c.parent, got, c.want)
		}
	}
}

// EnterLeaf (here in a helper, on the unified hierarchy as a V2 root)
// moves the process into <parent>/<leaf>; the leaf is not a group, and the
// parent cannot be removed while the supervisor sits in it.
func TestEnterLeaf(t *testing.T) {
	root := DefaultRoot + "/unified"
	e := newEnv(t, WithRoot(root))
	c := e.start("enterleaf", "ACCT_PARENT="+e.parent, "ACCT_ROOT="+root)
	if got, want := c.line(t), "cgroup "+path.Join("/", e.parent, DefaultLeaf); got != want {
		t.Fatalf("helper after EnterLeaf: %q, want %q", got, want)
	}
	e.create("app")
	if names, err := e.m.Groups(); err != nil || !slices.Equal(names, []string{"app"}) {
		t.Fatalf("Groups() = %v, %v; want [app] without the leaf", names, err)
	}
	if _, err := e.m.Create(DefaultLeaf, nil); !errors.Is(err, ErrBadName) {
		t.Errorf("Create of the leaf's name = %v, want ErrBadName", err)
	}
	g, _ := e.m.Load("app")
	if err := g.Delete(); err != nil {
		t.Fatal(err)
	}
	var ne *NotEmptyError
	if err := e.m.Delete(); !errors.As(err, &ne) || !slices.Equal(ne.Pids, []int{c.pid()}) {
		t.Fatalf("Manager.Delete with the supervisor in the leaf = %v, want a NotEmptyError naming %d", err, c.pid())
	}
	c.wait(t)
	if err := e.m.Delete(); err != nil {
		t.Fatal(err)
	}
}

// On V1 and Hybrid EnterLeaf leaves the caller where it is.
func TestEnterLeafNoOpOutsideV2(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		if e.m.Mode() == V2 {
			t.Skip("V2 moves the caller: TestEnterLeaf")
		}
		before, _ := os.ReadFile("/proc/self/cgroup")
		if err := e.m.EnterLeaf(); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.ReadFile("/proc/self/cgroup"); string(after) != string(before) {
			t.Errorf("EnterLeaf on %v moved the caller:\n%s\nto\n%s", e.m.Mode(), before, after)
		}
	})
}

// A Nested Manager, made by a process sitting in a group, puts its parent
// inside that group in every hierarchy.
func TestNestedManagerInsideGroup(t *testing.T) {
	e := newEnv(t)
	outer := e.create("outer")
	c := e.start("nested", "ACCT_PARENT=inner")
	if err := outer.Add(c.pid()); err != nil {
		t.Fatal(err)
	}
	c.send(t, "go")
	got, ok := strings.CutPrefix(c.line(t), "paths ")
	if !ok {
		t.Fatalf("nested helper failed: %s", got)
	}
	var want []string
	for _, dir := range outer.Paths() {
		want = append(want, filepath.Join(dir, "inner", "app"))
	}
	if paths := strings.Split(got, ";"); !slices.Equal(paths, want) {
		t.Errorf("nested group paths\n%q\nwant\n%q", paths, want)
	}
	if line := c.line(t); line != "done" {
		t.Fatalf("nested helper: %s", line)
	}
	for _, dir := range outer.Paths() {
		if _, err := os.Lstat(filepath.Join(dir, "inner")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("nested Manager.Delete left %s: %v", filepath.Join(dir, "inner"), err)
		}
	}
}

// nestedPlace puts the parent under the own cgroup, relative to the
// mount's root, and does not nest again inside its own leaf.
func TestNestedPlace(t *testing.T) {
	for _, c := range []struct {
		own, root, parent string
		base, path        string
		err               bool
	}{
		{"/", "/", "migrate", "/", "/migrate", false},
		{"/system.slice/d.service", "/", "migrate", "/system.slice/d.service", "/system.slice/d.service/migrate", false},
		{"/system.slice/d.service/migrate/supervisor", "/", "migrate", "/system.slice/d.service", "/system.slice/d.service/migrate", false},
		{"/migrate/supervisor", "/", "migrate", "/", "/migrate", false},
		{"/d.service/supervisor", "/", ".", "/d.service", "/d.service", false},
		{"/d.service", "/", ".", "/d.service", "/d.service", false},
		{"/x/migrate/supervisorx", "/", "migrate", "/x/migrate/supervisorx", "/x/migrate/supervisorx/migrate", false},
		{"/lxc/c1/app", "/lxc/c1", "migrate", "/app", "/app/migrate", false},
		{"/other", "/lxc/c1", "migrate", "", "", true},
		{"", "/", "migrate", "", "", true},
		{"relative", "/", "migrate", "", "", true},
		{"/a", "", "migrate", "", "", true},
	} {
		base, p, err := nestedPlace(c.own, c.root, c.parent, DefaultLeaf)
		if (err != nil) != c.err || base != c.base || p != c.path {
			t.Errorf("nestedPlace(%q, %q, %q) = %q, %q, %v; want %q, %q, error %v", c.own, c.root, c.parent, base, p, err, c.base, c.path, c.err)
		}
	}
}
