//go:build linux

package accounting

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Group is one app's cgroup, present in every hierarchy the Manager uses.
type Group struct {
	m    *Manager
	name string
	dirs []string         // see Paths
	v1   cgroup1.Cgroup   // the v1 controllers; nil on V2
	v2   *cgroup2.Manager // the unified directory; nil on V1
}

// Create makes the group name under the parent in every hierarchy and
// applies res (nil applies nothing). Invalid names and resources, and
// resources whose controller the group would not have, fail before
// anything is written, with ErrBadName, ErrBadResources or ErrUnsupported.
// A group present in every hierarchy fails with ErrExists; one present in
// only some (a crash during Create or Delete) is completed. On failure the
// directories Create made are removed again.
func (m *Manager) Create(name string, res *specs.LinuxResources) (*Group, error) {
	g, err := m.create(name, res)
	if err != nil {
		return nil, fmt.Errorf("create group %q: %w", name, err)
	}
	return g, nil
}

func (m *Manager) create(name string, res *specs.LinuxResources) (*Group, error) {
	if err := m.checkGroupName(name); err != nil {
		return nil, err
	}
	if err := checkResources(res); err != nil {
		return nil, err
	}
	missing, err := missingDirs(m.dirsOf(name))
	if err != nil {
		return nil, err
	}
	if len(missing) == 0 {
		return nil, ErrExists
	}
	if err := m.prepareParent(); err != nil {
		return nil, err
	}
	if err := m.require(res); err != nil {
		return nil, err
	}
	g, err := m.build(name)
	if err == nil {
		err = g.apply(res)
	}
	if err != nil {
		return nil, errors.Join(err, removeDirs(missing))
	}
	return g, nil
}

// Load returns the existing group name. It fails with ErrNotFound when
// the group is missing from any hierarchy; Create completes such a group.
func (m *Manager) Load(name string) (*Group, error) {
	g, err := m.load(name)
	if err != nil {
		return nil, fmt.Errorf("load group %q: %w", name, err)
	}
	return g, nil
}

func (m *Manager) load(name string) (*Group, error) {
	if err := m.checkGroupName(name); err != nil {
		return nil, err
	}
	dirs := m.dirsOf(name)
	missing, err := missingDirs(dirs)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: no directory %v", ErrNotFound, missing)
	}
	g := &Group{m: m, name: name, dirs: dirs}
	if m.v1 != nil {
		if g.v1, err = cgroup1.Load(m.v1Path(name), m.v1Opts()...); err != nil {
			return nil, fmt.Errorf("load v1 controllers: %w", err)
		}
	}
	if u := m.unified; u != nil {
		if g.v2, err = cgroup2.Load(path.Join(u.parent, name), cgroup2.WithMountpoint(u.mount)); err != nil {
			return nil, fmt.Errorf("load unified cgroup: %w", err)
		}
	}
	return g, nil
}

// build makes the group's directories (containerd's cgroup1.New creates
// the v1 ones, copying cpuset.cpus and cpuset.mems from the parent) and
// returns the Group.
func (m *Manager) build(name string) (*Group, error) {
	g := &Group{m: m, name: name, dirs: m.dirsOf(name)}
	if m.v1 != nil {
		cg, err := cgroup1.New(m.v1Path(name), &specs.LinuxResources{}, m.v1Opts()...)
		if err != nil {
			return nil, fmt.Errorf("make v1 cgroups: %w", err)
		}
		g.v1 = cg
	}
	if u := m.unified; u != nil {
		dir := filepath.Join(u.mount, u.parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("make unified cgroup: %w", err)
		}
		mgr, err := cgroup2.Load(path.Join(u.parent, name), cgroup2.WithMountpoint(u.mount))
		if err != nil {
			return nil, fmt.Errorf("load unified cgroup: %w", err)
		}
		g.v2 = mgr
	}
	return g, nil
}

// Name returns the group's name.
func (g *Group) Name() string { return g.name }

// Paths returns the group's directory in every hierarchy it lives in: one
// per v1 hierarchy (co-mounted controllers such as cpu,cpuacct share one
// directory, listed once) and, on V2 and Hybrid, the unified one, last.
// Each has a writable cgroup.procs: writing a pid into every one of them
// puts the process wholly in the group, which is what Add does and what a
// launcher does for a child before it runs the app. The slice is a copy.
func (g *Group) Paths() []string {
	return append([]string(nil), g.dirs...)
}

// UnifiedPath returns the group's cgroup2 directory, or "" on V1. On V2 it
// is the whole group, so a directory descriptor of it suits
// clone3(CLONE_INTO_CGROUP); on Hybrid it is only the tracking part and the
// v1 directories of Paths must be written too.
func (g *Group) UnifiedPath() string {
	if g.v2 == nil {
		return ""
	}
	return g.dirs[len(g.dirs)-1]
}

// Procs returns every process in the group and in cgroups below it, in
// any hierarchy, ascending.
func (g *Group) Procs() ([]int, error) {
	pids, err := procsUnder(g.dirs)
	if err != nil {
		return nil, fmt.Errorf("list processes of group %q: %w", g.name, err)
	}
	return pids, nil
}

// Add moves the process pid (all its threads) into the group in every
// hierarchy, v1 first.
func (g *Group) Add(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("add pid %d to group %q: %w", pid, g.name, ErrBadPid)
	}
	if g.v1 != nil {
		if err := g.v1.AddProc(uint64(pid)); err != nil {
			return fmt.Errorf("add pid %d to group %q: %w", pid, g.name, notFound(err))
		}
	}
	if g.v2 != nil {
		if err := g.v2.AddProc(uint64(pid)); err != nil {
			return fmt.Errorf("add pid %d to group %q: %w", pid, g.name, notFound(err))
		}
	}
	return nil
}

func (m *Manager) checkGroupName(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if name == m.cfg.leaf {
		return fmt.Errorf("%w %q: reserved for the supervisor's leaf", ErrBadName, name)
	}
	return nil
}

// v1Path tells containerd where the group lives in each v1 hierarchy.
func (m *Manager) v1Path(name string) cgroup1.Path {
	return func(n cgroup1.Name) (string, error) {
		if s := findV1(m.v1, n); s != nil {
			return path.Join(s.parent, name), nil
		}
		return "", cgroup1.ErrControllerNotActive
	}
}

func (m *Manager) v1Opts() []cgroup1.InitOpts {
	subs := make([]cgroup1.Subsystem, len(m.v1))
	for i, s := range m.v1 {
		subs[i] = s.sub
	}
	return []cgroup1.InitOpts{
		cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) { return subs, nil }),
		func(c *cgroup1.InitConfig) error { c.InitCheck = cgroup1.AllowAny; return nil },
	}
}

// missingDirs returns the dirs that do not exist. A dir that exists but is
// not a directory is a control file of the parent: the name is unusable.
func missingDirs(dirs []string) ([]string, error) {
	var missing []string
	for _, d := range dirs {
		fi, err := os.Lstat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, d)
		case err != nil:
			return nil, err
		case !fi.IsDir():
			return nil, fmt.Errorf("%w: %s is a cgroup control file", ErrBadName, d)
		}
	}
	return missing, nil
}

// removeDirs removes the (empty) directories Create made. It only ever
// rmdirs: a name that turned out to be a control file stays untouched.
func removeDirs(dirs []string) error {
	var errs []error
	for _, d := range dirs {
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			errs = append(errs, fmt.Errorf("undo create: %w", &os.PathError{Op: "rmdir", Path: d, Err: err}))
		}
	}
	return errors.Join(errs...)
}

// notFound marks a missing cgroup file as ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
