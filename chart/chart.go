// Package chart draws the few kinds of figure hesscope's analyses need —
// line charts, heat maps with contours, and histograms — with gonum's plot
// package, and writes them atomically as PNG or SVG according to the file's
// extension. It is named chart, not plot, so that it can be imported next to
// gonum.org/v1/plot.
//
// Each figure is a plain struct: fill in the data and call Save. Nothing is
// drawn until Save, and Save never modifies the figure.
package chart

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"hesscope/checkpoint"
)

// Default figure size.
const (
	Width  = 6 * vg.Inch
	Height = 4 * vg.Inch
)

// Format returns "png" or "svg" for a path with that extension (any case),
// and an error naming the path otherwise.
func Format(path string) (string, error) {
	f := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if f != "png" && f != "svg" {
		return "", fmt.Errorf("chart: %s: want a .png or .svg file", path)
	}
	return f, nil
}

// Series is one curve of a Line chart.
type Series struct {
	Name string
	X, Y []float64
	// YLo and YHi, when given (one per point), are the ends of an error
	// bar at every point, or with Band the edges of a shaded band.
	YLo, YHi []float64
	Band     bool
	// Dashed draws a dashed line; Points marks every point; NoLine draws
	// the points alone (a scatter plot); Faint draws a thin, light line and
	// small points, for the individual runs behind a mean.
	Dashed, Points, NoLine, Faint bool
	// Shape of the points: 0 disc, 1 filled square, 2 triangle, 3 ring.
	Shape int
	// Color; nil picks the next of a fixed palette.
	Color color.Color
}

// Legend placements of a Line.
const (
	LegendInside = ""      // inside the plot, top right
	LegendRight  = "right" // outside the plot, at its right: never hides data
	LegendNone   = "none"
)

// Line is a line chart of one or more series.
type Line struct {
	Title, XLabel, YLabel string
	Series                []Series
	// LogX and LogY use logarithmic axes. On a log axis values ≤ 0 are
	// drawn at the smallest positive value of the chart (or 1e-300), or
	// for y at LogFloor·(largest value) if that is higher, which also
	// bounds the axis below.
	LogX, LogY bool
	LogFloor   float64
	// YMin and YMax fix the y range when YMin < YMax.
	YMin, YMax float64
	// XTicks, when given, are the labelled x ticks (such as the batch
	// sizes of a study).
	XTicks []float64
	// Legend is LegendInside (default), LegendRight or LegendNone.
	Legend string
	// Width and Height are the size (0: 6×4 inches).
	Width, Height vg.Length
}

// palette is a colour-blind-safe qualitative palette (Okabe–Ito).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{0, 158, 115, 255},   // bluish green
	color.RGBA{204, 121, 167, 255}, // reddish purple
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{86, 180, 233, 255},  // sky blue
	color.RGBA{0, 0, 0, 255},       // black
}

// Palette returns the i-th colour of the charts' palette (cyclic).
func Palette(i int) color.Color { return palette[i%len(palette)] }

// Font sizes in points: readable when a 6-inch figure is shown at its
// natural size or somewhat smaller.
const (
	titleSize  = 14
	labelSize  = 13
	tickSize   = 11
	legendSize = 11
)

// sans is the charts' typeface, Liberation Sans (metrically Arial), one
// of the fonts gonum plot embeds.
func sans(size vg.Length) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
}

func style(p *plot.Plot) {
	p.Title.TextStyle.Font = sans(titleSize)
	p.X.Label.TextStyle.Font = sans(labelSize)
	p.Y.Label.TextStyle.Font = sans(labelSize)
	p.X.Tick.Label.Font = sans(tickSize)
	p.Y.Tick.Label.Font = sans(tickSize)
	p.Legend.TextStyle.Font = sans(legendSize)
	p.Title.Padding = vg.Points(6)
}

// legendEntry is one line of a legend.
type legendEntry struct {
	name   string
	thumbs []plot.Thumbnailer
}

