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
	"strings"

	"gonum.org/v1/plot"
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
	// Dashed draws a dashed line; Points marks every point.
	Dashed, Points bool
	// Color; nil picks the next of a fixed palette.
	Color color.Color
}

// Line is a line chart of one or more series.
type Line struct {
	Title, XLabel, YLabel string
	Series                []Series
	// LogY uses a logarithmic y axis; values ≤ 0 are drawn at the smallest
	// positive value of the chart (or 1e-300), or at LogFloor·(largest
	// value) if that is higher, which also bounds the axis below.
	LogY     bool
	LogFloor float64
	// LogX uses a logarithmic x axis; points with x ≤ 0 are left out.
	LogX bool
	// YMin and YMax fix the y range when YMin < YMax.
	YMin, YMax float64
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

// Save draws the chart to path (.png or .svg), atomically.
func (c *Line) Save(path string) error {
	format, err := Format(path)
	if err != nil {
		return err
	}
	p := plot.New()
	p.Title.Text = c.Title
	p.X.Label.Text = c.XLabel
	p.Y.Label.Text = c.YLabel
	p.Add(plotter.NewGrid())
	floor := math.Inf(1)
	if c.LogY {
		for _, s := range c.Series {
			for _, y := range s.Y {
				if y > 0 {
					floor = min(floor, y)
				}
			}
		}
		if math.IsInf(floor, 1) {
			floor = 1e-300
		}
		if c.LogFloor > 0 {
			top := 0.0
			for _, s := range c.Series {
				for _, y := range s.Y {
					top = max(top, y)
				}
			}
			floor = max(floor, c.LogFloor*top)
		}
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	}
	if c.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicks{}
	}
	for i, s := range c.Series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("chart: %s: series %q has %d x and %d y values", path, s.Name, len(s.X), len(s.Y))
		}
		xys := make(plotter.XYs, 0, len(s.X))
		for k := range s.X {
			y := s.Y[k]
			if math.IsNaN(y) || math.IsInf(y, 0) || math.IsNaN(s.X[k]) || c.LogX && !(s.X[k] > 0) {
				continue
			}
			if c.LogY && y < floor {
				y = floor
			}
			xys = append(xys, plotter.XY{X: s.X[k], Y: y})
		}
		if len(xys) == 0 {
			continue
		}
		col := s.Color
		if col == nil {
			col = palette[i%len(palette)]
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return fmt.Errorf("chart: %s: %w", path, err)
		}
		l.Color = col
		l.Width = vg.Points(1.5)
		if s.Dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l)
		thumbs := []plot.Thumbnailer{l}
		if s.Points {
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return fmt.Errorf("chart: %s: %w", path, err)
			}
			sc.Color = col
			sc.Shape = draw.CircleGlyph{}
			sc.Radius = vg.Points(2)
			p.Add(sc)
			thumbs = append(thumbs, sc)
		}
		if s.Name != "" {
			p.Legend.Add(s.Name, thumbs...)
		}
	}
	if c.YMin < c.YMax {
		p.Y.Min, p.Y.Max = c.YMin, c.YMax
	}
	p.Legend.Top = true
	return save(p, path, format, c.Width, c.Height)
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

// logTicks marks powers of ten, labelled 1e-3 and so on, at most about
// eight of them labelled.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return nil
	}
	a, b := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	step := max(1, (b-a+7)/8)
	var ticks []plot.Tick
	for k := a; k <= b; k++ {
		v := math.Pow(10, float64(k))
		if v < lo || v > hi {
			continue
		}
		label := ""
		if (k-a)%step == 0 {
			label = fmt.Sprintf("1e%d", k)
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
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

func save(p *plot.Plot, path, format string, w, h vg.Length) error {
	if w == 0 {
		w = Width
	}
	if h == 0 {
		h = Height
	}
	fitTitle(p, w)
	wt, err := p.WriterTo(w, h, format)
	if err != nil {
		return fmt.Errorf("chart: %s: %w", path, err)
	}
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}
