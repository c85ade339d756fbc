package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/migrate-run/migrate/internal/benchout"
)

func (rep *report) stages() {
	w := &rep.w
	w.heading(2, "Suspend and resume, same host (Table IV)")
	w.para("A complete continuation suspended and resumed on the same host, over and over, while a " +
		"client reads the session's stream; the stages are the paper's Table IV rows where it has them. " +
		"The paper's figures are its same-host columns (counter-server stands in for its client-server " +
		"benchmark, rshell-server for SSHD); its remaining same-host rows (client authentication " +
		"0.75–0.85 ms, migration 0.34–0.52 ms) have no counterpart here. The floor is the sum of this " +
		"machine's floors the stage cannot avoid (last section).")
	rep.figure("stages", "Table IV stages, medians, beside the paper")
	for _, app := range []struct {
		section string
		s       *benchout.Stages
	}{{benchout.SectionStagesCounter, rep.r.StagesCounter}, {benchout.SectionStagesRshell, rep.r.StagesRshell}} {
		if app.s == nil {
			w.heading(3, app.section)
			rep.notMeasured(app.section)
			continue
		}
		rep.stageTable(app.section, app.s)
	}
}

// orderedStages returns s's stages in report order, unknown keys last.
func orderedStages(s *benchout.Stages) []benchout.Stage {
	out := slices.Clone(s.Stages)
	rank := func(k string) int {
		if i := slices.Index(stageOrder, k); i >= 0 {
			return i
		}
		return len(stageOrder)
	}
	slices.SortStableFunc(out, func(a, b benchout.Stage) int { return rank(a.Key) - rank(b.Key) })
	return out
}

func (rep *report) stageTable(section string, s *benchout.Stages) {
	w := &rep.w
	w.heading(3, fmt.Sprintf("%s (%d cycles)", orDash(s.App), s.Cycles))
	paper, hasPaper := paperTableIV[s.App]
	paperHead := "paper"
	if hasPaper {
		paperHead = "paper (" + paper.Name + ")"
	}
	var rows [][]string
	worst, worstX := "", 0.0
	for _, st := range orderedStages(s) {
		p := "—"
		if v, ok := paper.Stages[st.Key]; ok {
			p = fmtMs(v)
		}
		fl, fx := "—", "—"
		if ms, parts, ok := rep.floorOf(st.Key); ok && ms > 0 {
			fl, fx = fmt.Sprintf("%s (%s)", fmtMs(ms), parts), fmtFactor(st.Dist.Median/ms)
			if x := st.Dist.Median / ms; x > worstX && st.Key != benchout.StageEndToEnd {
				worst, worstX = orDash(st.Label), x
			}
		}
		rows = append(rows, []string{stepLabel(st.Key, orDash(st.Label)), orDash(stageInfos[st.Key].Spans),
			fmtMs(st.Dist.Median), fmtMs(st.Dist.P99), p, fl, fx})
	}
	w.table([]string{"stage", "spans", "median", "p99", paperHead, "floor", "× floor"}, rows)
	if d, ok := stageDist(s, benchout.StageEndToEnd); ok && hasPaper && d.Median > 0 {
		pe := paper.Stages[benchout.StageEndToEnd]
		w.para("End to end: %s median, %s the paper's %s.", fmtMs(d.Median), compare(d.Median, pe), fmtMs(pe))
	}
	if c, _ := costliestStage(s, rep.r.Floor); c != "" {
		w.para("The stage that costs the most: %s.", c)
	}
	if worst != "" {
		w.para("Farthest from its floor: %s, at %s its floor.", worst, fmtFactor(worstX))
	}
	if d, ok := stageDist(s, benchout.StageCommit); ok && rep.r.Floor != nil {
		if f, ok := floorRow(rep.r.Floor, benchout.FloorFsync4K); ok && f.Dist.Median > 0 {
			w.para("The commit is %s one fsync'd 4 KiB write.", fmtFactor(d.Median/f.Dist.Median))
		}
	}
	w.notes(s.Notes)
	if _, ok := rep.profiles[section]; ok {
		rep.profile(section, 15)
	}
}

