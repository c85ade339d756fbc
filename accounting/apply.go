//go:build linux

package accounting

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultPeriod is the kernel's CFS period, in µs, for v1 and v2.
const defaultPeriod = 100000

// Update applies res to the group; only the fields set change. What
// Create says about invalid and unsupported resources holds here too. The
// supported fields are Memory.Limit and Memory.Reservation (v2:
// memory.max, memory.low), CPU.Shares (v2: cpu.weight, converted by
// containerd), CPU.Quota and CPU.Period (v2: cpu.max, keeping whichever
// of the two is not given), CPU.Cpus and CPU.Mems, and Pids.Limit; NoLimit
// removes a limit.
func (g *Group) Update(res *specs.LinuxResources) error {
	if err := g.update(res); err != nil {
		return fmt.Errorf("update group %q: %w", g.name, err)
	}
	return nil
}

func (g *Group) update(res *specs.LinuxResources) error {
	if err := checkResources(res); err != nil {
		return err
	}
	missing, err := missingDirs(g.dirs)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: no directory %v", ErrNotFound, missing)
	}
	if err := g.m.require(res); err != nil {
		return err
	}
	return g.apply(res)
}

// require fails with ErrUnsupported when res needs a controller the
// groups do not have.
func (m *Manager) require(res *specs.LinuxResources) error {
	need := neededControllers(res)
	if len(need) == 0 {
		return nil
	}
	have, err := m.controllers()
	if err != nil {
		return err
	}
	var lack []string
	for _, c := range need {
		if !have[c] {
			lack = append(lack, c)
		}
	}
	if len(lack) > 0 {
		return fmt.Errorf("%w: the %s controller is not available to the groups (mode %v)", ErrUnsupported, strings.Join(lack, ", "), m.mode)
	}
	return nil
}

// controllers returns the controllers a group under the parent has, in
// v2 spelling: on V2, what the parent's cgroup.subtree_control enables;
// otherwise the v1 controllers found (resources always go to v1 on
// Hybrid).
func (m *Manager) controllers() (map[string]bool, error) {
	have := make(map[string]bool)
	if m.mode != V2 {
		for _, s := range m.v1 {
			if s.sub.Name() != cgroup1.Cpuacct {
				have[string(s.sub.Name())] = true
			}
		}
		return have, nil
	}
	b, err := os.ReadFile(filepath.Join(m.unified.mount, m.unified.parent, "cgroup.subtree_control"))
	if err != nil {
		return nil, fmt.Errorf("read enabled controllers: %w", err)
	}
	for _, c := range strings.Fields(string(b)) {
		have[c] = true
	}
	return have, nil
}

func (g *Group) apply(res *specs.LinuxResources) error {
	if res == nil {
		return nil
	}
	if g.m.mode == V2 {
		return g.applyV2(res)
	}
	return g.applyV1(res)
}

// applyV1 hands res to containerd, which writes the v1 files as given
// (-1 means no limit there), except a pids limit of -1, which it skips.
func (g *Group) applyV1(res *specs.LinuxResources) error {
	if err := g.v1.Update(res); err != nil {
		return fmt.Errorf("write v1 resources: %w", notFound(err))
	}
	if p := res.Pids; p != nil && p.Limit != nil && *p.Limit == NoLimit {
		s := findV1(g.m.v1, cgroup1.Pids)
		file := filepath.Join(s.mount, s.parent, g.name, "pids.max")
		if err := writeCgroupFile(file, "max"); err != nil {
			return fmt.Errorf("write v1 resources: %w", notFound(err))
		}
	}
	return nil
}

func (g *Group) applyV2(res *specs.LinuxResources) error {
	r, err := v2Resources(g.UnifiedPath(), res)
	if err == nil {
		err = g.v2.Update(r)
	}
	if err != nil {
		return fmt.Errorf("write v2 resources: %w", notFound(err))
	}
	return nil
}

// v2Resources converts res with containerd's ToResources, after turning a
// memory NoLimit into the largest value (cgroup v2 files refuse "-1" and
// read the largest value back as "max"), and writes cpu.max itself:
// ToResources drops a quota given without a period and resets the one not
// given.
func v2Resources(dir string, res *specs.LinuxResources) (*cgroup2.Resources, error) {
	spec := *res
	if mem := res.Memory; mem != nil {
		m := *mem
		m.Limit, m.Reservation = noLimitToMax(mem.Limit), noLimitToMax(mem.Reservation)
		spec.Memory = &m
	}
	r := cgroup2.ToResources(&spec)
	if cpu := res.CPU; cpu != nil && (cpu.Quota != nil || cpu.Period != nil) {
		max, err := cpuMax(dir, cpu)
		if err != nil {
			return nil, err
		}
		r.CPU.Max = max
	}
	return r, nil
}

func noLimitToMax(v *int64) *int64 {
	if v == nil || *v != NoLimit {
		return v
	}
	largest := int64(math.MaxInt64)
	return &largest
}

// cpuMax merges cpu's quota and period with the ones in dir/cpu.max.
func cpuMax(dir string, cpu *specs.LinuxCPU) (cgroup2.CPUMax, error) {
	quota, period := "max", uint64(defaultPeriod)
	b, err := os.ReadFile(filepath.Join(dir, "cpu.max"))
	switch {
	case err == nil:
		if quota, period, err = parseCPUMax(string(b)); err != nil {
			return "", fmt.Errorf("read cpu.max of %s: %w", dir, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return "", err
	}
	if q := cpu.Quota; q != nil {
		quota = "max"
		if *q != NoLimit {
			quota = strconv.FormatInt(*q, 10)
		}
	}
	if p := cpu.Period; p != nil {
		period = *p
	}
	return cgroup2.CPUMax(quota + " " + strconv.FormatUint(period, 10)), nil
}

// parseCPUMax decodes cgroup v2's cpu.max: "$MAX $PERIOD", where $MAX is
// "max" or a positive number of µs.
func parseCPUMax(s string) (quota string, period uint64, err error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return "", 0, fmt.Errorf("bad cpu.max %q", s)
	}
	if f[0] != "max" {
		if q, err := strconv.ParseInt(f[0], 10, 64); err != nil || q <= 0 {
			return "", 0, fmt.Errorf("bad cpu.max quota %q", f[0])
		}
	}
	if period, err = strconv.ParseUint(f[1], 10, 64); err != nil || period == 0 {
		return "", 0, fmt.Errorf("bad cpu.max period %q", f[1])
	}
	return f[0], period, nil
}

// writeCgroupFile writes data to an existing cgroup control file.
func writeCgroupFile(file, data string) error {
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}
