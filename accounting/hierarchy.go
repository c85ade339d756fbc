//go:build linux

package accounting

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/cgroups/v3/cgroup1"
	"golang.org/x/sys/unix"
)

// v1Sub is one cgroup v1 controller (or the named systemd hierarchy) a
// Manager drives, as containerd's cgroup1 package sees it.
type v1Sub struct {
	sub   cgroup1.Subsystem
	key   string // its name in /proc/self/cgroup: "memory", "name=systemd"
	mount string // the hierarchy's real mount point; co-mounted controllers share it
	// base is where the parent hangs: "/" at the hierarchy's root, or the
	// supervisor's own cgroup when nested.
	base string
	// parent is the parent cgroup's path inside the hierarchy: "/migrate".
	parent string
}

// unifiedH is the cgroup2 hierarchy: the whole of V2, the process-tracking
// side of Hybrid.
type unifiedH struct {
	mount  string // real mount point
	base   string // as in v1Sub
	parent string // as in v1Sub
}

// v1Known lists the v1 hierarchies a group joins: the controllers accounting
// drives (cpu, cpuacct, cpuset, memory, pids, freezer) and the named systemd
// hierarchy that tracks processes. An app stays in the supervisor's cgroup
// of every other hierarchy (blkio, devices, net_cls, ...), as a systemd unit
// without such settings does.
var v1Known = []struct {
	name cgroup1.Name
	key  string
	make func(root string) cgroup1.Subsystem
}{
	{"systemd", "name=systemd", func(r string) cgroup1.Subsystem { return cgroup1.NewNamed(r, "systemd") }},
	{cgroup1.Freezer, "freezer", func(r string) cgroup1.Subsystem { return cgroup1.NewFreezer(r) }},
	{cgroup1.Pids, "pids", func(r string) cgroup1.Subsystem { return cgroup1.NewPids(r) }},
	{cgroup1.Cpuset, "cpuset", func(r string) cgroup1.Subsystem { return cgroup1.NewCpuset(r) }},
	{cgroup1.Cpu, "cpu", func(r string) cgroup1.Subsystem { return cgroup1.NewCpu(r) }},
	{cgroup1.Cpuacct, "cpuacct", func(r string) cgroup1.Subsystem { return cgroup1.NewCpuacct(r) }},
	{cgroup1.Memory, "memory", newMemory},
}

// newMemory builds containerd's memory controller so that Stat does not fail
// on kernels without swap accounting or kernel-memory files.
func newMemory(root string) cgroup1.Subsystem {
	kmem := filepath.Join(root, string(cgroup1.Memory), "memory.kmem.usage_in_bytes")
	if _, err := os.Stat(kmem); err != nil {
		return cgroup1.NewMemory(root, cgroup1.OptionalSwap(), cgroup1.IgnoreModules("kmem", "kmem.tcp"))
	}
	return cgroup1.NewMemory(root, cgroup1.OptionalSwap())
}

// discoverV1 finds the v1 hierarchies of v1Known mounted as
// root/<controller> (a symlink to a co-mount such as cpu,cpuacct counts),
// the layout systemd and containerd use.
func discoverV1(root string) ([]v1Sub, error) {
	var subs []v1Sub
	for _, k := range v1Known {
		dir := filepath.Join(root, string(k.name))
		if magic, err := fsMagic(dir); err != nil || magic != unix.CGROUP_SUPER_MAGIC {
			continue
		}
		mount, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return nil, fmt.Errorf("resolve v1 hierarchy %s: %w", dir, err)
		}
		subs = append(subs, v1Sub{sub: k.make(root), key: k.key, mount: mount})
	}
	if len(subs) == 0 {
		return nil, fmt.Errorf("find v1 controllers under %s: %w", root, ErrUnavailable)
	}
	return subs, nil
}

// discoverUnified finds the cgroup2 mount of a V2 or Hybrid root.
func discoverUnified(root string, mode Mode) (*unifiedH, error) {
	dir := root
	if mode == Hybrid {
		dir = filepath.Join(root, "unified")
	}
	mount, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve unified hierarchy %s: %w", dir, err)
	}
	return &unifiedH{mount: mount}, nil
}

// v1Mounts returns the distinct v1 mount points, in discovery order.
func v1Mounts(subs []v1Sub) []v1Sub {
	var out []v1Sub
	seen := make(map[string]bool)
	for _, s := range subs {
		if !seen[s.mount] {
			seen[s.mount] = true
			out = append(out, s)
		}
	}
	return out
}

// hasV1 tells whether the controller n is among subs.
func hasV1(subs []v1Sub, n cgroup1.Name) bool {
	return findV1(subs, n) != nil
}

func findV1(subs []v1Sub, n cgroup1.Name) *v1Sub {
	for i := range subs {
		if subs[i].sub.Name() == n {
			return &subs[i]
		}
	}
	return nil
}
