package main

import (
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/migrate-run/migrate/internal/benchout"
)

// fixedInfo is a run description that does not depend on the machine.
var fixedInfo = runInfo{
	Date:   time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC),
	Commit: "0123456789abcdef0123456789abcdef01234567",
	Dirty:  true,
	Machine: machine{
		CPU: "Test CPU", Cores: 2, Memory: 24 << 30, Kernel: "6.18.0",
		StoreFS: "ext4 on /dev/vda (mounted at /)", Go: "go1.26.8", Load: "0.10 0.20 0.30", LoadBefore: "0.01 0.02 0.03",
	},
}

func generateInto(t *testing.T, in string) (report string, missing []string, out string) {
	t.Helper()
	out = t.TempDir()
	missing, err := generate(in, out, fixedInfo)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(out, reportName))
	if err != nil {
		t.Fatal(err)
	}
	return string(b), missing, out
}

func mustContain(t *testing.T, report string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(report, w) {
			t.Errorf("report lacks %q", w)
		}
	}
}

// targetRow returns the targets table row whose first cell starts with
// prefix.
func targetRow(t *testing.T, report, prefix string) string {
	t.Helper()
	for line := range strings.SplitSeq(report, "\n") {
		if strings.HasPrefix(line, "| "+prefix) {
			return line
		}
	}
	t.Fatalf("no target row %q in\n%s", prefix, report)
	return ""
}

