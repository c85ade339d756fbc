//go:build linux

package accounting

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCheckResources(t *testing.T) {
	ok := []*specs.LinuxResources{
		nil,
		{},
		memLimit(1),
		memLimit(NoLimit),
		{Memory: &specs.LinuxMemory{Reservation: i64(0)}},
		{CPU: &specs.LinuxCPU{Shares: u64(2), Quota: i64(1000), Period: u64(1000000), Cpus: "0-3,7", Mems: "0"}},
		{CPU: &specs.LinuxCPU{Quota: i64(NoLimit)}},
		{Pids: &specs.LinuxPids{Limit: i64(NoLimit)}},
		{Pids: &specs.LinuxPids{}},
	}
	for _, res := range ok {
		if err := checkResources(res); err != nil {
			t.Errorf("checkResources(%+v) = %v", res, err)
		}
	}
	bad := map[error][]*specs.LinuxResources{
		ErrBadResources: {
			memLimit(0), memLimit(-2),
			{Memory: &specs.LinuxMemory{Reservation: i64(-2)}},
			{CPU: &specs.LinuxCPU{Shares: u64(1)}}, {CPU: &specs.LinuxCPU{Shares: u64(262145)}},
			{CPU: &specs.LinuxCPU{Quota: i64(999)}}, {CPU: &specs.LinuxCPU{Quota: i64(0)}},
			{CPU: &specs.LinuxCPU{Period: u64(999)}}, {CPU: &specs.LinuxCPU{Period: u64(1000001)}},
			{CPU: &specs.LinuxCPU{Cpus: "0,"}}, {CPU: &specs.LinuxCPU{Mems: "a"}}, {CPU: &specs.LinuxCPU{Cpus: "1-"}},
			{Pids: &specs.LinuxPids{Limit: i64(0)}},
		},
		ErrUnsupported: {
			{Devices: []specs.LinuxDeviceCgroup{{}}}, {BlockIO: &specs.LinuxBlockIO{}},
			{HugepageLimits: []specs.LinuxHugepageLimit{{}}}, {Network: &specs.LinuxNetwork{}},
			{Rdma: map[string]specs.LinuxRdma{"x": {}}}, {Unified: map[string]string{"memory.high": "1"}},
			{Memory: &specs.LinuxMemory{Swap: i64(1)}}, {Memory: &specs.LinuxMemory{Swappiness: u64(1)}},
			{CPU: &specs.LinuxCPU{Idle: i64(1)}}, {CPU: &specs.LinuxCPU{Burst: u64(1)}},
		},
	}
	for want, list := range bad {
		for _, res := range list {
			if err := checkResources(res); !errors.Is(err, want) {
				t.Errorf("checkResources(%+v) = %v, want %v", res, err, want)
			}
		}
	}
}

func TestNeededControllers(t *testing.T) {
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(1)},
		CPU:    &specs.LinuxCPU{Shares: u64(2), Cpus: "0"},
		Pids:   &specs.LinuxPids{Limit: i64(1)},
	}
	if got := neededControllers(res); !slices.Equal(got, []string{"memory", "cpu", "cpuset", "pids"}) {
		t.Errorf("neededControllers = %v", got)
	}
	if got := neededControllers(&specs.LinuxResources{CPU: &specs.LinuxCPU{}, Memory: &specs.LinuxMemory{}}); len(got) != 0 {
		t.Errorf("neededControllers of empty parts = %v", got)
	}
}

// The v2 conversion: shares become containerd's weight, NoLimit becomes
// the largest value (read back as "max"), a quota alone keeps the period
// in cpu.max, and the caller's spec is not changed.
func TestV2Resources(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cpu.max"), []byte("max 250000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(NoLimit), Reservation: i64(1 << 20)},
		CPU:    &specs.LinuxCPU{Shares: u64(1024), Quota: i64(50000)},
		Pids:   &specs.LinuxPids{Limit: i64(NoLimit)},
	}
	r, err := v2Resources(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	if *r.Memory.Max != math.MaxInt64 || *r.Memory.Low != 1<<20 || *r.CPU.Weight != 100 ||
		r.CPU.Max != cgroup2.CPUMax("50000 250000") || r.Pids.Max != NoLimit {
		t.Errorf("v2Resources = memory %d/%d, weight %d, cpu.max %q, pids %d", *r.Memory.Max, *r.Memory.Low, *r.CPU.Weight, r.CPU.Max, r.Pids.Max)
	}
	if *res.Memory.Limit != NoLimit {
		t.Errorf("v2Resources changed the caller's spec: limit %d", *res.Memory.Limit)
	}
	r, err = v2Resources(t.TempDir(), &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(NoLimit)}})
	if err != nil || r.CPU.Max != "max 100000" {
		t.Errorf("v2Resources with no cpu.max yet = %q, %v; want the default period", r.CPU.Max, err)
	}
}
