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
	if len(entries) != 8 {
		t.Errorf("%d files in the folder, want 8 (no temporary files left)", len(entries))
	}
}

func TestCounts(t *testing.T) {
	edges, counts := Counts([]float64{0, 0.1, 0.5, 0.99, 1, 2, math.NaN(), -1}, 0, 1, 4)
	if !slices.Equal(edges, []float64{0, 0.25, 0.5, 0.75, 1}) || !slices.Equal(counts, []int{2, 0, 1, 2}) {
		t.Errorf("edges %v counts %v", edges, counts)
	}
}
