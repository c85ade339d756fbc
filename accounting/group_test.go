//go:build linux

package accounting

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/containerd/cgroups/v3"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A process written into every directory of Paths, as a launcher does, is
// in the group in every hierarchy the Manager uses: Paths is complete and
// each cgroup.procs in it is writable. Procs then lists it.
func TestPathsPlaceProcessEverywhere(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		g := e.create("app")
		if want := len(v1Mounts(e.m.v1)) + btoi(e.m.unified != nil); len(g.Paths()) != want {
			t.Fatalf("Paths() = %v, want %d directories", g.Paths(), want)
		}
		c := e.start("echo")
		for _, dir := range g.Paths() {
			if err := writeCgroupFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(c.pid())); err != nil {
				t.Fatalf("launcher-style placement: %v", err)
			}
		}
		assertMember(t, e.m, c.pid(), "app")
		procs, err := g.Procs()
		if err != nil || !slices.Equal(procs, []int{c.pid()}) {
			t.Fatalf("Procs() = %v, %v; want [%d]", procs, err, c.pid())
		}
	})
}

// Add puts a process in the group in every hierarchy.
func TestAdd(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		g := e.create("app")
		c := e.start("echo")
		if err := g.Add(c.pid()); err != nil {
			t.Fatal(err)
		}
		assertMember(t, e.m, c.pid(), "app")
		for _, pid := range []int{0, -1} {
			if err := g.Add(pid); !errors.Is(err, ErrBadPid) {
				t.Errorf("Add(%d) = %v, want ErrBadPid", pid, err)
			}
		}
	})
}

// assertMember checks /proc/PID/cgroup: in each hierarchy the Manager uses
// the process is in <parent>/<name>.
func assertMember(t *testing.T, m *Manager, pid int, name string) {
	t.Helper()
	v1, unified, err := cgroups.ParseCgroupFileUnified(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range m.v1 {
		if got, want := v1[s.key], path.Join(s.parent, name); got != want {
			t.Errorf("pid %d in %s: %q, want %q", pid, s.key, got, want)
		}
	}
	if u := m.unified; u != nil {
		if want := path.Join(u.parent, name); unified != want {
			t.Errorf("pid %d in the unified hierarchy: %q, want %q", pid, unified, want)
		}
	}
}

// Groups lists what Create made; Load finds it again with the same Paths.
func TestCreateLoadGroups(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		if names, err := e.m.Groups(); err != nil || len(names) != 0 {
			t.Fatalf("Groups() before Create = %v, %v", names, err)
		}
		b, a := e.create("b"), e.create("a")
		names, err := e.m.Groups()
		if err != nil || !slices.Equal(names, []string{"a", "b"}) {
			t.Fatalf("Groups() = %v, %v; want [a b]", names, err)
		}
		g, err := e.m.Load("a")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(g.Paths(), a.Paths()) || slices.Equal(a.Paths(), b.Paths()) {
			t.Errorf("Load(a).Paths() = %v, Create: a %v, b %v", g.Paths(), a.Paths(), b.Paths())
		}
		if _, err := e.m.Create("a", nil); !errors.Is(err, ErrExists) {
			t.Errorf("second Create = %v, want ErrExists", err)
		}
	})
}

// Bad names fail with ErrBadName and leave nothing behind.
func TestCreateBadName(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"", ".", "..", "a/b", "../x", "a b", "a\nb", DefaultLeaf, "cgroup.procs", "tasks"} {
		if _, err := e.m.Create(name, nil); !errors.Is(err, ErrBadName) {
			t.Errorf("Create(%q) = %v, want ErrBadName", name, err)
		}
		if _, err := e.m.Load(name); !errors.Is(err, ErrBadName) && !errors.Is(err, ErrNotFound) {
			t.Errorf("Load(%q) = %v, want ErrBadName or ErrNotFound", name, err)
		}
	}
	if names, err := e.m.Groups(); err != nil || len(names) != 0 {
		t.Errorf("Groups() after bad names = %v, %v", names, err)
	}
}

// Resources the group cannot have fail before anything is made.
func TestCreateRefusesResourcesAndUndoes(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		zero, neg := int64(0), int64(-5)
		cases := []struct {
			res  *specs.LinuxResources
			want error
		}{
			{&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &zero}}, ErrBadResources},
			{&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &neg}}, ErrBadResources},
			{&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}, ErrUnsupported},
		}
		limit := int64(64 << 20)
		memory := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
		if err := e.m.prepareParent(); err != nil {
			t.Fatal(err)
		}
		if have, _ := e.m.controllers(); !have["memory"] {
			cases = append(cases, struct {
				res  *specs.LinuxResources
				want error
			}{memory, ErrUnsupported})
		}
		for _, c := range cases {
			if _, err := e.m.Create("app", c.res); !errors.Is(err, c.want) {
				t.Errorf("Create(%+v) = %v, want %v", c.res, err, c.want)
			}
			for _, dir := range e.m.dirsOf("app") {
				if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("failed Create left %s (%v)", dir, err)
				}
			}
		}
	})
}

// A group missing from one hierarchy (a crash half-way) is not loadable
// but is listed, and Create completes it.
func TestLoadIncompleteAndRepair(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Load("app"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of unknown group = %v, want ErrNotFound", err)
	}
	g := e.create("app")
	lost := g.Paths()[len(g.Paths())-1]
	if err := os.Remove(lost); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Load("app"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of incomplete group = %v, want ErrNotFound", err)
	}
	if names, _ := e.m.Groups(); !slices.Equal(names, []string{"app"}) {
		t.Fatalf("Groups() = %v, want [app]", names)
	}
	if _, err := e.m.Create("app", nil); err != nil {
		t.Fatalf("Create to repair: %v", err)
	}
	if _, err := os.Stat(lost); err != nil {
		t.Fatalf("repair did not restore %s: %v", lost, err)
	}
	if _, err := e.m.Load("app"); err != nil {
		t.Fatal(err)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
