package main

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/migrate-run/migrate/internal/benchout"
)

// drawPlots draws every figure the results allow into dir and returns them
// by name (the file is NAME.png). A figure without data is not drawn.
func drawPlots(r *results, dir string) (map[string]string, error) {
	figs := map[string]string{}
	for _, f := range []struct {
		name string
		make func(*results) (*plot.Plot, error)
		w, h vg.Length
	}{
		{"stages", stagesPlot, 18 * vg.Centimeter, 11 * vg.Centimeter},
		{"scale", scalePlot, 16 * vg.Centimeter, 10 * vg.Centimeter},
		{"scale-stages", scaleStagesPlot, 16 * vg.Centimeter, 10 * vg.Centimeter},
		{"capacity", capacityPlot, 16 * vg.Centimeter, 10 * vg.Centimeter},
		{"capacity-time", capacityTimePlot, 16 * vg.Centimeter, 10 * vg.Centimeter},
		{"descriptors", descriptorsPlot, 16 * vg.Centimeter, 10 * vg.Centimeter},
		{"sizes", sizesPlot, 16 * vg.Centimeter, 10 * vg.Centimeter},
		{"peers", peersPlot, 18 * vg.Centimeter, 10 * vg.Centimeter},
		{"peers-refused", refusedPlot, 16 * vg.Centimeter, 10 * vg.Centimeter},
	} {
		p, err := f.make(r)
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", f.name, err)
		}
		if p == nil {
			continue
		}
		file := f.name + ".png"
		if err := p.Save(f.w, f.h, filepath.Join(dir, file)); err != nil {
			return nil, fmt.Errorf("plot %s: %w", f.name, err)
		}
		figs[f.name] = file
	}
	return figs, nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

// logMs makes an axis logarithmic with 1-2-5 ticks labelled in ms or s.
// A vertical one loses its label: gonum centres an axis label at the
// linear midpoint of the range, which on a log axis pushes it past the top
// and pads the plot; the ticks carry the unit and the title says the rest.
func logMs(a *plot.Axis) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = seqTicks{label: tickMs}
}

// seqTicks marks 1, 2 and 5 times each power of ten in range (all of them
// labelled when the range is narrow, only the powers of ten otherwise).
type seqTicks struct{ label func(float64) string }

func (t seqTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= 0 {
		return nil
	}
	wide := math.Log10(hi/lo) > 3
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < lo*0.999 || v > hi*1.001 {
				continue
			}
			tk := plot.Tick{Value: v}
			if m == 1 || !wide {
				tk.Label = t.label(v)
			}
			ticks = append(ticks, tk)
		}
	}
	return ticks
}

func tickMs(v float64) string {
	if v >= 1000 {
		return trimFloat(v/1000) + " s"
	}
	return trimFloat(v) + " ms"
}

func tickCount(v float64) string {
	if v >= 1000 {
		return trimFloat(v/1000) + "k"
	}
	return trimFloat(v)
}

func trimFloat(v float64) string { return strings.TrimSuffix(fmt.Sprintf("%g", v), ".0") }

// relabel keeps gonum's default linear ticks with labels of its own.
type relabel struct{ label func(float64) string }

func (t relabel) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = t.label(ticks[i].Value)
		}
	}
	return ticks
}

// log2Ticks marks each power of two in range.
type log2Ticks struct{}

func (log2Ticks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for v := 1.0; v <= hi*1.001; v *= 2 {
		if v >= lo*0.999 {
			ticks = append(ticks, plot.Tick{Value: v, Label: trimFloat(v)})
		}
	}
	return ticks
}

// maxY is the largest y of the series.
func maxY(data []plotter.XYs) float64 {
	top := 0.0
	for _, xys := range data {
		for _, xy := range xys {
			top = math.Max(top, xy.Y)
		}
	}
	return top
}

