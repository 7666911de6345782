package chart

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestSave(t *testing.T) {
	dir := t.TempDir()
	x := []float64{-1, -0.5, 0, 0.5, 1}
	y := []float64{1, 0.25, 0, 0.25, 1}
	z := [][]float64{{2, 1, 2}, {1, 0, 1}, {2, 1, 2}}
	figs := map[string]interface{ Save(string) error }{
		"line": &Line{Title: "t", XLabel: "x", YLabel: "y", Series: []Series{
			{Name: "a", X: x, Y: y, Points: true}, {Name: "b", X: x, Y: []float64{0, 1, math.NaN(), 1, 0}, Dashed: true}}},
		"log":     &Line{LogY: true, Series: []Series{{X: x, Y: y}}},
		"heatmap": &Heatmap{X: []float64{-1, 0, 1}, Y: []float64{-1, 0, 1}, Z: z, ZLabel: "loss"},
		"hist":    &Histogram{Sets: []Series{{Name: "top", X: []float64{1, 2, 2, 3}}, {Name: "bottom", X: []float64{-1, 0}}}, Bins: 4},
		"loghist": &Histogram{LogX: true, Title: "a title long enough to need two lines in a figure of six inches, which is the default width", Sets: []Series{{Name: "top", X: []float64{1e-6, 2e-3, 2, 3e2}}, {Name: "bottom", X: []float64{-1, 0, 1e-9}}}},
	}
	for name, f := range figs {
		for _, ext := range []string{".png", ".SVG"} {
			path := filepath.Join(dir, name+ext)
			if err := f.Save(path); err != nil {
				t.Fatalf("%s%s: %v", name, ext, err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if ext == ".png" && !bytes.HasPrefix(b, []byte("\x89PNG")) || ext == ".SVG" && !bytes.Contains(b[:min(len(b), 200)], []byte("<svg")) {
				t.Errorf("%s%s is not a %s file: % x", name, ext, ext, b[:min(len(b), 8)])
			}
		}
	}
	if err := (&Line{}).Save(filepath.Join(dir, "x.pdf")); err == nil {
		t.Error("a .pdf path was accepted")
	}
	if err := (&Heatmap{X: []float64{0, 1}, Y: []float64{0, 1}, Z: [][]float64{{1, 2}}}).Save(filepath.Join(dir, "h.png")); err == nil {
		t.Error("a heat map with a missing row was accepted")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 10 {
		t.Errorf("%d files in the folder, want 10 (no temporary files left)", len(entries))
	}
}

func TestCounts(t *testing.T) {
	edges, counts := Counts([]float64{0, 0.1, 0.5, 0.99, 1, 2, math.NaN(), -1}, 0, 1, 4)
	if !slices.Equal(edges, []float64{0, 0.25, 0.5, 0.75, 1}) || !slices.Equal(counts, []int{2, 0, 1, 2}) {
		t.Errorf("edges %v counts %v", edges, counts)
	}
}

// TestContourLines: marching squares joins its segments into one unbroken
// line per contour — closed around a minimum, open across the grid, two
// branches at a saddle — with every point on the level set up to the
// error of linear interpolation.
func TestContourLines(t *testing.T) {
	n := 41
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = -1 + 2*float64(i)/float64(n-1)
	}
	grid := func(f func(x, y float64) float64) [][]float64 {
		z := make([][]float64, n)
		for j := range z {
			z[j] = make([]float64, n)
			for i := range z[j] {
				z[j][i] = f(xs[i], xs[j])
			}
		}
		return z
	}
	bowl := func(x, y float64) float64 { return x*x + 2*y*y }
	for _, tc := range []struct {
		name   string
		f      func(x, y float64) float64
		level  float64
		lines  int
		closed bool
		hole   bool // a NaN in the middle of the line
	}{
		{"bowl", bowl, 0.5, 1, true, false},
		{"plane", func(x, y float64) float64 { return x + 0.3*y }, 0.1, 1, false, false},
		{"saddle", func(x, y float64) float64 { return x * y }, 0.05, 2, false, false},
		{"bowl with a hole", bowl, 0.5, 1, false, true},
	} {
		z := grid(tc.f)
		if tc.hole {
			z[20][34] = math.NaN() // (0.7, 0) lies on the ellipse x² + 2y² = 0.5 (x ≈ 0.707)
		}
		lines := contourLines(xs, xs, z, tc.level)
		if len(lines) != tc.lines {
			t.Errorf("%s: %d lines, want %d", tc.name, len(lines), tc.lines)
			continue
		}
		total := 0
		for _, l := range lines {
			total += len(l)
			closed := l[0] == l[len(l)-1]
			if closed != tc.closed {
				t.Errorf("%s: closed %v, want %v (%d points)", tc.name, closed, tc.closed, len(l))
			}
			for _, p := range l {
				// Linear interpolation on a grid of spacing h is off by
				// O(h²·f'') in value.
				if d := math.Abs(tc.f(p[0], p[1]) - tc.level); d > 0.01 {
					t.Errorf("%s: point %v has value %g, level %g", tc.name, p, tc.f(p[0], p[1]), tc.level)
					break
				}
			}
		}
		t.Logf("%s: %d lines, %d points", tc.name, len(lines), total)
	}
}

func TestLogTicks(t *testing.T) {
	labels := func(lo, hi float64) (vals []float64, labs []string) {
		for _, tk := range (logTicks{}).Ticks(lo, hi) {
			if tk.Label != "" {
				vals, labs = append(vals, tk.Value), append(labs, tk.Label)
			}
		}
		return vals, labs
	}
	// Less than a decade and no power of ten inside: 2 and 5 are labelled.
	if _, l := labels(1.3, 8); !slices.Equal(l, []string{"2", "5"}) {
		t.Errorf("labels on [1.3, 8]: %v", l)
	}
	// Two decades or more: powers of ten only.
	if _, l := labels(0.005, 3); !slices.Equal(l, []string{"0.01", "0.1", "1"}) {
		t.Errorf("labels on [0.005, 3]: %v", l)
	}
	// Many decades: at most about eight labels.
	if v, _ := labels(1e-12, 1e12); len(v) > 9 || len(v) < 5 {
		t.Errorf("%d labels over 24 decades", len(v))
	}
	// Within a factor of two: the multiples of powers of ten.
	if _, l := labels(0.65, 0.95); !slices.Equal(l, []string{"0.7", "0.8", "0.9"}) {
		t.Errorf("labels on [0.65, 0.95]: %v", l)
	}
	// Narrower still: linear ticks.
	if v, _ := labels(0.71, 0.79); len(v) < 2 {
		t.Errorf("labels on [0.71, 0.79]: %v", v)
	}
	if len((logTicks{}).Ticks(0, 1)) != 0 {
		t.Error("ticks on a range with 0")
	}
}

func TestPanelsAndErrorBars(t *testing.T) {
	dir := t.TempDir()
	x := []float64{64, 256, 1024}
	left := &Line{Title: "a", LogX: true, LogY: true, XTicks: x, Series: []Series{
		{Name: "mean", X: x, Y: []float64{1, 2, 4}, YLo: []float64{0.5, 1.5, 3}, YHi: []float64{1.5, 2.5, 5}, Points: true},
		{X: x, Y: []float64{1.1, 2.1, 3.9}, NoLine: true, Faint: true}}}
	right := &Line{Title: "b", Series: []Series{
		{Name: "band", X: x, Y: []float64{1, 2, 4}, YLo: []float64{0, 1, 3}, YHi: []float64{2, 3, 5}, Band: true},
		{Name: "mean", X: x, Y: []float64{1, 1, 1}}}}
	for _, ext := range []string{".png", ".svg"} {
		if err := (&Panels{Plots: []*Line{left, right}, SameY: true}).Save(filepath.Join(dir, "p"+ext)); err != nil {
			t.Fatal(err)
		}
		// A single point on log axes (a one-seed, one-batch study).
		one := &Line{LogX: true, LogY: true, Legend: LegendRight, Series: []Series{{Name: "one", X: []float64{64}, Y: []float64{0.7}, Points: true}}}
		if err := one.Save(filepath.Join(dir, "one"+ext)); err != nil {
			t.Fatal(err)
		}
	}
	// The legend entry "mean" appears once although both panels have it.
	b, err := os.ReadFile(filepath.Join(dir, "p.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte(">mean<")); n != 1 {
		t.Errorf("legend entry %q drawn %d times, want 1", "mean", n)
	}
	bad := &Line{Series: []Series{{X: x, Y: x, YLo: x[:2], YHi: x}}}
	if err := bad.Save(filepath.Join(dir, "bad.png")); err == nil {
		t.Error("error bars of the wrong length were accepted")
	}
	if err := (&Panels{}).Save(filepath.Join(dir, "none.png")); err == nil {
		t.Error("no panels accepted")
	}
}
