package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/migrate-run/migrate/internal/benchout"
)

// status is a target's outcome.
type status int

const (
	notMeasured status = iota
	met
	missed
)

func (s status) String() string {
	switch s {
	case met:
		return "met"
	case missed:
		return "**missed**"
	default:
		return "not measured"
	}
}

// target is one of issue 6's targets with what was measured for it.
type target struct {
	Name     string
	Goal     string
	Paper    string
	Measured string // the figure, or why there is none
	Status   status
	// For a missed target: what costs the most (the stage, and the
	// costliest step inside it with its floor), where that step's time
	// is spent, and the section whose profile shows why ("" when none
	// applies).
	Costliest string
	Where     string
	Profile   string
}

// Target thresholds.
const (
	targetEndToEndMs   = 5.0
	targetScaleN       = 1024
	targetScaleMs      = 1500.0
	targetCRIUFactor   = 20.0
	targetBytesPerHeld = 2048.0
	targetHeldSessions = 100_000
)

func evaluateTargets(r *results) []target {
	return []target{
		endToEndTarget(r), scaleTarget(r), criuTarget(r), memoryTarget(r), refusedTarget(r),
	}
}

func stageDist(s *benchout.Stages, key string) (benchout.Dist, bool) {
	if s == nil {
		return benchout.Dist{}, false
	}
	for _, st := range s.Stages {
		if st.Key == key && st.Dist.N > 0 {
			return st.Dist, true
		}
	}
	return benchout.Dist{}, false
}

// costliestStage names the top-level stage with the largest median and,
// when the steps inside it were measured, the costliest of them beside its
// floor in f (nil: none); where says where that step's time is spent.
func costliestStage(s *benchout.Stages, f *benchout.Floor) (text, where string) {
	best, bestMs := "", -1.0
	for _, key := range topLevelStages {
		if d, ok := stageDist(s, key); ok && d.Median > bestMs {
			best, bestMs = key, d.Median
		}
	}
	if best == "" {
		return "", ""
	}
	of, where := costliestStep(best, func(k string) (float64, bool) {
		d, ok := stageDist(s, k)
		return d.Median, ok
	}, f)
	return fmt.Sprintf("%s (median %s)%s", stageLabel(s, best), fmtMs(bestMs), of), where
}

// costliestStep returns ", of which WHAT 2.10 ms (Go start floor 1.19 ms,
// 1.8×)" for the step of stage with the largest value, and where its time
// is spent; "" for both when no step of stage was measured.
func costliestStep(stage string, value func(key string) (float64, bool), f *benchout.Floor) (of, where string) {
	best, bestMs := "", -1.0
	for _, k := range subStages[stage] {
		if v, ok := value(k); ok && v > bestMs {
			best, bestMs = k, v
		}
	}
	if best == "" {
		return "", ""
	}
	txt := subStageText[best]
	what := txt.What
	if what == "" {
		what = stageTitle(best)
	}
	of = fmt.Sprintf(", of which %s %s", what, fmtMs(bestMs))
	if ms, parts, ok := stageFloor(f, best); ok && ms > 0 {
		of += fmt.Sprintf(" (%s floor %s, %s)", parts, fmtMs(ms), fmtFactor(bestMs/ms))
	}
	return of, txt.Where
}

func stageLabel(s *benchout.Stages, key string) string {
	for _, st := range s.Stages {
		if st.Key == key && st.Label != "" {
			return st.Label
		}
	}
	return key
}

func endToEndTarget(r *results) target {
	t := target{
		Name:  "end-to-end same-host suspend + resume, median (counter-server)",
		Goal:  fmt.Sprintf("≤ %s", fmtMs(targetEndToEndMs)),
		Paper: fmtMs(paperEndToEndMs),
	}
	d, ok := stageDist(r.StagesCounter, benchout.StageEndToEnd)
	if !ok {
		t.Measured = notMeasuredWhy(r.StagesCounter == nil, benchout.SectionStagesCounter, "no end-to-end stage")
		return t
	}
	t.Measured = fmt.Sprintf("%s (p99 %s, %d cycles)", fmtMs(d.Median), fmtMs(d.P99), d.N)
	t.Status = verdict(d.Median <= targetEndToEndMs)
	if t.Status == missed {
		t.Costliest, t.Where = costliestStage(r.StagesCounter, r.Floor)
		t.Profile = benchout.SectionStagesCounter
	}
	return t
}

