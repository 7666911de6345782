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
		"heatmap": &Heatmap{X: []float64{-1, 0, 1}, Y: []float64{-1, 0, 1}, Z: z},
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