// positive keeps the points a log axis can show.
func positive(xys plotter.XYs) plotter.XYs {
	return slices.DeleteFunc(xys, func(p plotter.XY) bool { return p.X <= 0 || p.Y <= 0 })
}

// dotRow is one category of a dot plot: a value per series (NaN: none).
type dotRow struct {
	label  string
	values []float64
}

// dotPlot draws categories on the y axis and one filled glyph per series on
// a logarithmic x axis in ms: bars cannot show 0.3 ms beside 57 ms. With a
// single series each glyph is labelled with its value; with several, the
// legend sits in room left on the right.
func dotPlot(title string, series []string, rows []dotRow) (*plot.Plot, error) {
	p := newPlot(title, "median (log scale)", "")
	p.Legend.Left = false
	logMs(&p.X)
	labels := make([]string, len(rows))
	for i, r := range rows {
		labels[len(rows)-1-i] = r.label
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for s, name := range series {
		var xys plotter.XYs
		var texts []string
		for i, r := range rows {
			if v := r.values[s]; v > 0 && !math.IsNaN(v) {
				off := 0.0
				if len(series) > 1 {
					off = 0.16 * (float64(s) - float64(len(series)-1)/2)
				}
				xys = append(xys, plotter.XY{X: v, Y: float64(len(rows)-1-i) - off})
				texts = append(texts, "  "+fmtMs(v))
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		if len(xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = glyph(s)
		p.Add(sc)
		if len(series) > 1 {
			p.Legend.Add(name, sc)
			continue
		}
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
		if err != nil {
			return nil, err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].YAlign = draw.YCenter
		}
		p.Add(l)
	}
	if math.IsInf(lo, 1) {
		return nil, nil
	}
	p.NominalY(labels...)
	p.Y.Min, p.Y.Max = -0.6, float64(len(rows))-0.4
	p.X.Min, p.X.Max = lo/1.6, hi*3
	if len(series) > 1 {
		p.X.Max = hi * 8 // room for the legend
	}
	return p, nil
}

// glyph is the i-th series' filled marker.
func glyph(i int) draw.GlyphStyle {
	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}}
	return draw.GlyphStyle{Color: plotutil.Color(i), Shape: shapes[i%len(shapes)], Radius: vg.Points(4.5)}
}

func stagesPlot(r *results) (*plot.Plot, error) {
	keys := []string{benchout.StageAppSuspend, benchout.StageCommit, benchout.StageLaunch,
		benchout.StageNotified, benchout.StageRun, benchout.StageEndToEnd}
	// The steps inside a stage, right after it, when a section has them.
	for _, parent := range []string{benchout.StageNotified, benchout.StageAppSuspend} {
		i := slices.Index(keys, parent) + 1
		for _, k := range slices.Backward(subStages[parent]) {
			_, c := stageDist(r.StagesCounter, k)
			_, sh := stageDist(r.StagesRshell, k)
			if (c || sh) && !slices.Contains(keys, k) {
				keys = slices.Insert(keys, i, k)
			}
		}
	}
	var series []string
	var cols []func(key string) float64
	for _, s := range []*benchout.Stages{r.StagesCounter, r.StagesRshell} {
		if s == nil {
			continue
		}
		series = append(series, s.App)
		cols = append(cols, func(k string) float64 {
			d, ok := stageDist(s, k)
			if !ok {
				return math.NaN()
			}
			return d.Median
		})
	}
	if len(series) == 0 {
		return nil, nil
	}
	for _, app := range []string{"counter-server", "rshell-server"} {
		pc := paperTableIV[app]
		series = append(series, "paper: "+pc.Name)
		cols = append(cols, func(k string) float64 {
			if v, ok := pc.Stages[k]; ok {
				return v
			}
			return math.NaN()
		})
	}
	rows := make([]dotRow, len(keys))
	for i, k := range keys {
		rows[i] = dotRow{label: stageTitle(k)}
		for _, c := range cols {
			rows[i].values = append(rows[i].values, c(k))
		}
	}
	return dotPlot("Same-host suspend + resume, by stage (Table IV)", series, rows)
}

func sortedScale(r *results) []benchout.ScalePoint {
	if r.Scale == nil {
		return nil
	}
	pts := slices.Clone(r.Scale.Points)
	slices.SortFunc(pts, func(a, b benchout.ScalePoint) int { return a.N - b.N })
	return pts
}

// linesPlot adds one line with points per named series.
func addLines(p *plot.Plot, names []string, data []plotter.XYs) (bool, error) {
	drawn := false
	for i, xys := range data {
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return false, err
		}
		l.Color, pts.Color = plotutil.Color(i), plotutil.Color(i)
		pts.Shape = plotutil.Shape(i)
		p.Add(l, pts)
		p.Legend.Add(names[i], l, pts)
		drawn = true
	}
	return drawn, nil
}