func scaleTarget(r *results) target {
	t := target{
		Name:  fmt.Sprintf("%s simultaneous suspend + resume, total", fmtCount(targetScaleN)),
		Goal:  fmt.Sprintf("≤ %s", fmtMs(targetScaleMs)),
		Paper: fmt.Sprintf("%d (SSH) in %s", paperScaleSessions, fmtMs(paperScaleMs)),
	}
	if r.Scale == nil || len(r.Scale.Points) == 0 {
		t.Measured = notMeasuredWhy(r.Scale == nil, benchout.SectionScale, "no points")
		return t
	}
	i := slices.IndexFunc(r.Scale.Points, func(p benchout.ScalePoint) bool { return p.N == targetScaleN })
	if i < 0 {
		largest := slices.MaxFunc(r.Scale.Points, func(a, b benchout.ScalePoint) int { return a.N - b.N })
		t.Measured = fmt.Sprintf("N = %s not run; largest N: %s in %s", fmtCount(targetScaleN), fmtCount(largest.N), fmtMs(largest.Total))
		return t
	}
	p := r.Scale.Points[i]
	t.Measured = fmtMs(p.Total)
	if p.Failed > 0 {
		t.Measured += fmt.Sprintf(", %s broke", plural(p.Failed, "session's stream", "sessions' streams"))
	}
	t.Status = verdict(p.Total <= targetScaleMs && p.Failed == 0)
	if t.Status == missed {
		t.Costliest, t.Where = costliestAvg(p, r.Floor)
		t.Profile = benchout.SectionScale
	}
	return t
}

// costliestAvg names the top-level stage with the largest average at one N
// and, when the steps inside it were measured, the costliest of them (as
// costliestStage).
func costliestAvg(p benchout.ScalePoint, f *benchout.Floor) (text, where string) {
	best, bestMs := "", -1.0
	for _, key := range topLevelStages {
		if v, ok := p.Avg[key]; ok && v > bestMs {
			best, bestMs = key, v
		}
	}
	phase := fmt.Sprintf("suspending all took %s, resuming all %s", fmtMs(p.SuspendAll), fmtMs(p.ResumeAll))
	if best == "" {
		return phase, ""
	}
	of, where := costliestStep(best, func(k string) (float64, bool) {
		v, ok := p.Avg[k]
		return v, ok
	}, f)
	return fmt.Sprintf("%s (average %s a session)%s; %s", stageTitle(best), fmtMs(bestMs), of, phase), where
}

// stageTitle is a stage key's human name.
func stageTitle(key string) string {
	if info, ok := stageInfos[key]; ok {
		return info.Label
	}
	return strings.ReplaceAll(key, "_", " ")
}

func criuTarget(r *results) target {
	t := target{
		Name:  "faster than CRIU dump + restore of the same server (end to end, medians)",
		Goal:  fmt.Sprintf("≥ %.0f×", targetCRIUFactor),
		Paper: "—",
	}
	c := r.CRIU
	switch {
	case c == nil:
		t.Measured = notMeasuredWhy(true, benchout.SectionPeerCRIU, "")
		return t
	case !c.Available:
		t.Measured = "CRIU unavailable: " + orDash(c.Reason)
		return t
	case c.EndToEnd.N == 0 || c.EndToEnd.Median <= 0:
		t.Measured = "CRIU ran but measured no end-to-end cycle"
		return t
	}
	ours, ok := stageDist(r.StagesCounter, benchout.StageEndToEnd)
	if !ok || ours.Median <= 0 {
		t.Measured = fmt.Sprintf("CRIU %s; ours not measured", fmtMs(c.EndToEnd.Median))
		return t
	}
	f := c.EndToEnd.Median / ours.Median
	t.Measured = fmt.Sprintf("%.1f× (CRIU %s, ours %s)", f, fmtMs(c.EndToEnd.Median), fmtMs(ours.Median))
	t.Status = verdict(f >= targetCRIUFactor)
	if t.Status == missed {
		t.Costliest, t.Where = costliestStage(r.StagesCounter, r.Floor)
		t.Profile = benchout.SectionStagesCounter
	}
	return t
}

// perHeld is the supervisor's memory per held session at one size.
func perHeld(p benchout.CapacityPoint) float64 {
	if p.Sessions <= 0 {
		return 0
	}
	return float64(p.RSSBytes-p.BaseRSSBytes) / float64(p.Sessions)
}

