package landscape

import (
	"bufio"
	"fmt"
	"io"
	"strconv"

	"hesscope/chart"
)

// Column is an extra named column of a 1-D grid's CSV and plot, such as a
// quadratic model, one value per X.
type Column struct {
	Name   string
	Values []float64
}

// WriteCSV writes the grid as CSV with a header: for a 1-D grid the columns
// alpha, loss, accuracy and then the extra columns; for a 2-D grid alpha,
// beta, loss, accuracy with one row per point, alpha varying fastest.
// Numbers are written in the shortest form that reads back exactly.
func (g *Grid) WriteCSV(w io.Writer, extra ...Column) error {
	bw := bufio.NewWriter(w)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	if g.Y == nil {
		fmt.Fprint(bw, "alpha,loss,accuracy")
		for _, c := range extra {
			if len(c.Values) != len(g.X) {
				return fmt.Errorf("landscape: column %s has %d values for %d points", c.Name, len(c.Values), len(g.X))
			}
			fmt.Fprintf(bw, ",%s", c.Name)
		}
		fmt.Fprintln(bw)
		for i, a := range g.X {
			fmt.Fprintf(bw, "%s,%s,%s", f(a), f(g.Loss[0][i]), f(g.Accuracy[0][i]))
			for _, c := range extra {
				fmt.Fprintf(bw, ",%s", f(c.Values[i]))
			}
			fmt.Fprintln(bw)
		}
		return bw.Flush()
	}
	if len(extra) > 0 {
		return fmt.Errorf("landscape: extra columns are for 1-D grids")
	}
	fmt.Fprintln(bw, "alpha,beta,loss,accuracy")
	for j, b := range g.Y {
		for i, a := range g.X {
			fmt.Fprintf(bw, "%s,%s,%s,%s\n", f(a), f(b), f(g.Loss[j][i]), f(g.Accuracy[j][i]))
		}
	}
	return bw.Flush()
}

// PlotAccuracy draws the accuracy of the grid to path (.png or .svg),
// atomically: a curve for a 1-D grid, a heat map for a 2-D one.
func (g *Grid) PlotAccuracy(path, title, xlabel, ylabel string) error {
	if g.Y == nil {
		c := chart.Line{Title: title, XLabel: xlabel, YLabel: "accuracy", YMin: 0, YMax: 1,
			Series: []chart.Series{{Name: "accuracy", X: g.X, Y: g.Accuracy[0], Points: len(g.X) <= 41}}}
		return c.Save(path)
	}
	h := chart.Heatmap{Title: title, XLabel: xlabel, YLabel: ylabel, ZLabel: "accuracy", X: g.X, Y: g.Y, Z: g.Accuracy}
	return h.Save(path)
}

// Plot draws the loss of the grid to path (.png or .svg), atomically: for a
// 1-D grid a curve against alpha with the extra columns as dashed curves
// (the quadratic models), the y range fitted to the loss; for a 2-D grid a
// heat map with contour lines. The accuracy is in the CSV.
func (g *Grid) Plot(path, title, xlabel, ylabel string, extra ...Column) error {
	if g.Y == nil {
		c := chart.Line{Title: title, XLabel: xlabel, YLabel: "loss",
			Series: []chart.Series{{Name: "loss", X: g.X, Y: g.Loss[0], Points: len(g.X) <= 41}}}
		lo, hi := g.Loss[0][0], g.Loss[0][0]
		for _, v := range g.Loss[0] {
			lo, hi = min(lo, v), max(hi, v)
		}
		for _, e := range extra {
			c.Series = append(c.Series, chart.Series{Name: e.Name, X: g.X, Y: e.Values, Dashed: true})
		}
		// Keep the axis on the measured curve: a quadratic model may run
		// far above it at the ends.
		if hi > lo {
			pad := 0.1 * (hi - lo)
			c.YMin, c.YMax = lo-pad, hi+pad
		}
		return c.Save(path)
	}
	h := chart.Heatmap{Title: title, XLabel: xlabel, YLabel: ylabel, ZLabel: "loss", X: g.X, Y: g.Y, Z: g.Loss}
	return h.Save(path)
}