func scalePlot(r *results) (*plot.Plot, error) {
	pts := sortedScale(r)
	if len(pts) == 0 {
		return nil, nil
	}
	p := newPlot(fmt.Sprintf("N simultaneous suspends + resumes (%s), wall-clock time", orDash(r.Scale.App)), "N sessions (log scale)", "wall-clock time (log scale)")
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, log2Ticks{}
	logMs(&p.Y)
	p.Y.Label.Text = ""
	var total, susp, res plotter.XYs
	for _, pt := range pts {
		n := float64(pt.N)
		total = append(total, plotter.XY{X: n, Y: pt.Total})
		susp = append(susp, plotter.XY{X: n, Y: pt.SuspendAll})
		res = append(res, plotter.XY{X: n, Y: pt.ResumeAll})
	}
	data := []plotter.XYs{positive(total), positive(susp), positive(res)}
	ok, err := addLines(p, []string{"total (until every client has its next byte)", "suspend all", "resume all"}, data)
	if err != nil || !ok {
		return nil, err
	}
	p.Y.Max = math.Max(maxY(data), paperScaleMs) * 8 // room for the legend
	marks := plotter.XYs{{X: targetScaleN, Y: targetScaleMs}}
	paper := plotter.XYs{{X: paperScaleSessions, Y: paperScaleMs}}
	for i, m := range []struct {
		name string
		xys  plotter.XYs
	}{{"target: 1,024 in 1.5 s", marks}, {"paper: 64 SSH sessions in 1.5 s", paper}} {
		sc, err := plotter.NewScatter(m.xys)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Shape = draw.CrossGlyph{}
		if i == 1 {
			sc.GlyphStyle.Shape = draw.BoxGlyph{}
		}
		sc.GlyphStyle.Radius = vg.Points(5)
		sc.GlyphStyle.Color = color.Black
		p.Add(sc)
		p.Legend.Add(m.name, sc)
	}
	return p, nil
}

func scaleStagesPlot(r *results) (*plot.Plot, error) {
	pts := sortedScale(r)
	if len(pts) == 0 {
		return nil, nil
	}
	keys := scaleStageKeys(pts)
	p := newPlot("Average time per session, by stage, against N", "N sessions (log scale)", "average per session (log scale)")
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, log2Ticks{}
	logMs(&p.Y)
	p.Y.Label.Text = ""
	data := make([]plotter.XYs, len(keys))
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = stageTitle(k)
		for _, pt := range pts {
			if v, ok := pt.Avg[k]; ok {
				data[i] = append(data[i], plotter.XY{X: float64(pt.N), Y: v})
			}
		}
		data[i] = positive(data[i])
	}
	ok, err := addLines(p, names, data)
	if err != nil || !ok {
		return nil, err
	}
	p.Y.Max = maxY(data) * 8 // room for the legend
	return p, nil
}

func sortedCapacity(r *results) []benchout.CapacityPoint {
	if r.Capacity == nil {
		return nil
	}
	pts := slices.Clone(r.Capacity.Points)
	pts = slices.DeleteFunc(pts, func(p benchout.CapacityPoint) bool { return p.Sessions <= 0 })
	slices.SortFunc(pts, func(a, b benchout.CapacityPoint) int { return a.Sessions - b.Sessions })
	return pts
}