func memoryTarget(r *results) target {
	t := target{
		Name:  fmt.Sprintf("supervisor memory per held session at %s", fmtCount(targetHeldSessions)),
		Goal:  fmt.Sprintf("≤ %s", fmtBytes(targetBytesPerHeld)),
		Paper: "—",
	}
	if r.Capacity == nil || len(r.Capacity.Points) == 0 {
		t.Measured = notMeasuredWhy(r.Capacity == nil, benchout.SectionCapacity, "no points")
		return t
	}
	i := slices.IndexFunc(r.Capacity.Points, func(p benchout.CapacityPoint) bool { return p.Sessions == targetHeldSessions })
	if i < 0 {
		// Not measured at the target's size: say what the largest size
		// run shows, and why, as for a missed target when it is over.
		largest := slices.MaxFunc(r.Capacity.Points, func(a, b benchout.CapacityPoint) int { return a.Sessions - b.Sessions })
		over := ""
		if perHeld(largest) > targetBytesPerHeld {
			over = ", over the goal"
			t.Costliest, t.Where, t.Profile = memoryWhy(largest), "", benchout.SectionCapacity
		}
		t.Measured = fmt.Sprintf("%s not run (see Capacity for why); at %s: %s%s", fmtCount(targetHeldSessions),
			fmtCount(largest.Sessions), fmtBytes(perHeld(largest)), over)
		return t
	}
	p := r.Capacity.Points[i]
	t.Measured = fmt.Sprintf("%s (RSS %s over a base of %s)", fmtBytes(perHeld(p)), fmtBytes(float64(p.RSSBytes)), fmtBytes(float64(p.BaseRSSBytes)))
	t.Status = verdict(perHeld(p) <= targetBytesPerHeld)
	if t.Status == missed {
		t.Costliest, t.Profile = memoryWhy(p), benchout.SectionCapacity
	}
	return t
}

// memoryWhy says what a held session's memory is made of at one size,
// from the split the capacity benchmark measured (when it did).
func memoryWhy(p benchout.CapacityPoint) string {
	if p.Sessions <= 0 || p.AnonBytes == 0 && p.FileBytes == 0 {
		return "the supervisor's heap per held session (see the heap profile)"
	}
	per := func(b int64) string { return fmtBytes(float64(b) / float64(p.Sessions)) }
	s := fmt.Sprintf("at %s held, %s per session of anonymous memory (heap, stacks)", fmtCount(p.Sessions), per(p.AnonBytes))
	if p.HeapBytes > 0 {
		s += fmt.Sprintf(", of which the live heap after a GC is %s (fixed part included; the rest is the garbage collector's headroom)", per(p.HeapBytes))
	}
	return s + fmt.Sprintf(", and %s of the store's pages bbolt maps (page cache, counted in the supervisor's RSS and its cgroup)", per(p.FileBytes))
}

// migrateLoadRun finds migrate-run --listen's run of the restart-under-load
// comparison.
func migrateLoadRun(l *benchout.RestartLoad) (benchout.LoadRun, bool) {
	if l == nil {
		return benchout.LoadRun{}, false
	}
	i := slices.IndexFunc(l.Runs, func(r benchout.LoadRun) bool { return strings.Contains(r.Tool, "migrate-run") })
	if i < 0 {
		return benchout.LoadRun{}, false
	}
	return l.Runs[i], true
}

func refusedTarget(r *results) target {
	t := target{
		Name:  "restart under load (migrate-run --listen), connections refused",
		Goal:  "0",
		Paper: "—",
	}
	run, ok := migrateLoadRun(r.RestartLoad)
	if !ok || run.Conns == 0 {
		t.Measured = notMeasuredWhy(r.RestartLoad == nil, benchout.SectionPeerLoad, "no migrate-run run")
		return t
	}
	t.Measured = fmt.Sprintf("%s of %s connections over %d restarts", fmtCount(run.Refused), fmtCount(run.Conns), run.Restarts)
	t.Status = verdict(run.Refused == 0)
	if t.Status == missed {
		t.Costliest = fmt.Sprintf("restart (median %s, p99 %s)", fmtMs(run.Restart.Median), fmtMs(run.Restart.P99))
	}
	return t
}

func verdict(ok bool) status {
	if ok {
		return met
	}
	return missed
}

func notMeasuredWhy(sectionMissing bool, section, why string) string {
	if sectionMissing {
		return fmt.Sprintf("not measured (no %s section)", section)
	}
	return fmt.Sprintf("not measured (%s: %s)", section, why)
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// plural is "1 thing" or "N things".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmtCount(n) + " " + many
}
