package accounting

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Limits of the values accounting passes to the kernel (cgroup v1 cpu.shares
// and CFS bandwidth, the same ranges cgroup v2 converts from).
const (
	minShares = 2
	maxShares = 262144
	minPeriod = 1000    // µs
	maxPeriod = 1000000 // µs
	minQuota  = 1000    // µs
)

// NoLimit as Memory.Limit, Memory.Reservation, CPU.Quota or Pids.Limit
// removes that limit.
const NoLimit = -1

// checkResources rejects the fields accounting does not apply and values
// the kernel would refuse or that mean different things on v1 and v2. A
// nil res is valid and applies nothing.
func checkResources(res *specs.LinuxResources) error {
	if res == nil {
		return nil
	}
	if bad := unsupportedFields(res); len(bad) > 0 {
		return fmt.Errorf("%w: accounting does not apply %s", ErrUnsupported, strings.Join(bad, ", "))
	}
	return checkValues(res)
}

func unsupportedFields(res *specs.LinuxResources) []string {
	var bad []string
	add := func(set bool, field string) {
		if set {
			bad = append(bad, field)
		}
	}
	add(len(res.Devices) > 0, "devices")
	add(res.BlockIO != nil, "blockIO")
	add(len(res.HugepageLimits) > 0, "hugepageLimits")
	add(res.Network != nil, "network")
	add(len(res.Rdma) > 0, "rdma")
	add(len(res.Unified) > 0, "unified")
	if mem := res.Memory; mem != nil {
		//lint:ignore SA1019 rejecting the deprecated field is the point
		add(mem.Kernel != nil, "memory.kernel")
		add(mem.KernelTCP != nil, "memory.kernelTCP")
		add(mem.Swap != nil, "memory.swap")
		add(mem.Swappiness != nil, "memory.swappiness")
		add(mem.DisableOOMKiller != nil, "memory.disableOOMKiller")
		add(mem.UseHierarchy != nil, "memory.useHierarchy")
		add(mem.CheckBeforeUpdate != nil, "memory.checkBeforeUpdate")
	}
	if cpu := res.CPU; cpu != nil {
		add(cpu.Burst != nil, "cpu.burst")
		add(cpu.RealtimeRuntime != nil, "cpu.realtimeRuntime")
		add(cpu.RealtimePeriod != nil, "cpu.realtimePeriod")
		add(cpu.Idle != nil, "cpu.idle")
	}
	return bad
}

func checkValues(res *specs.LinuxResources) error {
	var faults []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			faults = append(faults, fmt.Sprintf(format, args...))
		}
	}
	if mem := res.Memory; mem != nil {
		if v := mem.Limit; v != nil {
			check(*v == NoLimit || *v > 0, "memory.limit %d: want -1 or a positive byte count", *v)
		}
		if v := mem.Reservation; v != nil {
			check(*v >= NoLimit, "memory.reservation %d: want -1 or a byte count", *v)
		}
	}
	if cpu := res.CPU; cpu != nil {
		checkCPU(cpu, check)
	}
	if p := res.Pids; p != nil && p.Limit != nil {
		check(*p.Limit == NoLimit || *p.Limit > 0, "pids.limit %d: want -1 or a positive count", *p.Limit)
	}
	if len(faults) > 0 {
		return fmt.Errorf("%w: %s", ErrBadResources, strings.Join(faults, "; "))
	}
	return nil
}

func checkCPU(cpu *specs.LinuxCPU, check func(bool, string, ...any)) {
	if v := cpu.Shares; v != nil {
		check(*v >= minShares && *v <= maxShares, "cpu.shares %d: want %d..%d", *v, minShares, maxShares)
	}
	if v := cpu.Quota; v != nil {
		check(*v == NoLimit || *v >= minQuota, "cpu.quota %d: want -1 or at least %dµs", *v, minQuota)
	}
	if v := cpu.Period; v != nil {
		check(*v >= minPeriod && *v <= maxPeriod, "cpu.period %d: want %d..%dµs", *v, minPeriod, maxPeriod)
	}
	check(isCPUList(cpu.Cpus), "cpu.cpus %q: want a list such as 0-3,7", cpu.Cpus)
	check(isCPUList(cpu.Mems), "cpu.mems %q: want a list such as 0-1", cpu.Mems)
}

// isCPUList accepts "" and the kernel's list format ("0-3,7"), leaving
// the kernel to judge whether the CPUs or nodes exist.
func isCPUList(s string) bool {
	if s == "" {
		return true
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, ranged := strings.Cut(part, "-")
		if !isDigits(lo) || (ranged && !isDigits(hi)) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// neededControllers names the controllers res asks for, in cgroup v2
// spelling (cpu covers v1's cpu; cpuset, memory and pids are the same).
func neededControllers(res *specs.LinuxResources) []string {
	if res == nil {
		return nil
	}
	var need []string
	if mem := res.Memory; mem != nil && (mem.Limit != nil || mem.Reservation != nil) {
		need = append(need, "memory")
	}
	if cpu := res.CPU; cpu != nil {
		if cpu.Shares != nil || cpu.Quota != nil || cpu.Period != nil {
			need = append(need, "cpu")
		}
		if cpu.Cpus != "" || cpu.Mems != "" {
			need = append(need, "cpuset")
		}
	}
	if p := res.Pids; p != nil && p.Limit != nil {
		need = append(need, "pids")
	}
	return need
}

// managedControllers are the v2 controllers accounting enables for its
// groups: exactly those neededControllers can ask for.
var managedControllers = []string{"cpu", "cpuset", "memory", "pids"}