// Save draws the chart to path (.png or .svg), atomically.
func (c *Line) Save(path string) error {
	format, err := Format(path)
	if err != nil {
		return err
	}
	p, entries, err := c.plot(path)
	if err != nil {
		return err
	}
	w, h := c.Width, c.Height
	if w == 0 {
		w = Width
	}
	if h == 0 {
		h = Height
	}
	return draw1(path, format, w, h, []*plot.Plot{p}, entries, c.Legend)
}

// plot builds the gonum plot of c and its legend entries.
func (c *Line) plot(path string) (*plot.Plot, []legendEntry, error) {
	p := plot.New()
	style(p)
	p.Title.Text = c.Title
	p.X.Label.Text = c.XLabel
	p.Y.Label.Text = c.YLabel
	p.Add(plotter.NewGrid())
	yFloor, xFloor := math.Inf(1), math.Inf(1)
	top := 0.0
	for _, s := range c.Series {
		for k, y := range s.Y {
			ys := []float64{y}
			if k < len(s.YLo) && k < len(s.YHi) {
				ys = append(ys, s.YLo[k], s.YHi[k])
			}
			for _, v := range ys {
				if v > 0 {
					yFloor = min(yFloor, v)
				}
				top = max(top, v)
			}
			if k < len(s.X) && s.X[k] > 0 {
				xFloor = min(xFloor, s.X[k])
			}
		}
	}
	if math.IsInf(yFloor, 1) {
		yFloor = 1e-300
	}
	if math.IsInf(xFloor, 1) {
		xFloor = 1e-300
	}
	if c.LogY {
		if c.LogFloor > 0 {
			yFloor = max(yFloor, c.LogFloor*top)
		}
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	}
	if c.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicks{}
	}
	if len(c.XTicks) > 0 {
		var ts plot.ConstantTicks
		for _, v := range c.XTicks {
			ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
		p.X.Tick.Marker = ts
	}
	fy := func(y float64) float64 {
		if c.LogY && y < yFloor {
			return yFloor
		}
		return y
	}
	var entries []legendEntry
	for i, s := range c.Series {
		if len(s.X) != len(s.Y) || s.YLo != nil && len(s.YLo) != len(s.Y) || s.YHi != nil && len(s.YHi) != len(s.Y) {
			return nil, nil, fmt.Errorf("chart: %s: series %q has %d x, %d y, %d lower and %d upper values", path, s.Name, len(s.X), len(s.Y), len(s.YLo), len(s.YHi))
		}
		var xys plotter.XYs
		var lo, hi []float64
		for k := range s.X {
			y, x := s.Y[k], s.X[k]
			if math.IsNaN(y) || math.IsInf(y, 0) || math.IsNaN(x) || c.LogX && x <= 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: x, Y: fy(y)})
			if s.YLo != nil && s.YHi != nil {
				lo, hi = append(lo, fy(s.YLo[k])), append(hi, fy(s.YHi[k]))
			}
		}
		if len(xys) == 0 {
			continue
		}
		col := s.Color
		if col == nil {
			col = Palette(i)
		}
		var thumbs []plot.Thumbnailer
		if lo != nil && s.Band {
			ring := append(plotter.XYs(nil), xys...)
			for k := range ring {
				ring[k].Y = hi[k]
			}
			for k := len(xys) - 1; k >= 0; k-- {
				ring = append(ring, plotter.XY{X: xys[k].X, Y: lo[k]})
			}
			poly, err := plotter.NewPolygon(ring)
			if err != nil {
				return nil, nil, fmt.Errorf("chart: %s: %w", path, err)
			}
			r, g, b, _ := col.RGBA()
			poly.Color = color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 60}
			poly.LineStyle.Width = 0
			p.Add(poly)
			thumbs = append(thumbs, poly)
		}
		if !s.NoLine {
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, nil, fmt.Errorf("chart: %s: %w", path, err)
			}
			l.Color = col
			l.Width = vg.Points(2)
			if s.Faint {
				l.Width = vg.Points(0.8)
				l.Color = faint(col)
			}
			if s.Dashed {
				l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			}
			p.Add(l)
			thumbs = append(thumbs, l)
		}
		if lo != nil && !s.Band {
			eb := &plotter.YErrorBars{XYs: xys, YErrors: make(plotter.YErrors, len(xys))}
			for k := range xys {
				eb.YErrors[k].Low, eb.YErrors[k].High = xys[k].Y-lo[k], hi[k]-xys[k].Y
			}
			eb.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1.5)}
			eb.CapWidth = vg.Points(7)
			p.Add(eb)
		}
		if s.Points || s.NoLine {
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, nil, fmt.Errorf("chart: %s: %w", path, err)
			}
			sc.Color = col
			sc.Shape = shapes[s.Shape%len(shapes)]
			sc.Radius = vg.Points(3.5)
			if s.Faint {
				sc.Radius, sc.Color = vg.Points(2), faint(col)
			}
			p.Add(sc)
			thumbs = append(thumbs, sc)
		}
		if s.Name != "" {
			entries = append(entries, legendEntry{s.Name, thumbs})
		}
	}
	if c.YMin < c.YMax {
		p.Y.Min, p.Y.Max = c.YMin, c.YMax
	}
	if c.LogX && p.X.Min <= 0 {
		p.X.Min = xFloor
	}
	for _, t := range c.XTicks {
		if !c.LogX || t > 0 {
			p.X.Min, p.X.Max = min(p.X.Min, t), max(p.X.Max, t)
		}
	}
	scatter := slices.ContainsFunc(c.Series, func(s Series) bool { return s.Points || s.NoLine })
	if c.LogX || len(c.XTicks) > 0 || scatter {
		// Room on both sides so that end points and error bars show.
		pad(&p.X, c.LogX, 0.06)
	}
	if !(c.YMin < c.YMax) {
		pad(&p.Y, c.LogY, 0.05)
	}
	return p, entries, nil
}

