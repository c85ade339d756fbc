package supervisor

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cpuPeriod is the period of a cpu_quota given as a percentage, the
// kernel's default (100ms, in µs).
const cpuPeriod = 100000

func (c *checker) resources(r *resSection) *specs.LinuxResources {
	if r == nil || (r.MemoryMax == nil && r.PidsMax == nil && r.CPUWeight == nil && r.CPUQuota == nil) {
		return nil
	}
	res := &specs.LinuxResources{}
	if r.MemoryMax != nil {
		n, err := parseSize(r.MemoryMax)
		if err != nil {
			c.fail("[resources] memory_max", "%v", err)
		}
		res.Memory = &specs.LinuxMemory{Limit: &n}
	}
	if p := r.PidsMax; p != nil {
		if *p < 1 {
			c.fail("[resources] pids_max", "%d: want 1 or more", *p)
		}
		res.Pids = &specs.LinuxPids{Limit: p}
	}
	if w := r.CPUWeight; w != nil {
		if *w < 1 || *w > 10000 {
			c.fail("[resources] cpu_weight", "%d: want 1 to 10000", *w)
		}
		shares := weightToShares(uint64(max(1, min(*w, 10000))))
		res.CPU = &specs.LinuxCPU{Shares: &shares}
	}
	if q := r.CPUQuota; q != nil {
		quota, period, err := parseCPUQuota(*q)
		if err != nil {
			c.fail("[resources] cpu_quota", "%v", err)
		}
		if res.CPU == nil {
			res.CPU = &specs.LinuxCPU{}
		}
		res.CPU.Quota, res.CPU.Period = &quota, &period
	}
	return res
}

// weightToShares returns the smallest cgroup v1 cpu.shares that
// containerd's conversion (what accounting applies on v2) turns into the
// cgroup v2 cpu.weight w (1 to 10000).
func weightToShares(w uint64) uint64 {
	lo, hi := uint64(2), uint64(262144)
	for lo < hi {
		mid := (lo + hi) / 2
		if sharesToWeight(mid) >= w {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// sharesToWeight is containerd's cgroup2.ConvertCPUSharesToCgroupV2Value
// (crun's formula); a test checks they agree.
func sharesToWeight(s uint64) uint64 {
	if s <= 2 {
		return 1
	}
	if s >= 262144 {
		return 10000
	}
	l := math.Log2(float64(s))
	return uint64(math.Ceil(math.Pow(10, (l*l+125*l)/612.0-7.0/34.0)))
}

// parseSize reads a byte count: an integer, or a string with an optional
// K, M, G or T suffix (powers of 1024).
func parseSize(v any) (int64, error) {
	switch v := v.(type) {
	case int64:
		if v < 1 {
			return 0, fmt.Errorf("%d: want 1 byte or more", v)
		}
		return v, nil
	case string:
		num, shift := v, 0
		if i := strings.IndexAny(v, "KMGT"); i >= 0 && i == len(v)-1 {
			num, shift = v[:i], 10*(1+strings.IndexByte("KMGT", v[i]))
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n < 1 || n > math.MaxInt64>>shift {
			return 0, fmt.Errorf("%q: want bytes, or a count with K, M, G or T like 512M", v)
		}
		return n << shift, nil
	}
	return 0, fmt.Errorf("want an integer or a string like 512M, not %s", tomlKind(v))
}

// parseCPUQuota reads "50%" (of a 100ms period, more than 100% for more
// than one CPU) or "QUOTA/PERIOD" in microseconds.
func parseCPUQuota(q string) (quota int64, period uint64, err error) {
	bad := fmt.Errorf("%q: want a percentage like 50%% or QUOTA/PERIOD in µs like 50000/100000", q)
	if pct, ok := strings.CutSuffix(q, "%"); ok {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || !(p > 0) || p > 100*1024 {
			return 0, 0, bad
		}
		quota = int64(math.Round(p * cpuPeriod / 100))
		if quota < 1000 { // the kernel's minimum, 1ms
			return 0, 0, bad
		}
		return quota, cpuPeriod, nil
	}
	qs, ps, ok := strings.Cut(q, "/")
	quota, err1 := strconv.ParseInt(qs, 10, 64)
	period, err2 := strconv.ParseUint(ps, 10, 64)
	// The kernel's bounds: quota at least 1ms, period 1ms to 1s.
	if !ok || err1 != nil || err2 != nil || quota < 1000 || period < 1000 || period > 1000000 {
		return 0, 0, bad
	}
	return quota, period, nil
}

// parseSignal reads "SIGTERM", "TERM" or a number.
func parseSignal(v any) (unix.Signal, error) {
	switch v := v.(type) {
	case int64:
		if v < 1 || v > 64 {
			return 0, fmt.Errorf("%d: want a signal number 1 to 64", v)
		}
		return unix.Signal(v), nil
	case string:
		name := strings.ToUpper(v)
		if !strings.HasPrefix(name, "SIG") {
			name = "SIG" + name
		}
		if s := unix.SignalNum(name); s != 0 {
			return s, nil
		}
		return 0, fmt.Errorf("%q: want a signal name like SIGTERM or TERM, or a number", v)
	}
	return 0, fmt.Errorf("want a signal name or number, not %s", tomlKind(v))
}