func capacityPlot(r *results) (*plot.Plot, error) {
	pts := sortedCapacity(r)
	if len(pts) == 0 {
		return nil, nil
	}
	p := newPlot("Bytes per held session", "sessions held (log scale)", "bytes per session")
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, seqTicks{label: tickCount}
	p.Y.Min = 0
	var mem, store plotter.XYs
	for _, pt := range pts {
		n := float64(pt.Sessions)
		mem = append(mem, plotter.XY{X: n, Y: perHeld(pt)})
		store = append(store, plotter.XY{X: n, Y: float64(pt.StoreBytes) / n})
	}
	if _, err := addLines(p, []string{"supervisor RSS growth", "store file"}, []plotter.XYs{mem, store}); err != nil {
		return nil, err
	}
	lo, hi := float64(pts[0].Sessions), float64(pts[len(pts)-1].Sessions)
	if hi == lo {
		lo, hi = lo/2, hi*2
	}
	target, err := plotter.NewLine(plotter.XYs{{X: lo, Y: targetBytesPerHeld}, {X: hi, Y: targetBytesPerHeld}})
	if err != nil {
		return nil, err
	}
	target.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(target)
	p.Legend.Add("target: 2 KiB of memory", target)
	top := targetBytesPerHeld
	for i := range mem {
		top = math.Max(top, math.Max(mem[i].Y, store[i].Y))
	}
	p.Y.Max = headroom(top)
	return p, nil
}

func capacityTimePlot(r *results) (*plot.Plot, error) {
	pts := sortedCapacity(r)
	if len(pts) == 0 {
		return nil, nil
	}
	p := newPlot("Operations over the held sessions (medians)", "sessions held (log scale)", "time (log scale)")
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, seqTicks{label: tickCount}
	logMs(&p.Y)
	p.Y.Label.Text = ""
	var list, get, restart plotter.XYs
	for _, pt := range pts {
		n := float64(pt.Sessions)
		list = append(list, plotter.XY{X: n, Y: pt.List.Median})
		get = append(get, plotter.XY{X: n, Y: pt.Get.Median})
		restart = append(restart, plotter.XY{X: n, Y: pt.Restart.Median})
	}
	data := []plotter.XYs{positive(list), positive(get), positive(restart)}
	ok, err := addLines(p, []string{"list every continuation", "get one", "restart the supervisor"}, data)
	if err != nil || !ok {
		return nil, err
	}
	p.Y.Max = maxY(data) * 4 // room for the legend
	return p, nil
}

// headroom is a linear axis maximum that leaves the top quarter free for
// the legend.
func headroom(top float64) float64 {
	if top <= 0 {
		return 1
	}
	return top * 1.4
}

// barGroups draws grouped vertical bars: one group per label, one bar per
// series.
func barGroups(title, ylabel string, labels, series []string, values [][]float64) (*plot.Plot, error) {
	p := newPlot(title, "", ylabel)
	p.Legend.Left = false
	w := vg.Points(14)
	for s, name := range series {
		bars, err := plotter.NewBarChart(plotter.Values(values[s]), w)
		if err != nil {
			return nil, err
		}
		bars.Color = plotutil.Color(s)
		bars.LineStyle.Width = 0
		bars.Offset = w * vg.Length(float64(s)-float64(len(series)-1)/2)
		p.Add(bars)
		p.Legend.Add(name, bars)
	}
	p.NominalX(labels...)
	p.Y.Min, p.Y.Max = 0, headroom(slices.Max(slices.Concat(values...)))
	return p, nil
}