func TestFullRunEveryTargetMetAndEveryFigureDrawn(t *testing.T) {
	report, missing, out := generateInto(t, "testdata/full")
	if len(missing) != 0 {
		t.Errorf("missing = %v, want none", missing)
	}
	mustContain(t, report,
		"| commit | 0123456789abcdef0123456789abcdef01234567 (dirty: uncommitted changes) |",
		"| CPU | Test CPU, 2 cores |",
		"| file system of the stores | ext4 on /dev/vda (mounted at /) |",
		"| load average (1, 5, 15 min) before the benchmarks | 0.01 0.02 0.03 |",
		"`make bench`",
		"4.20 ms (p99 10.5 ms, 200 cycles)",
		"33.3× (CRIU 140.0 ms, ours 4.20 ms)",
		"1.5 KiB (RSS 171.7 MiB over a base of 28.6 MiB)",
		"0 of 1,000 connections over 20 restarts",
		"End to end: 4.20 ms median, 14× faster than the paper's 57.0 ms.",
		"| app notified | launch returned → the fresh process's confirmation committed | 2.00 ms | 5.00 ms | 54.2 ms | 1.65 ms (Go start + bbolt commit) | 1.2× |",
		"| ↳ fresh process start | launch returned → the fresh process's first request received (its runtime's start) | 1.40 ms | 3.50 ms | — | 1.30 ms (Go start) | 1.1× |",
		"| ↳ fresh process requests | that first request → its confirmation (Resumed) received | 0.20 ms | 0.50 ms | — | — | — |",
		"| ↳ confirm commit | confirmation received → the store committed the resume | 0.40 ms | 1.00 ms | — | 0.35 ms (bbolt commit) | 1.1× |",
		"| ↳ app returns its continuation | suspend request sent → the app's continuation received (inside app suspend) | 0.25 ms |",
		"| ↳ commit | the continuation's bbolt commit (inside app suspend) | 0.60 ms |",
		"(SCM_RIGHTS 1 fd + 2 × bbolt commit + Go start)",
		"The stage that costs the most: app notified (median 2.00 ms), of which the fresh process's start until its first request 1.40 ms (Go start floor 1.30 ms, 1.1×).",
		"| N | app suspend | ↳ app return | app notified | ↳ fresh process start | ↳ fresh process requests | ↳ confirm commit |",
		"| paper: OpenSSH | 12 | 8 | 3 | 3.6 KB |",
		"migrate's suspend + resume is 33× faster than CRIU's dump + restore (medians).",
		"Profile: [stages-counter.pprof](bench/stages-counter.pprof)",
		"The commit is 3.0× one fsync'd 4 KiB write.",
	)
	if strings.Contains(report, "**missed**") || strings.Contains(report, "not measured") {
		t.Errorf("full run reports a target missed or not measured:\n%s", report)
	}
	for _, name := range []string{"stages", "scale", "scale-stages", "capacity", "capacity-time", "descriptors", "sizes", "peers", "peers-refused"} {
		checkPNG(t, filepath.Join(out, plotDir, name+".png"))
		mustContain(t, report, "(bench/"+name+".png)")
	}
	if b, err := os.ReadFile(filepath.Join(out, plotDir, "stages-counter.pprof")); err != nil || !strings.HasPrefix(string(b), "not a real profile") {
		t.Errorf("profile not copied: %q, %v", b, err)
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 300 {
		t.Errorf("%s is %dx%d, too small to read", path, b.Dx(), b.Dy())
	}
}

func TestPartialRunReportsMissedTargetsAndMissingSections(t *testing.T) {
	report, missing, out := generateInto(t, "testdata/partial")
	want := []string{benchout.SectionStagesRshell, benchout.SectionDescriptors, benchout.SectionPeerRestart, benchout.SectionFloor}
	if !slices.Equal(missing, want) {
		t.Errorf("missing = %v, want %v", missing, want)
	}
	mustContain(t, report,
		"Not measured in this run (their benchmark did not write its section): stages-rshell, descriptors, peer-restart, floor.",
		"*Not measured: the descriptors section was not written in this run.*",
		"*Not measured: the floor section was not written in this run.*",
		"*Not measured: the peer-restart section was not written in this run.*",
		"### Missed: end-to-end same-host suspend + resume, median (counter-server)",
		"What costs the most: resume launch (median 5.20 ms).",
		"Profile: the profile missing.pprof was not found.",
		"### Missed: 1,024 simultaneous suspend + resume, total",
		"15.4 s, 1 session's stream broke",
		"What costs the most: app notified (average 3.07 s a session), of which the fresh process's start until its first request 2.00 s; suspending all took 5.12 s, resuming all 9.22 s.",
		"Where that time goes: in the fresh process (the kernel's exec, the Go runtime's start",
		"scale top line",
		"CRIU unavailable: criu check fails: the kernel lacks a feature CRIU needs",
		"Kernel doesn't support PTRACE_O_SUSPEND_SECCOMP",
		"100,000 not run (see Capacity for why); at 1,000: 9.8 KiB, over the goal",
		"### Not measured at its size, over the goal where measured: supervisor memory per held session at 100,000",
		"3 of 100 connections over 5 restarts",
		"What costs the most: restart (median 20.0 ms, p99 50.0 ms).",
		"Profile: the stages-counter profile, its head shown above.",
	)
	if n := strings.Count(report, "26.67%  syscall.Syscall6"); n != 1 {
		t.Errorf("the stages-counter profile's head is shown %d times, want once", n)
	}
	for _, prefix := range []string{"end-to-end", "1,024 simultaneous", "restart under load"} {
		if row := targetRow(t, report, prefix); !strings.HasSuffix(row, "| **missed** |") {
			t.Errorf("target %q not missed: %s", prefix, row)
		}
	}
	for _, prefix := range []string{"faster than CRIU", "supervisor memory"} {
		if row := targetRow(t, report, prefix); !strings.HasSuffix(row, "| not measured |") {
			t.Errorf("target %q not 'not measured': %s", prefix, row)
		}
	}
	if _, err := os.Stat(filepath.Join(out, plotDir, "descriptors.png")); !os.IsNotExist(err) {
		t.Errorf("descriptors.png drawn without its section: %v", err)
	}
	if strings.Contains(report, "(bench/descriptors.png)") {
		t.Error("report links a figure that was not drawn")
	}
}

func TestEarlierPlotsAreRemoved(t *testing.T) {
	out := t.TempDir()
	if _, err := generate("testdata/full", out, fixedInfo); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(out, plotDir, "README")
	if err := os.WriteFile(keep, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := generate("testdata/partial", out, fixedInfo); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"descriptors.png", "stages-counter.pprof"} {
		if _, err := os.Stat(filepath.Join(out, plotDir, gone)); !os.IsNotExist(err) {
			t.Errorf("%s of the earlier report is still there (%v)", gone, err)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a file that is not a plot or profile was removed: %v", err)
	}
}

func TestEmptyRunStillRenders(t *testing.T) {
	report, missing, out := generateInto(t, t.TempDir())
	if len(missing) != len(sections) {
		t.Errorf("missing = %v, want every section", missing)
	}
	for _, s := range sections {
		mustContain(t, report, "*Not measured: the "+s.name+" section was not written in this run.*")
	}
	if n := strings.Count(report, "| not measured |"); n != 5 {
		t.Errorf("%d targets not measured, want 5", n)
	}
	ents, err := os.ReadDir(filepath.Join(out, plotDir))
	if err != nil || len(ents) != 0 {
		t.Errorf("plot directory holds %v (%v), want nothing", ents, err)
	}
}

func TestQuickRunSaysSo(t *testing.T) {
	out := t.TempDir()
	info := fixedInfo
	info.Quick = true
	if _, err := generate("testdata/partial", out, info); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, reportName))
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, string(b), "**This is the quick version**")
}