// pad widens the axis by a fraction of its range on both sides (of its
// logarithm on a log axis), and a one-point range to a factor of 1.5 (or ±1)
// around it.
func pad(a *plot.Axis, log bool, frac float64) {
	lo, hi := a.Min, a.Max
	switch {
	case log && lo > 0 && hi > lo:
		f := math.Pow(hi/lo, frac)
		a.Min, a.Max = lo/f, hi*f
	case log && lo > 0:
		a.Min, a.Max = lo/1.5, hi*1.5
	case hi > lo:
		d := frac * (hi - lo)
		a.Min, a.Max = lo-d, hi+d
	default:
		a.Min, a.Max = lo-1, hi+1
	}
}

var shapes = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.BoxGlyph{}, draw.TriangleGlyph{}, draw.RingGlyph{}}

// faint is col mixed with white.
func faint(col color.Color) color.Color {
	r, g, b, _ := col.RGBA()
	mix := func(v uint32) uint8 { return uint8((v>>8)/2 + 127) }
	return color.NRGBA{mix(r), mix(g), mix(b), 255}
}

// Panels are line charts side by side, sharing one legend at the right
// (the union of their series' names, first appearance first), so that
// comparable quantities — say normal and robust training — can be read
// against the same scale.
type Panels struct {
	Plots []*Line
	// SameY gives every panel the y range of all of them (a log panel
	// keeps its own lower end if that range reaches 0).
	SameY bool
	// Width and Height are the size (0: 4 inches per panel plus the
	// legend, 4 inches high).
	Width, Height vg.Length
}

// Save draws the panels to path (.png or .svg), atomically.
func (ps *Panels) Save(path string) error {
	format, err := Format(path)
	if err != nil {
		return err
	}
	if len(ps.Plots) == 0 {
		return fmt.Errorf("chart: %s: no panels", path)
	}
	var plots []*plot.Plot
	var entries []legendEntry
	seen := map[string]bool{}
	for _, l := range ps.Plots {
		p, es, err := l.plot(path)
		if err != nil {
			return err
		}
		plots = append(plots, p)
		for _, e := range es {
			if !seen[e.name] {
				seen[e.name] = true
				entries = append(entries, e)
			}
		}
	}
	if ps.SameY {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range plots {
			lo, hi = min(lo, p.Y.Min), max(hi, p.Y.Max)
		}
		for i, p := range plots {
			if !ps.Plots[i].LogY || lo > 0 {
				p.Y.Min = lo
			}
			p.Y.Max = hi
		}
	}
	w, h := ps.Width, ps.Height
	if w == 0 {
		w = vg.Length(len(plots))*4*vg.Inch + 2*vg.Inch
	}
	if h == 0 {
		h = Height
	}
	return draw1(path, format, w, h, plots, entries, LegendRight)
}