func descriptorsPlot(r *results) (*plot.Plot, error) {
	if r.Descriptors == nil || len(r.Descriptors.Apps) == 0 {
		return nil, nil
	}
	var labels []string
	vals := make([][]float64, 3)
	for _, a := range r.Descriptors.Apps {
		labels = append(labels, a.App)
		vals[0] = append(vals[0], float64(a.Active))
		vals[1] = append(vals[1], float64(a.InContinuation))
		vals[2] = append(vals[2], float64(a.Held))
	}
	labels = append(labels, "paper: OpenSSH")
	vals[0] = append(vals[0], paperSSHActive)
	vals[1] = append(vals[1], paperSSHInCont)
	vals[2] = append(vals[2], paperSSHHeld)
	return barGroups("Descriptors per session (Table III)", "descriptors", labels,
		[]string{"active", "in the continuation", "held after collapse"}, vals)
}

func sizesPlot(r *results) (*plot.Plot, error) {
	if r.Descriptors == nil || len(r.Descriptors.Apps) == 0 {
		return nil, nil
	}
	var labels []string
	vals := make([][]float64, 2)
	for _, a := range r.Descriptors.Apps {
		labels = append(labels, a.App)
		vals[0] = append(vals[0], float64(a.RawBytes))
		vals[1] = append(vals[1], float64(a.Compressed))
	}
	labels = append(labels, "paper: OpenSSH")
	vals[0] = append(vals[0], paperSSHRawBytes)
	vals[1] = append(vals[1], 0)
	p, err := barGroups("Continuation size (Fig. 12)", "", labels, []string{"raw", "compressed"}, vals)
	if p != nil {
		p.Y.Tick.Marker = relabel{func(v float64) string { return fmtBytes(v) }}
	}
	return p, err
}

func peersPlot(r *results) (*plot.Plot, error) {
	var rows []dotRow
	add := func(label string, v float64) {
		if v > 0 {
			rows = append(rows, dotRow{label: label, values: []float64{v}})
		}
	}
	if d, ok := stageDist(r.StagesCounter, benchout.StageEndToEnd); ok {
		add("migrate: suspend + resume", d.Median)
	}
	if c := r.CRIU; c != nil && c.Available {
		add("CRIU: dump", c.Dump.Median)
		add("CRIU: restore", c.Restore.Median)
		add("CRIU: dump + restore, end to end", c.EndToEnd.Median)
	}
	if pr := r.PlainRestart; pr != nil {
		add("plain restart: served again", pr.Reconnect.Median)
	}
	if l := r.RestartLoad; l != nil {
		for _, run := range l.Runs {
			add("restart: "+run.Tool, run.Restart.Median)
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return dotPlot("migrate against the alternatives (medians)", []string{"median"}, rows)
}

func refusedPlot(r *results) (*plot.Plot, error) {
	if r.RestartLoad == nil || len(r.RestartLoad.Runs) == 0 {
		return nil, nil
	}
	// A refused client retries at once, so the tools that refuse make far
	// more attempts: the share refused compares them, the labels give the
	// counts.
	var labels, texts []string
	var share plotter.Values
	var xys plotter.XYs
	for i, run := range r.RestartLoad.Runs {
		v := 0.0
		if run.Conns > 0 {
			v = 100 * float64(run.Refused) / float64(run.Conns)
		}
		labels = append(labels, run.Tool)
		share = append(share, v)
		xys = append(xys, plotter.XY{X: float64(i), Y: v})
		texts = append(texts, fmt.Sprintf("%s of %s", fmtCount(run.Refused), fmtCount(run.Conns)))
	}
	p := newPlot("Connections refused during restarts under load", "", "refused (% of attempts)")
	bars, err := plotter.NewBarChart(share, vg.Points(28))
	if err != nil {
		return nil, err
	}
	bars.Color = plotutil.Color(0)
	bars.LineStyle.Width = 0
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].XAlign = draw.XCenter
		l.Offset = vg.Point{Y: vg.Points(3)}
	}
	p.Add(bars, l)
	p.NominalX(labels...)
	p.Y.Min, p.Y.Max = 0, 110
	return p, nil
}
