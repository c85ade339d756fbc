//go:build linux

package accounting

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func memLimit(v int64) *specs.LinuxResources {
	return &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &v}}
}

// createOrUnsupported creates the group with res when the Manager has the
// controller; otherwise it checks that Create refuses with ErrUnsupported
// and reports false.
func createOrUnsupported(t *testing.T, e *env, controller string, res *specs.LinuxResources) (*Group, bool) {
	t.Helper()
	g, err := e.m.Create("app", res)
	have, herr := e.m.controllers() // after Create: on v2 it reads the parent Create made
	if herr != nil {
		t.Fatal(herr)
	}
	if !have[controller] {
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("Create without the %s controller = %v, want ErrUnsupported", controller, err)
		}
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return g, true
}

// A child that touches 128 MiB in a group limited to 32 MiB is killed by
// the OOM killer, and the group's counters say so.
func TestMemoryLimitEnforced(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		const limit = 32 << 20
		g, ok := createOrUnsupported(t, e, "memory", memLimit(limit))
		if !ok {
			return
		}
		c := e.start("alloc", "ALLOC_MB=128")
		if err := g.Add(c.pid()); err != nil {
			t.Fatal(err)
		}
		c.send(t, "go")
		ws := c.wait(t).Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("child touching 128 MiB under a 32 MiB limit: %v, want killed by SIGKILL", ws)
		}
		st, err := g.Stats()
		if err != nil {
			t.Fatal(err)
		}
		// The kernel may force a few charges past the limit (allocations
		// that must not fail, a dying task), so the peak gets some slack.
		const slack = 1 << 20
		if st.OOMKills < 1 || st.MemoryFailCount < 1 || st.MemoryLimit != limit || st.MemoryPeak < limit/2 || st.MemoryPeak > limit+slack {
			t.Errorf("after the OOM kill: %+v; want OOMKills ≥ 1, MemoryFailCount ≥ 1, limit %d and a peak near it", st, limit)
		}
	})
}

// With pids.max a few above what the group holds, a fork beyond it fails
// with EAGAIN and the group sits exactly at the limit.
func TestPidsLimitEnforced(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		g, ok := createOrUnsupported(t, e, "pids", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(NoLimit)}})
		if !ok {
			return
		}
		c := e.start("forker", "GOMAXPROCS=1")
		if err := g.Add(c.pid()); err != nil {
			t.Fatal(err)
		}
		before, err := g.Stats()
		if err != nil {
			t.Fatal(err)
		}
		limit := int64(before.PidsCurrent) + 4
		if err := g.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}); err != nil {
			t.Fatal(err)
		}
		c.send(t, "go")
		var n int
		var why string
		if _, err := fmt.Sscanf(c.line(t), "started %d %s", &n, &why); err != nil {
			t.Fatal(err)
		}
		after, err := g.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if why != "EAGAIN" || n < 1 || n > 4 || after.PidsCurrent != uint64(limit) || after.PidsLimit != uint64(limit) {
			t.Errorf("forks under pids.max %d from %d tasks: %d started, then %s; now %d of %d tasks; want 1..4, EAGAIN, at the limit",
				limit, before.PidsCurrent, n, why, after.PidsCurrent, after.PidsLimit)
		}
	})
}

// CPU shares, quota and period land in the kernel's files, converted on
// v2; a quota or period given alone keeps the other; NoLimit lifts the
// quota.
func TestCPUSettingsWritten(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		res := &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(200000)}}
		g, ok := createOrUnsupported(t, e, "cpu", res)
		if !ok {
			return
		}
		check := func(quota string, period uint64) {
			t.Helper()
			if e.m.mode == V2 {
				dir := g.UnifiedPath()
				want := fmt.Sprint(cgroup2.ConvertCPUSharesToCgroupV2Value(512))
				expectFile(t, filepath.Join(dir, "cpu.weight"), want)
				expectFile(t, filepath.Join(dir, "cpu.max"), fmt.Sprintf("%s %d", strings.Replace(quota, "-1", "max", 1), period))
				return
			}
			s := findV1(e.m.v1, cgroup1.Cpu)
			dir := filepath.Join(s.mount, s.parent, g.Name())
			expectFile(t, filepath.Join(dir, "cpu.shares"), "512")
			expectFile(t, filepath.Join(dir, "cpu.cfs_quota_us"), quota)
			expectFile(t, filepath.Join(dir, "cpu.cfs_period_us"), fmt.Sprint(period))
		}
		check("50000", 200000)
		update(t, g, &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(30000)}})
		check("30000", 200000)
		update(t, g, &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(100000)}})
		check("30000", 100000)
		update(t, g, &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(NoLimit)}})
		check("-1", 100000)
	})
}

// Memory and pids limits read back through Stats; NoLimit lifts them.
func TestLimitsReadBackAndLift(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		res := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(256 << 20), Reservation: i64(64 << 20)}}
		g, ok := createOrUnsupported(t, e, "memory", res)
		if !ok {
			return
		}
		if have, _ := e.m.controllers(); have["pids"] {
			update(t, g, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(100)}})
		}
		st := stats(t, g)
		if st.MemoryLimit != 256<<20 || (st.Have.Has(PidsController) && st.PidsLimit != 100) {
			t.Errorf("limits read back as %+v", st)
		}
		update(t, g, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(NoLimit)}})
		if st.Have.Has(PidsController) {
			update(t, g, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(NoLimit)}})
		}
		st = stats(t, g)
		if st.MemoryLimit != Unlimited || (st.Have.Has(PidsController) && st.PidsLimit != Unlimited) {
			t.Errorf("lifted limits read back as %+v, want Unlimited", st)
		}
	})
}

// A bad update changes nothing; an update of a deleted group is
// ErrNotFound.
func TestUpdateRefuses(t *testing.T) {
	e := newEnv(t)
	g, ok := createOrUnsupported(t, e, "memory", memLimit(64<<20))
	if !ok {
		return
	}
	for _, res := range []*specs.LinuxResources{
		memLimit(0),
		{CPU: &specs.LinuxCPU{Shares: u64(1)}},
		{CPU: &specs.LinuxCPU{Period: u64(500)}},
		{CPU: &specs.LinuxCPU{Cpus: "0-a"}},
		{Memory: &specs.LinuxMemory{Limit: i64(128 << 20), Swappiness: u64(10)}},
	} {
		if err := g.Update(res); !errors.Is(err, ErrBadResources) && !errors.Is(err, ErrUnsupported) {
			t.Errorf("Update(%+v) = %v, want ErrBadResources or ErrUnsupported", res, err)
		}
	}
	if st := stats(t, g); st.MemoryLimit != 64<<20 {
		t.Errorf("memory limit after refused updates = %d, want %d", st.MemoryLimit, 64<<20)
	}
	if err := g.Delete(); err != nil {
		t.Fatal(err)
	}
	if err := g.Update(memLimit(1 << 30)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update of a deleted group = %v, want ErrNotFound", err)
	}
}

func update(t *testing.T, g *Group, res *specs.LinuxResources) {
	t.Helper()
	if err := g.Update(res); err != nil {
		t.Fatal(err)
	}
}

func stats(t *testing.T, g *Group) Stats {
	t.Helper()
	st, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func expectFile(t *testing.T, file, want string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != want {
		t.Errorf("%s = %q, want %q", file, got, want)
	}
}