func (rep *report) scale() {
	w := &rep.w
	w.heading(2, "Scalability (Figs. 14, 16)")
	sc := rep.r.Scale
	if sc == nil || len(sc.Points) == 0 {
		rep.notMeasured(benchout.SectionScale)
		return
	}
	w.para("N sessions of %s suspended at once, then resumed at once. Suspend all, resume all: wall-clock "+
		"time until every session was suspended (resumed); total: from the first suspend request until "+
		"every client received its next byte. The stage columns are averages per session. The paper "+
		"resumed %d simultaneous SSH continuations within %s.", orDash(sc.App), paperScaleSessions, fmtMs(paperScaleMs))
	pts := slices.Clone(sc.Points)
	slices.SortFunc(pts, func(a, b benchout.ScalePoint) int { return a.N - b.N })
	keys := scaleStageKeys(pts)
	head := []string{"N", "suspend all", "resume all", "total", "total / N"}
	for _, k := range keys {
		head = append(head, "avg "+stageTitle(k))
	}
	head = append(head, "failed")
	var rows [][]string
	for _, p := range pts {
		row := []string{fmtCount(p.N), fmtMs(p.SuspendAll), fmtMs(p.ResumeAll), fmtMs(p.Total), fmtMs(p.Total / float64(max(p.N, 1)))}
		for _, k := range keys {
			if v, ok := p.Avg[k]; ok {
				row = append(row, fmtMs(v))
			} else {
				row = append(row, "—")
			}
		}
		rows = append(rows, append(row, fmtCount(p.Failed)))
	}
	w.table(head, rows)
	if i := slices.IndexFunc(pts, func(p benchout.ScalePoint) bool { return p.N == paperScaleSessions }); i >= 0 {
		w.para("At N = %d: %s in all, %s the paper's %s for %d SSH sessions.",
			paperScaleSessions, fmtMs(pts[i].Total), compare(pts[i].Total, paperScaleMs), fmtMs(paperScaleMs), paperScaleSessions)
	}
	last := pts[len(pts)-1]
	c, _ := costliestAvg(last, rep.r.Floor)
	w.para("At the largest N (%s): %s.", fmtCount(last.N), c)
	rep.scaleSteps(pts)
	rep.figure("scale", "total time against N")
	rep.figure("scale-stages", "per-session stage averages against N")
	w.notes(sc.Notes)
	if _, ok := rep.profiles[benchout.SectionScale]; ok {
		rep.profile(benchout.SectionScale, 15)
	}
}

// stepLabel indents the label of a step inside another stage (subStages)
// under it.
func stepLabel(key, label string) string {
	if parentStage(key) != "" {
		return "↳ " + label
	}
	return label
}

// isScaleStep reports a step the scale table leaves to its own table
// (scaleSteps): the steps inside app suspend and app notified, but the
// commit, a column of its own from before they were measured.
func isScaleStep(key string) bool {
	return parentStage(key) != "" && key != benchout.StageCommit
}

// scaleSteps writes, when the points have them, the averages of the steps
// inside app suspend and app notified per N, each stage beside its steps.
func (rep *report) scaleSteps(pts []benchout.ScalePoint) {
	var keys []string
	steps := false
	for _, parent := range []string{benchout.StageAppSuspend, benchout.StageNotified} {
		group := []string{parent}
		for _, k := range subStages[parent] {
			if slices.ContainsFunc(pts, func(p benchout.ScalePoint) bool { _, ok := p.Avg[k]; return ok }) {
				group = append(group, k)
				steps = steps || isScaleStep(k)
			}
		}
		if len(group) > 1 {
			keys = append(keys, group...)
		}
	}
	if !steps {
		return
	}
	rep.w.para("Inside app suspend and app notified: the averages per session of the steps the supervisor measures.")
	head := []string{"N"}
	for _, k := range keys {
		head = append(head, stepLabel(k, stageTitle(k)))
	}
	var rows [][]string
	for _, p := range pts {
		row := []string{fmtCount(p.N)}
		for _, k := range keys {
			if v, ok := p.Avg[k]; ok {
				row = append(row, fmtMs(v))
			} else {
				row = append(row, "—")
			}
		}
		rows = append(rows, row)
	}
	rep.w.table(head, rows)
}

