// Package accounting owns the supervisor's cgroups: one per app, under a
// parent cgroup, with runtime-spec resource limits, usage statistics,
// freezing and a kill that reaches every process. It drives the kernel
// through github.com/containerd/cgroups/v3 and imports no other package of
// ours.
//
// # Basics
//
// NewManager detects how the host mounts cgroups (Mode):
//
//   - V1: one hierarchy per controller at /sys/fs/cgroup/<controller>
//     (co-mounts such as cpu,cpuacct behind symlinks are fine).
//   - Hybrid: the v1 hierarchies plus a cgroup2 hierarchy at
//     /sys/fs/cgroup/unified that tracks processes but usually has no
//     controller.
//   - V2: one cgroup2 hierarchy at /sys/fs/cgroup.
//
// A Manager places its groups under a parent cgroup ("migrate" by default)
// at the root of each hierarchy, or with Nested under the supervisor's own
// cgroup. Create makes a group and applies a *specs.LinuxResources; Load
// finds one again after a restart; Groups lists them.
//
//	m, err := accounting.NewManager("")           // parent "migrate"
//	err = m.EnterLeaf()                           // v2: leave the parent's subtree free
//	g, err := m.Create("web", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}})
//	for _, dir := range g.Paths() { /* the launcher writes the child's pid to dir/cgroup.procs */ }
//	st, err := g.Stats()
//	err = g.Destroy()                             // Kill, then Delete
//
// A group lives in every hierarchy that tracks processes or holds a
// controller accounting drives: on v1 the named systemd hierarchy and
// cpu, cpuacct, cpuset, memory, pids and freezer (whichever are mounted);
// on Hybrid those and the unified hierarchy; on V2 the one hierarchy.
// Group.Paths lists the directory in each, so that a launcher can place a
// new process wholly in the group before it runs the app.
//
// Resources: Memory.Limit and Memory.Reservation, CPU.Shares, CPU.Quota,
// CPU.Period, CPU.Cpus and CPU.Mems, Pids.Limit. Only the fields set are
// written; NoLimit removes a limit. On v1 containerd writes them as given;
// on v2 containerd's ToResources converts them (cpu.shares to cpu.weight,
// the reservation to memory.low) and accounting merges quota and period
// into cpu.max. Any other field (swap, devices, block I/O, ...), and any
// field whose controller the group lacks, fails with ErrUnsupported before
// anything is written; out-of-range values fail with ErrBadResources.
// Stats reports usage, peaks, OOM kills and limits (Unlimited when none).
//
// Freeze and Thaw return once the kernel reports the new state. Kill
// returns once the group is empty; Delete removes an empty group from
// every hierarchy and refuses (ErrNotEmpty) one that is not.
//
// # Caveats
//
// On a Hybrid host resources, statistics and freezing use the v1
// controllers, since the unified hierarchy has none of ours; the group is
// placed in the unified hierarchy too, so that systemd-style tracking sees
// it and Kill can use cgroup.kill and cgroup.events.
//
// Under cgroup v2 a cgroup that holds processes cannot enable controllers
// for its children. A supervisor living in the parent, or in a delegated
// base (Nested), calls EnterLeaf once: it moves the supervisor into
// <parent>/<leaf> and enables cpu, cpuset, memory and pids from the base
// down to the parent. Until then Create fails with ErrParentBusy if a
// controller must still be enabled. accounting never enables a controller
// above the base: at the root of a hierarchy it does so only when the
// kernel offers it there and it is not yet on.
//
// What Kill guarantees: every process of the group and of the cgroups
// below it, including processes forked during the kill and processes no
// longer in the supervisor's process tree, is sent SIGKILL, and Kill
// returns nil only when the kernel lists none. With cgroup.kill (kernel
// 5.14+, v2 or the unified hierarchy of a hybrid host) the kernel does it
// at once. Without it, Kill freezes the group before each listing, so
// nothing can fork between listing and signalling, signals through pidfds
// so that a recycled pid is never hit, thaws, and repeats. A process stuck
// in uninterruptible sleep can outlast the Manager's timeout: Kill then
// fails with ErrTimeout and a *NotEmptyError naming it. Killed processes
// still have to be reaped by their parents; a zombie is not in the group.
//
// Freeze under v1 waits by polling freezer.state (the v1 freezer sends no
// notification); under v2 it sleeps until cgroup.events changes.
//
// Delete checks that the group is empty, then removes its directories;
// a process added between the two makes the removal time out with
// ErrTimeout, leaving the group in some hierarchies, which Create
// completes and Delete finishes later. Manager.Delete removes the leaf and
// the parent once no group is left.
//
// Create of one name from two goroutines at once may succeed twice: it
// checks, then makes. The supervisor serialises the life cycle of an app.
//
// Moving a process into a cgroup (Add, or a launcher writing cgroup.procs)
// write-locks the kernel's cgroup_threadgroup_rwsem, which waits for an RCU
// grace period unless the hierarchy is mounted with favordynmods: from a
// millisecond to tens of milliseconds per hierarchy, and a hybrid host has
// eight.
//
// The Manager's timeout (WithTimeout) bounds every wait; the waits block
// the calling goroutine.
package accounting