// draw1 draws plots side by side with their legend placed as asked, and
// writes the image to path.
func draw1(path, format string, w, h vg.Length, plots []*plot.Plot, entries []legendEntry, legend string) error {
	var c vg.CanvasWriterTo
	if format == "png" {
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(150))}
	} else {
		c = vgsvg.New(w, h)
	}
	dc := draw.New(c)
	// A white background (PNG is transparent otherwise).
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	lg := plot.NewLegend()
	lg.TextStyle.Font = sans(legendSize)
	lg.ThumbnailWidth = vg.Points(24)
	for _, e := range entries {
		lg.Add(e.name, e.thumbs...)
	}
	area := dc
	switch {
	case legend == LegendRight && len(entries) > 0:
		lg.Top, lg.Left = true, true
		lw := lg.Rectangle(dc).Size().X + vg.Points(14)
		area = draw.Crop(dc, 0, -lw, 0, 0)
		lc := draw.Crop(dc, w-lw+vg.Points(8), 0, 0, -vg.Points(30))
		lg.Draw(lc)
	case legend == LegendInside && len(plots) == 1:
		plots[0].Legend = lg
		plots[0].Legend.Top = true
	}
	if len(plots) == 1 {
		fitTitle(plots[0], area.Rectangle.Size().X)
		plots[0].Draw(area)
	} else {
		// The data areas aligned (plot.Align), the titles drawn above
		// them in a band of their own, so that both line up.
		titles := make([]string, len(plots))
		band := vg.Length(0)
		for i, p := range plots {
			titles[i], p.Title.Text = p.Title.Text, ""
			if titles[i] != "" {
				band = max(band, p.Title.TextStyle.Height(titles[i])+2*p.Title.Padding)
			}
		}
		body := draw.Crop(area, 0, 0, 0, -band)
		tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Points(14), PadTop: vg.Points(4), PadBottom: vg.Points(2), PadLeft: vg.Points(2)}
		cs := plot.Align([][]*plot.Plot{plots}, tiles, body)
		for i, p := range plots {
			p.Draw(cs[0][i])
			if titles[i] == "" {
				continue
			}
			data := p.DataCanvas(cs[0][i])
			sty := p.Title.TextStyle
			sty.XAlign, sty.YAlign = draw.XCenter, draw.YBottom
			area.FillText(sty, vg.Point{X: (data.Min.X + data.Max.X) / 2, Y: body.Max.Y + p.Title.Padding}, titles[i])
		}
	}
	return checkpoint.WriteFileAtomic(path, func(wr io.Writer) error {
		_, err := c.WriteTo(wr)
		return err
	})
}

// fitTitle breaks a title too wide for the figure into lines at spaces,
// and moves a top legend below it (gonum places the legend in the figure
// less its padding, where it would cover the title).
func fitTitle(p *plot.Plot, width vg.Length) {
	if p.Title.Text == "" {
		return
	}
	limit := width - 2*p.Title.Padding - vg.Points(20)
	var lines []string
	line := ""
	for _, word := range strings.Fields(p.Title.Text) {
		next := strings.TrimSpace(line + " " + word)
		if line != "" && p.Title.TextStyle.Width(next) > limit {
			lines = append(lines, line)
			next = word
		}
		line = next
	}
	lines = append(lines, line)
	p.Title.Text = strings.Join(lines, "\n")
	p.Legend.YOffs = -(p.Title.TextStyle.Height(p.Title.Text) + p.Title.Padding)
}

// Heatmap is a colour map of Z over a rectangular grid, with contour lines
// and a colour bar.
type Heatmap struct {
	Title, XLabel, YLabel string
	// ZLabel labels the colour bar (what Z is, such as "loss").
	ZLabel string
	// X has the column coordinates, Y the row coordinates, both increasing;
	// Z[j][i] is the value at (X[i], Y[j]).
	X, Y []float64
	Z    [][]float64
	// Contours is the number of contour levels, equally spaced between the
	// smallest and largest Z (0: 10; negative: none).
	Contours int
	// Width and Height are the size (0: 6×5 inches).
	Width, Height vg.Length
}