// scaleStageKeys returns the stage keys the points report, in report
// order, without the admin suspend and resume (the caller's view of app
// suspend and of launch + notified: suspend all and resume all give it)
// and without the steps scaleSteps shows.
func scaleStageKeys(pts []benchout.ScalePoint) []string {
	seen := map[string]bool{}
	for _, p := range pts {
		for k := range p.Avg {
			seen[k] = k != benchout.StageSuspend && k != benchout.StageResume && !isScaleStep(k)
		}
	}
	var keys []string
	for _, k := range stageOrder {
		if seen[k] {
			keys = append(keys, k)
		}
		delete(seen, k)
	}
	rest := make([]string, 0, len(seen))
	for k, ok := range seen {
		if ok {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(keys, rest...)
}

func (rep *report) capacity() {
	w := &rep.w
	w.heading(2, "Capacity")
	c := rep.r.Capacity
	if c == nil || len(c.Points) == 0 {
		rep.notMeasured(benchout.SectionCapacity)
		return
	}
	w.para("Suspended sessions held by one supervisor. Per held session: the supervisor's RSS growth over " +
		"its RSS before the first, divided by the sessions. List: every continuation; get: one; restart: " +
		"the supervisor restarted over the store until it answers (medians).")
	pts := slices.Clone(c.Points)
	slices.SortFunc(pts, func(a, b benchout.CapacityPoint) int { return a.Sessions - b.Sessions })
	var rows [][]string
	for _, p := range pts {
		perStore := "—"
		if p.Sessions > 0 {
			perStore = fmtBytes(float64(p.StoreBytes) / float64(p.Sessions))
		}
		split := "—"
		if p.Sessions > 0 && (p.AnonBytes > 0 || p.FileBytes > 0) {
			n := float64(p.Sessions)
			split = fmt.Sprintf("%s / %s (%s)", fmtBytes(float64(p.AnonBytes)/n), fmtBytes(float64(p.FileBytes)/n), fmtBytes(float64(p.HeapBytes)/n))
		}
		rows = append(rows, []string{fmtCount(p.Sessions), fmtBytes(float64(p.RSSBytes)), fmtBytes(perHeld(p)), split,
			fmtBytes(float64(p.StoreBytes)), perStore, fmtCount(p.FDs), fmtMs(p.Fill),
			fmtMs(p.List.Median), fmtMs(p.Get.Median), fmtMs(p.Restart.Median)})
	}
	w.table([]string{"held sessions", "supervisor RSS", "per held session", "of which anon / store pages (live heap)", "store", "store per continuation",
		"descriptors held", "fill", "list", "get", "restart"}, rows)
	rep.figure("capacity", "memory and store per held session against sessions held")
	rep.figure("capacity-time", "list, get and restart times against sessions held")
	w.notes(c.Notes)
	if _, ok := rep.profiles[benchout.SectionCapacity]; ok {
		rep.profile(benchout.SectionCapacity, 15)
	}
}

func (rep *report) descriptors() {
	w := &rep.w
	w.heading(2, "Descriptors and sizes (Table III, Fig. 12)")
	d := rep.r.Descriptors
	if d == nil {
		rep.notMeasured(benchout.SectionDescriptors)
		return
	}
	w.para("Per app, one session: descriptors of the serving process(es), slots in its continuation, " +
		"descriptors the supervisor holds after collapsing duplicates; the continuation's size encoded " +
		"and compressed. The paper's row is OpenSSH with Migrate (Table III) and its complete continuation (Fig. 12).")
	var rows [][]string
	for _, a := range d.Apps {
		rows = append(rows, []string{a.App, fmtCount(a.Active), fmtCount(a.InContinuation), fmtCount(a.Held),
			fmtBytes(float64(a.RawBytes)), fmtBytes(float64(a.Compressed)), orDash(a.Note)})
	}
	rows = append(rows, []string{"paper: OpenSSH", fmtCount(paperSSHActive), fmtCount(paperSSHInCont), fmtCount(paperSSHHeld),
		"3.6 KB", "—", "Table III, Fig. 12"})
	w.table([]string{"app", "active", "in continuation", "held", "raw", "compressed", "note"}, rows)
	rep.figure("descriptors", "descriptors per session")
	rep.figure("sizes", "continuation sizes")
	w.notes(d.Notes)
}

func (rep *report) peers() {
	w := &rep.w
	w.heading(2, "Against the alternatives")
	rep.figure("peers", "latency medians of migrate and its alternatives")
	w.heading(3, "CRIU: dump + restore of counter-server with its live connection")
	switch c := rep.r.CRIU; {
	case c == nil:
		rep.notMeasured(benchout.SectionPeerCRIU)
	case !c.Available:
		w.para("CRIU could not be measured on this machine: %s.", orDash(c.Reason))
		if strings.TrimSpace(c.Check) != "" {
			w.para("`criu check` said:")
			w.code(headLines(c.Check, 20))
		}
		w.notes(c.Notes)
	default:
		w.para("%s %s (`--tcp-established`), %d cycles; images of one dump: %s; the client's stream survived: %s.",
			orDash(c.Binary), c.Version, c.Cycles, fmtBytes(float64(c.ImageSize)), yesNo(c.Survived))
		rows := [][]string{
			distRow("dump", c.Dump), distRow("restore", c.Restore), distRow("end to end (dump start → next byte)", c.EndToEnd),
		}
		d, ours := stageDist(rep.r.StagesCounter, benchout.StageEndToEnd)
		if ours {
			rows = append(rows, distRow("migrate: suspend + resume, end to end", d))
		}
		w.table([]string{"", "median", "p99", "n"}, rows)
		if ours && d.Median > 0 && c.EndToEnd.Median > 0 {
			w.para("migrate's suspend + resume is %s CRIU's dump + restore (medians).", compare(d.Median, c.EndToEnd.Median))
		}
		w.notes(c.Notes)
	}
	rep.plainRestart()
	rep.restartLoad()
}

func (rep *report) plainRestart() {
	w := &rep.w
	w.heading(3, "Plain restart of counter-server, no continuations")
	p := rep.r.PlainRestart
	if p == nil {
		rep.notMeasured(benchout.SectionPeerRestart)
		return
	}
	w.para("%d cycles. What the client saw: %s. Its state was lost: the stream restarted from 0 (%d numbers "+
		"lost per cycle). A new connection is served again %s (median) after the kill, p99 %s.",
		p.Cycles, orDash(p.ClientSaw), p.LostNumbers, fmtMs(p.Reconnect.Median), fmtMs(p.Reconnect.P99))
	w.notes(p.Notes)
}

func (rep *report) restartLoad() {
	w := &rep.w
	w.heading(3, "Restart under load: systemd-socket-activate against migrate-run --listen")
	l := rep.r.RestartLoad
	if l == nil {
		rep.notMeasured(benchout.SectionPeerLoad)
		return
	}
	w.para("%d clients connect over and over while the server is restarted.", l.Clients)
	var rows [][]string
	for _, r := range l.Runs {
		rows = append(rows, []string{r.Tool, fmtCount(r.Restarts), fmtCount(r.Conns), fmtCount(r.Served),
			fmtCount(r.Refused), fmtMs(r.Restart.Median), fmtMs(r.Restart.P99), orDash(r.Notes)})
	}
	w.table([]string{"tool", "restarts", "connections", "served", "refused", "restart median", "restart p99", "note"}, rows)
	rep.figure("peers-refused", "connections refused during restarts")
	w.notes(l.Notes)
}

func distRow(name string, d benchout.Dist) []string {
	if d.N == 0 {
		return []string{name, "—", "—", "0"}
	}
	return []string{name, fmtMs(d.Median), fmtMs(d.P99), fmtCount(d.N)}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// compare says how ours compares with theirs (smaller is better): "3.2×
// faster than" or "1.5× slower than"; both must be positive.
func compare(ours, theirs float64) string {
	switch {
	case ours <= 0 || theirs <= 0:
		return "not comparable with"
	case ours <= theirs:
		return fmtFactor(theirs/ours) + " faster than"
	default:
		return fmtFactor(ours/theirs) + " slower than"
	}
}
