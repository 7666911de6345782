package attack

import (
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"hesscope/checkpoint"
)

// WritePlot draws the robust-accuracy curve of r (accuracy against ε, the
// clean accuracy at ε = 0, and FGSM's curve when the report has one) and
// writes it to path, atomically, as PNG or SVG according to its extension.
func WritePlot(path string, r *Report, title string) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if format != "png" && format != "svg" {
		return fmt.Errorf("attack: plot %s: want a .png or .svg file", path)
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = fmt.Sprintf("ε (%s)", r.Norm)
	p.Y.Label.Text = "robust accuracy"
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	curve := func(pts []Point, name string, c color.Color, dashed bool) error {
		xys := plotter.XYs{{X: 0, Y: r.CleanAccuracy}}
		sorted := sortedByEps(pts)
		for _, q := range sorted {
			if q.Eps == 0 {
				xys[0].Y = q.Accuracy
				continue
			}
			xys = append(xys, plotter.XY{X: q.Eps, Y: q.Accuracy})
		}
		l, s, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("attack: plot %s: %w", path, err)
		}
		l.Color, s.Color = c, c
		s.Shape = draw.CircleGlyph{}
		if dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l, s)
		p.Legend.Add(name, l, s)
		return nil
	}
	if err := curve(r.Results, strings.ToUpper(r.Method), color.RGBA{B: 200, A: 255}, false); err != nil {
		return err
	}
	if len(r.FGSM) > 0 {
		if err := curve(r.FGSM, "FGSM", color.RGBA{R: 200, A: 255}, true); err != nil {
			return err
		}
	}
	p.Legend.Top = true
	wt, err := p.WriterTo(6*vg.Inch, 4*vg.Inch, format)
	if err != nil {
		return fmt.Errorf("attack: plot %s: %w", path, err)
	}
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}