func TestUnreadableSectionFails(t *testing.T) {
	in := t.TempDir()
	if err := os.WriteFile(filepath.Join(in, benchout.SectionFloor+".json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := generate(in, out, fixedInfo); err == nil || !strings.Contains(err.Error(), benchout.SectionFloor) {
		t.Fatalf("generate = %v, want an error naming the floor section", err)
	}
	if _, err := os.Stat(filepath.Join(out, reportName)); !os.IsNotExist(err) {
		t.Errorf("a report was written despite the error: %v", err)
	}
	if _, err := generate(filepath.Join(in, "nonexistent"), out, fixedInfo); err == nil {
		t.Error("generate of a missing results directory succeeded")
	}
}

func stagesWith(e2e float64, others map[string]float64) *benchout.Stages {
	s := &benchout.Stages{App: "counter-server", Cycles: 10}
	add := func(k string, v float64) {
		s.Stages = append(s.Stages, benchout.Stage{Key: k, Label: stageTitle(k), Dist: benchout.Dist{N: 10, Median: v, P99: v}})
	}
	add(benchout.StageEndToEnd, e2e)
	for _, k := range stageOrder {
		if v, ok := others[k]; ok {
			add(k, v)
		}
	}
	return s
}

func TestTargetThresholds(t *testing.T) {
	criu := func(e2e float64) *benchout.CRIU {
		return &benchout.CRIU{Available: true, EndToEnd: benchout.Dist{N: 5, Median: e2e}}
	}
	capacity := func(sessions int, perSession int64) *benchout.Capacity {
		return &benchout.Capacity{Points: []benchout.CapacityPoint{{Sessions: sessions, BaseRSSBytes: 1 << 20, RSSBytes: 1<<20 + perSession*int64(sessions)}}}
	}
	load := func(tool string, refused int) *benchout.RestartLoad {
		return &benchout.RestartLoad{Runs: []benchout.LoadRun{{Tool: tool, Conns: 10, Refused: refused}}}
	}
	scale := func(n int, total float64, failed int) *benchout.Scale {
		return &benchout.Scale{Points: []benchout.ScalePoint{{N: n, Total: total, Failed: failed}}}
	}
	for _, c := range []struct {
		name   string
		r      results
		target int
		want   status
	}{
		{"e2e at the limit", results{StagesCounter: stagesWith(5, nil)}, 0, met},
		{"e2e over", results{StagesCounter: stagesWith(5.01, nil)}, 0, missed},
		{"e2e without the stage", results{StagesCounter: &benchout.Stages{}}, 0, notMeasured},
		{"scale at the limit", results{Scale: scale(1024, 1500, 0)}, 1, met},
		{"scale over", results{Scale: scale(1024, 1500.1, 0)}, 1, missed},
		{"scale in time but a stream broke", results{Scale: scale(1024, 100, 1)}, 1, missed},
		{"scale without N=1024", results{Scale: scale(64, 100, 0)}, 1, notMeasured},
		{"CRIU 20×", results{StagesCounter: stagesWith(5, nil), CRIU: criu(100)}, 2, met},
		{"CRIU 19.9×", results{StagesCounter: stagesWith(5, nil), CRIU: criu(99.5)}, 2, missed},
		{"CRIU unavailable", results{StagesCounter: stagesWith(5, nil), CRIU: &benchout.CRIU{Reason: "no criu"}}, 2, notMeasured},
		{"CRIU without ours", results{CRIU: criu(100)}, 2, notMeasured},
		{"memory at the limit", results{Capacity: capacity(100_000, 2048)}, 3, met},
		{"memory over", results{Capacity: capacity(100_000, 2049)}, 3, missed},
		{"memory below 100k only", results{Capacity: capacity(1000, 10)}, 3, notMeasured},
		{"none refused", results{RestartLoad: load("migrate-run --listen", 0)}, 4, met},
		{"one refused", results{RestartLoad: load("migrate-run --listen", 1)}, 4, missed},
		{"only systemd measured", results{RestartLoad: load("systemd-socket-activate", 0)}, 4, notMeasured},
	} {
		got := evaluateTargets(&c.r)[c.target]
		if got.Status != c.want {
			t.Errorf("%s: status %v (%s), want %v", c.name, got.Status, got.Measured, c.want)
		}
	}
}

func TestMissedTargetNamesTheCostliestStage(t *testing.T) {
	r := results{StagesCounter: stagesWith(20, map[string]float64{
		benchout.StageAppSuspend: 3, benchout.StageCommit: 2, benchout.StageLaunch: 6,
		benchout.StageNotified: 9, benchout.StageRun: 1, benchout.StageResume: 15,
	})}
	got := evaluateTargets(&r)[0]
	if got.Status != missed || got.Costliest != "app notified (median 9.00 ms)" || got.Where != "" || got.Profile != benchout.SectionStagesCounter {
		t.Errorf("got %+v, want missed naming app notified (not the admin resume, which spans it)", got)
	}
}

// With the steps inside the stages measured, a missed target names the
// costliest step of the costliest stage beside its floor, and where its
// time is spent; a step without a floor row is named without one.
func TestMissedTargetNamesTheCostliestStep(t *testing.T) {
	floor := &benchout.Floor{Rows: []benchout.FloorRow{
		{Key: benchout.FloorGoStart, Dist: benchout.Dist{N: 10, Median: 1.3}},
		{Key: benchout.FloorBoltCommit, Dist: benchout.Dist{N: 10, Median: 0.4}},
	}}
	r := results{Floor: floor, StagesCounter: stagesWith(20, map[string]float64{
		benchout.StageAppSuspend: 3, benchout.StageAppReturn: 2.5, benchout.StageCommit: 0.4, benchout.StageLaunch: 6,
		benchout.StageNotified: 9, benchout.StageAppStart: 5, benchout.StageAppRequests: 1, benchout.StageConfirmCommit: 3,
	})}
	got := evaluateTargets(&r)[0]
	want := "app notified (median 9.00 ms), of which the fresh process's start until its first request 5.00 ms (Go start floor 1.30 ms, 3.8×)"
	if got.Costliest != want || !strings.HasPrefix(got.Where, "in the fresh process") {
		t.Errorf("got %q (where %q), want %q", got.Costliest, got.Where, want)
	}
	// A step of the costliest stage, never a costlier one of another.
	r.StagesCounter = stagesWith(20, map[string]float64{
		benchout.StageAppSuspend: 10, benchout.StageAppReturn: 1, benchout.StageCommit: 4,
		benchout.StageNotified: 9, benchout.StageAppStart: 8,
	})
	got = evaluateTargets(&r)[0]
	want = "app suspend (median 10.0 ms), of which the continuation's bbolt commit 4.00 ms (bbolt commit floor 0.40 ms, 10×)"
	if got.Costliest != want {
		t.Errorf("got %q, want %q", got.Costliest, want)
	}
	r.Floor = nil
	r.StagesCounter = stagesWith(20, map[string]float64{benchout.StageNotified: 9, benchout.StageAppRequests: 4, benchout.StageAppStart: 3})
	got = evaluateTargets(&r)[0]
	if want := "app notified (median 9.00 ms), of which the fresh process's requests until it confirmed 4.00 ms"; got.Costliest != want {
		t.Errorf("got %q, want %q", got.Costliest, want)
	}
}

// A floor row counted twice is named once with its count.
func TestStageFloorCountsARepeatedRow(t *testing.T) {
	floor := &benchout.Floor{Rows: []benchout.FloorRow{
		{Key: benchout.FloorSCM1, Dist: benchout.Dist{N: 1, Median: 0.01}},
		{Key: benchout.FloorGoStart, Dist: benchout.Dist{N: 1, Median: 1.3}},
		{Key: benchout.FloorBoltCommit, Dist: benchout.Dist{N: 1, Median: 0.4}},
	}}
	ms, parts, ok := stageFloor(floor, benchout.StageEndToEnd)
	if !ok || parts != "SCM_RIGHTS 1 fd + 2 × bbolt commit + Go start" || ms < 2.1099 || ms > 2.1101 {
		t.Errorf("end-to-end floor = %v, %q, %v", ms, parts, ok)
	}
	if _, _, ok := stageFloor(floor, benchout.StageLaunch); ok {
		t.Error("a floor without its fork+exec row")
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{fmtMs(0), "0 ms"}, {fmtMs(0.012), "12.0 µs"}, {fmtMs(4.2), "4.20 ms"}, {fmtMs(57), "57.0 ms"},
		{fmtMs(1500), "1.50 s"}, {fmtMs(15360), "15.4 s"},
		{fmtBytes(185), "185 B"}, {fmtBytes(2048), "2.0 KiB"}, {fmtBytes(3 << 20), "3.0 MiB"},
		{fmtCount(7), "7"}, {fmtCount(1024), "1,024"}, {fmtCount(100000), "100,000"}, {fmtCount(-1234567), "-1,234,567"},
		{fmtFactor(3.21), "3.2×"}, {fmtFactor(57.4), "57×"},
		{compare(2, 10), "5.0× faster than"}, {compare(10, 2), "5.0× slower than"},
		{unescapeMount(`/mnt/a\040b`), "/mnt/a b"}, {unescapeMount(`/x\`), `/x\`},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestTableCellsAreEscaped(t *testing.T) {
	var w mdWriter
	w.table([]string{"a"}, [][]string{{"x|y\nz"}})
	if got := w.String(); !strings.Contains(got, `| x\|y z |`) {
		t.Errorf("table = %q", got)
	}
}

func TestRunInfoDescribesThisMachine(t *testing.T) {
	info := collectRunInfo()
	m := info.Machine
	if m.Cores < 1 || m.Go == "" || m.Kernel == "" || m.Memory <= 0 {
		t.Errorf("machine = %+v", m)
	}
	if m.StoreFS == "" {
		t.Errorf("no file system found for %s", os.TempDir())
	}
	if info.Date.IsZero() {
		t.Error("no date")
	}
}