type grid struct{ h *Heatmap }

func (g grid) Dims() (c, r int)   { return len(g.h.X), len(g.h.Y) }
func (g grid) Z(c, r int) float64 { return g.h.Z[r][c] }
func (g grid) X(c int) float64    { return g.h.X[c] }
func (g grid) Y(r int) float64    { return g.h.Y[r] }

// Save draws the heat map to path (.png or .svg), atomically.
func (h *Heatmap) Save(path string) error {
	format, err := Format(path)
	if err != nil {
		return err
	}
	if len(h.X) < 2 || len(h.Y) < 2 || len(h.Z) != len(h.Y) {
		return fmt.Errorf("chart: %s: heat map needs at least 2×2 points and one row of Z per y", path)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for j, row := range h.Z {
		if len(row) != len(h.X) {
			return fmt.Errorf("chart: %s: row %d of Z has %d values for %d x", path, j, len(row), len(h.X))
		}
		for _, z := range row {
			if !math.IsNaN(z) && !math.IsInf(z, 0) {
				lo, hi = min(lo, z), max(hi, z)
			}
		}
	}
	if !(lo < hi) {
		hi = lo + 1
	}
	p := plot.New()
	style(p)
	p.Title.Text = h.Title
	p.X.Label.Text = h.XLabel
	p.Y.Label.Text = h.YLabel
	cm := moreland.SmoothBlueRed()
	cm.SetMin(lo)
	cm.SetMax(hi)
	pal := cm.Palette(255)
	hm := plotter.NewHeatMap(grid{h}, pal)
	hm.Min, hm.Max = lo, hi
	hm.Rasterized = true // one image: no seams between the cells
	// The largest value may round past the last colour.
	hm.Underflow, hm.Overflow = pal.Colors()[0], pal.Colors()[len(pal.Colors())-1]
	p.Add(hm)
	n := h.Contours
	if n == 0 {
		n = 10
	}
	for k := range max(n, 0) {
		level := lo + (hi-lo)*(float64(k)+0.5)/float64(n)
		for _, pts := range contourLines(h.X, h.Y, h.Z, level) {
			xys := make(plotter.XYs, len(pts))
			for i, pt := range pts {
				xys[i] = plotter.XY{X: pt[0], Y: pt[1]}
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return fmt.Errorf("chart: %s: %w", path, err)
			}
			l.Color, l.Width = color.Black, vg.Points(0.6)
			p.Add(l)
		}
	}
	wd, ht := h.Width, h.Height
	if wd == 0 {
		wd = Width
	}
	if ht == 0 {
		ht = 5 * vg.Inch
	}
	fitTitle(p, wd-vg.Inch)
	// The colour bar is a narrow plot of its own at the right.
	bar := plot.New()
	bar.Add(&plotter.ColorBar{ColorMap: cm, Vertical: true})
	bar.HideX()
	bar.Y.Padding = 0
	bar.Y.Label.Text = h.ZLabel
	bar.Title.Text = " "
	var c vg.CanvasWriterTo
	if format == "png" {
		c = vgimg.PngCanvas{Canvas: vgimg.New(wd, ht)}
	} else {
		c = vgsvg.New(wd, ht)
	}
	dc := draw.New(c)
	barWidth := vg.Inch
	if h.ZLabel != "" {
		barWidth += vg.Points(14)
	}
	p.Draw(draw.Crop(dc, 0, -barWidth, 0, 0))
	bar.Draw(draw.Crop(dc, wd-barWidth+vg.Points(12), -vg.Points(24), vg.Points(30), 0))
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
}

// logTicks marks a log axis: over less than two decades 1, 2 and 5 times
// the powers of ten, labelled, with unlabelled minor ticks at the other
// multiples (all labelled if that gives fewer than two labels, and linear
// ticks if that still does); over more, the powers of ten (at most about eight labelled),
// with unlabelled minor ticks at 2…9 times them while there are few decades.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return nil
	}
	a, b := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	decades := math.Log10(hi / lo)
	step := max(1, (b-a+7)/8)
	var ticks []plot.Tick
	for k := a; k <= b; k++ {
		p := math.Pow(10, float64(k))
		for m := 1; m <= 9; m++ {
			if m > 1 && decades > 6 {
				break
			}
			v := float64(m) * p
			if v < lo || v > hi {
				continue
			}
			label := ""
			switch {
			case decades < 2 && (m == 1 || m == 2 || m == 5):
				label = strconv.FormatFloat(v, 'g', 3, 64)
			case decades >= 2 && m == 1 && (k-a)%step == 0:
				label = strconv.FormatFloat(v, 'g', 3, 64)
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: label})
		}
	}
	labelled := func() int {
		n := 0
		for _, t := range ticks {
			if t.Label != "" {
				n++
			}
		}
		return n
	}
	if labelled() < 2 && decades < 2 {
		for i := range ticks {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', 3, 64)
		}
	}
	if labelled() < 2 {
		// Less than a factor of two or so: linear ticks read best.
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	return ticks
}

