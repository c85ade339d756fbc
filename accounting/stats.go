//go:build linux

package accounting

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
)

// Unlimited is the value of Stats.MemoryLimit and Stats.PidsLimit when no
// limit is set.
const Unlimited uint64 = math.MaxUint64

// Controllers is a set of the controllers whose numbers Stats could read.
type Controllers uint8

// The controllers Stats reports on.
const (
	MemoryController Controllers = 1 << iota
	CPUController
	PidsController
)

// Has tells whether c holds every controller of x.
func (c Controllers) Has(x Controllers) bool { return c&x == x }

// Stats is a snapshot of a group's usage and limits, for the group and the
// cgroups below it.
type Stats struct {
	// Have tells which controllers the numbers come from; the fields of a
	// controller not in it are zero. Under cgroup v2 CPU usage is always
	// available; memory and pids need their controller enabled.
	Have Controllers

	MemoryUsage uint64 // bytes charged now (v1 memory.usage_in_bytes, v2 memory.current)
	MemoryLimit uint64 // bytes, or Unlimited (v1 memory.limit_in_bytes, v2 memory.max)
	MemoryPeak  uint64 // highest usage seen (v1 memory.max_usage_in_bytes, v2 memory.peak, kernel 5.19+)
	// MemoryFailCount counts the times usage hit the limit (v1
	// memory.failcnt, v2 the "max" count of memory.events).
	MemoryFailCount uint64
	// OOMKills counts the processes the OOM killer killed in the group (v1
	// oom_kill of memory.oom_control, kernel 4.13+; v2 oom_kill of
	// memory.events).
	OOMKills uint64

	CPUUsage time.Duration // CPU time used, user and system (v1 cpuacct.usage, v2 cpu.stat usage_usec)

	PidsCurrent uint64 // tasks (threads, not processes) now
	PidsLimit   uint64 // tasks, or Unlimited
}

// Stats reads the group's usage and limits: on V1 and Hybrid from the v1
// controllers, on V2 from the unified directory, through containerd.
func (g *Group) Stats() (Stats, error) {
	st, err := g.stats()
	if err != nil {
		return Stats{}, fmt.Errorf("read stats of group %q: %w", g.name, err)
	}
	return st, nil
}

func (g *Group) stats() (Stats, error) {
	// containerd reads a missing file as zero: make a deleted group an error.
	missing, err := missingDirs(g.dirs)
	if err != nil {
		return Stats{}, err
	}
	if len(missing) > 0 {
		return Stats{}, fmt.Errorf("%w: no directory %v", ErrNotFound, missing)
	}
	if g.m.mode == V2 {
		return g.statsV2()
	}
	return g.statsV1()
}

func (g *Group) statsV1() (Stats, error) {
	m, err := g.v1.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	if mem := m.Memory; mem != nil && mem.Usage != nil {
		st.Have |= MemoryController
		st.MemoryUsage, st.MemoryPeak, st.MemoryFailCount = mem.Usage.Usage, mem.Usage.Max, mem.Usage.Failcnt
		st.MemoryLimit = v1MemoryLimit(mem.Usage.Limit)
		if oc := m.MemoryOomControl; oc != nil {
			st.OOMKills = oc.OomKill
		}
	}
	if hasV1(g.m.v1, cgroup1.Cpuacct) && m.CPU != nil && m.CPU.Usage != nil {
		st.Have |= CPUController
		st.CPUUsage = time.Duration(m.CPU.Usage.Total)
	}
	if p := m.Pids; p != nil {
		st.Have |= PidsController
		st.PidsCurrent = p.Current
		// containerd reads "max" as 0, which is also a real limit.
		s := findV1(g.m.v1, cgroup1.Pids)
		if st.PidsLimit, err = readLimit(filepath.Join(s.mount, s.parent, g.name, "pids.max")); err != nil {
			return Stats{}, err
		}
	}
	return st, nil
}

// v1MemoryLimit maps v1's "no limit" (the largest page-aligned value) to
// Unlimited.
func v1MemoryLimit(v uint64) uint64 {
	page := uint64(os.Getpagesize())
	if v >= math.MaxInt64/page*page {
		return Unlimited
	}
	return v
}

func (g *Group) statsV2() (Stats, error) {
	m, err := g.v2.StatFiltered(cgroup2.StatPids | cgroup2.StatCPU | cgroup2.StatMemory | cgroup2.StatMemoryEvents)
	if err != nil {
		return Stats{}, err
	}
	ctrls, err := g.v2.Controllers()
	if err != nil {
		return Stats{}, err
	}
	have := make(map[string]bool, len(ctrls))
	for _, c := range ctrls {
		have[c] = true
	}
	var st Stats
	if mem := m.Memory; have["memory"] && mem != nil {
		st.Have |= MemoryController
		st.MemoryUsage, st.MemoryLimit, st.MemoryPeak = mem.Usage, mem.UsageLimit, mem.MaxUsage
		if ev := m.MemoryEvents; ev != nil {
			st.MemoryFailCount, st.OOMKills = ev.Max, ev.OomKill
		}
	}
	if cpu := m.CPU; cpu != nil {
		st.Have |= CPUController
		st.CPUUsage = time.Duration(cpu.UsageUsec) * time.Microsecond
	}
	if p := m.Pids; have["pids"] && p != nil {
		st.Have |= PidsController
		st.PidsCurrent, st.PidsLimit = p.Current, p.Limit
	}
	return st, nil
}

// readLimit reads a file holding a count or "max".
func readLimit(file string) (uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, notFound(err)
	}
	return parseLimit(string(b))
}

func parseLimit(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return Unlimited, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad limit %q", s)
	}
	return v, nil
}
