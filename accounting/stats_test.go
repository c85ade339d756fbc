//go:build linux

package accounting

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A child that touched 8 MiB shows in the numbers: memory in use and at
// its peak, CPU time spent faulting the pages in, its tasks; the limits are
// the ones set; nothing was OOM-killed. Without a controller its fields
// are absent from Have and zero.
func TestStatsSane(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		g := e.create("app")
		have, err := e.m.controllers()
		if err != nil {
			t.Fatal(err)
		}
		if have["memory"] {
			update(t, g, memLimit(256<<20))
		}
		if have["pids"] {
			update(t, g, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(100)}})
		}
		c := e.start("alloc", "ALLOC_MB=8")
		if err := g.Add(c.pid()); err != nil {
			t.Fatal(err)
		}
		c.send(t, "go")
		if got := c.line(t); got != "survived" {
			t.Fatalf("helper said %q", got)
		}
		st := stats(t, g)
		t.Logf("%+v", st)
		if !st.Have.Has(CPUController) || st.CPUUsage <= 0 {
			t.Errorf("CPU usage %v (have %b), want > 0", st.CPUUsage, st.Have)
		}
		checkMemoryStats(t, st, have["memory"])
		checkPidsStats(t, st, have["pids"])
	})
}

func checkMemoryStats(t *testing.T, st Stats, have bool) {
	t.Helper()
	if !have {
		if st.Have.Has(MemoryController) || st.MemoryUsage != 0 || st.MemoryLimit != 0 {
			t.Errorf("memory numbers without a memory controller: %+v", st)
		}
		return
	}
	if !st.Have.Has(MemoryController) || st.MemoryUsage < 8<<20 || st.MemoryUsage > 256<<20 ||
		st.MemoryPeak < st.MemoryUsage || st.MemoryLimit != 256<<20 || st.OOMKills != 0 || st.MemoryFailCount != 0 {
		t.Errorf("memory: %+v; want 8 MiB ≤ usage ≤ peak, limit 256 MiB, no OOM kill or failure", st)
	}
}

func checkPidsStats(t *testing.T, st Stats, have bool) {
	t.Helper()
	if !have {
		if st.Have.Has(PidsController) || st.PidsCurrent != 0 {
			t.Errorf("pids numbers without a pids controller: %+v", st)
		}
		return
	}
	if !st.Have.Has(PidsController) || st.PidsCurrent < 1 || st.PidsCurrent > 100 || st.PidsLimit != 100 {
		t.Errorf("pids: current %d limit %d, want 1..100 and 100", st.PidsCurrent, st.PidsLimit)
	}
}