// Histogram shows the distribution of one or more sets of values, each as
// a step outline over common bins.
type Histogram struct {
	Title, XLabel string
	Sets          []Series // X holds the values; Y is ignored
	// Bins is the number of bins (0: 30).
	Bins int
	// LogX bins and draws on a logarithmic axis: bins of equal width in
	// log10 of the value, for values spread over orders of magnitude, which
	// equal bins would pile into one. Values ≤ 0 are left out (count them
	// in the set's Name).
	LogX bool
	// Width and Height are the size (0: 6×4 inches).
	Width, Height vg.Length
}

// Counts bins values into n equal bins over [lo, hi] and returns the bin
// edges (n+1) and the counts (n); values outside or NaN are ignored, and hi
// itself falls in the last bin.
func Counts(values []float64, lo, hi float64, n int) (edges []float64, counts []int) {
	edges = make([]float64, n+1)
	for k := range edges {
		edges[k] = lo + (hi-lo)*float64(k)/float64(n)
	}
	counts = make([]int, n)
	for _, v := range values {
		if !(v >= lo && v <= hi) {
			continue
		}
		k := int(float64(n) * (v - lo) / (hi - lo))
		if k >= n || hi == lo {
			k = n - 1
		}
		counts[k]++
	}
	return edges, counts
}

// Save draws the histogram to path (.png or .svg), atomically.
func (h *Histogram) Save(path string) error {
	bins := h.Bins
	if bins <= 0 {
		bins = 30
	}
	// Bin t(v): v itself, or log10 v on a log axis.
	t, inv := func(v float64) float64 { return v }, func(v float64) float64 { return v }
	if h.LogX {
		t, inv = math.Log10, func(v float64) float64 { return math.Pow(10, v) }
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	sets := make([][]float64, len(h.Sets))
	for k, s := range h.Sets {
		for _, v := range s.X {
			if h.LogX && !(v > 0) {
				continue
			}
			if tv := t(v); !math.IsNaN(tv) && !math.IsInf(tv, 0) {
				sets[k] = append(sets[k], tv)
				lo, hi = min(lo, tv), max(hi, tv)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	line := Line{Title: h.Title, XLabel: h.XLabel, YLabel: "count", Width: h.Width, Height: h.Height, LogX: h.LogX}
	top := 0
	for k, s := range h.Sets {
		edges, counts := Counts(sets[k], lo, hi, bins)
		top = max(top, slices.Max(counts))
		var xs, ys []float64
		xs, ys = append(xs, inv(edges[0])), append(ys, 0)
		for k, c := range counts {
			xs = append(xs, inv(edges[k]), inv(edges[k+1]))
			ys = append(ys, float64(c), float64(c))
		}
		xs, ys = append(xs, inv(edges[bins])), append(ys, 0)
		line.Series = append(line.Series, Series{Name: s.Name, X: xs, Y: ys, Color: s.Color})
	}
	// Head room for the legend, one row per named set.
	line.YMin, line.YMax = 0, float64(max(top, 1))*(1.05+0.1*float64(len(h.Sets)))
	return line.Save(path)
}
