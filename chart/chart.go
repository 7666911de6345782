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
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

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
	// positive value of the chart (or 1e-300).
	LogY bool
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
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	for i, s := range c.Series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("chart: %s: series %q has %d x and %d y values", path, s.Name, len(s.X), len(s.Y))
		}
		xys := make(plotter.XYs, 0, len(s.X))
		for k := range s.X {
			y := s.Y[k]
			if math.IsNaN(y) || math.IsInf(y, 0) || math.IsNaN(s.X[k]) {
				continue
			}
			if c.LogY && y <= 0 {
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

// Heatmap is a colour map of Z over a rectangular grid, with contour lines.
type Heatmap struct {
	Title, XLabel, YLabel string
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
	cm := moreland.ExtendedBlackBody()
	cm.SetMin(lo)
	cm.SetMax(hi)
	hm := plotter.NewHeatMap(grid{h}, cm.Palette(255))
	hm.Min, hm.Max = lo, hi
	p.Add(hm)
	n := h.Contours
	if n == 0 {
		n = 10
	}
	if n > 0 {
		levels := make([]float64, n)
		for k := range levels {
			levels[k] = lo + (hi-lo)*(float64(k)+0.5)/float64(n)
		}
		ct := plotter.NewContour(grid{h}, levels, monochrome{})
		ct.Min, ct.Max = lo, hi
		p.Add(ct)
	}
	// A colour bar as a legend: a few swatches with their values.
	for k := 4; k >= 0; k-- {
		v := lo + (hi-lo)*float64(k)/4
		c, err := cm.At(v)
		if err != nil {
			continue
		}
		p.Legend.Add(fmt.Sprintf("%.4g", v), swatch{c})
	}
	p.Legend.Left = false
	p.Legend.Top = true
	p.Legend.XOffs = vg.Points(-2)
	wd, ht := h.Width, h.Height
	if wd == 0 {
		wd = Width
	}
	if ht == 0 {
		ht = 5 * vg.Inch
	}
	return save(p, path, format, wd, ht)
}

type monochrome struct{}

func (monochrome) Colors() []color.Color { return []color.Color{color.RGBA{255, 255, 255, 200}} }

type swatch struct{ c color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.c, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Min.Y}})
}

// Histogram shows the distribution of one or more sets of values, each as
// a step outline over common bins.
type Histogram struct {
	Title, XLabel string
	Sets          []Series // X holds the values; Y is ignored
	// Bins is the number of bins (0: 30).
	Bins int
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
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range h.Sets {
		for _, v := range s.X {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	line := Line{Title: h.Title, XLabel: h.XLabel, YLabel: "count", Width: h.Width, Height: h.Height}
	for _, s := range h.Sets {
		edges, counts := Counts(s.X, lo, hi, bins)
		var xs, ys []float64
		xs, ys = append(xs, edges[0]), append(ys, 0)
		for k, c := range counts {
			xs = append(xs, edges[k], edges[k+1])
			ys = append(ys, float64(c), float64(c))
		}
		xs, ys = append(xs, edges[bins]), append(ys, 0)
		line.Series = append(line.Series, Series{Name: s.Name, X: xs, Y: ys, Color: s.Color})
	}
	return line.Save(path)
}

func save(p *plot.Plot, path, format string, w, h vg.Length) error {
	if w == 0 {
		w = Width
	}
	if h == 0 {
		h = Height
	}
	wt, err := p.WriterTo(w, h, format)
	if err != nil {
		return fmt.Errorf("chart: %s: %w", path, err)
	}
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}
