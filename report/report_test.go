package report

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tinySVG and tinyPNG are valid one-figure images (a 1×1 PNG).
const tinySVG = `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="steelblue"/></svg>`

var tinyPNG = []byte{0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00,
	0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff,
	0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82}

func sample(t *testing.T) (*Results, string) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.svg"), []byte(tinySVG), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.png"), tinyPNG, 0o644); err != nil {
		t.Fatal(err)
	}
	s := func(m, sd float64) Stat { return Stat{Mean: m, Std: sd, N: 2} }
	ratio, lo, hi := 3.85, 3.5, 4.25
	r := &Results{
		Version: "test", Created: "2026-11-29T00:00:00Z", Config: json.RawMessage(`{"model":"lenet5"}`),
		Groups: []Group{
			{Kind: "normal", BatchSize: 64, TestAccuracy: s(0.985, 0.001), TopEigenvalue: s(12.5, 0.5), RhoAdv: s(0.21, 0.01),
				FGSM: []EpsStat{{Eps: 0.1, Accuracy: s(0.7, 0.02)}}},
			{Kind: "normal", BatchSize: 4096, TestAccuracy: s(0.97, 0.002), TopEigenvalue: s(48.1, 2), RhoAdv: s(0.15, 0.01),
				FGSM: []EpsStat{{Eps: 0.1, Accuracy: s(0.5, 0.03)}}},
		},
		Claims: []Claim{
			{ID: 1, Text: "Large batch converges to a larger spectrum", Verdict: Held, Rule: "Held when the ratio lies above 1.2.",
				Statistics: []Statistic{{Name: "λ₁(θ) ratio", Value: &ratio, Lo: &lo, Hi: &hi, Interval: "bootstrap", Threshold: 1.2, Direction: "above", Runs: 6, Outcome: Held}}},
			{ID: 2, Text: "Saddle points are not the cause", Verdict: NotHeld},
			{ID: 3, Text: "Sharper is less robust", Verdict: Inconclusive},
			{ID: 4, Text: "Robust is flatter", Verdict: Insufficient,
				Statistics: []Statistic{{Name: "robust − normal", Threshold: 0, Direction: "below", Runs: 2, Outcome: Insufficient, Note: "1 seed pair(s), needs 3"}}},
		},
		Uncertainty: Uncertainty{Method: "percentile bootstrap over seeds", Resamples: 10000, Level: 0.95, Seed: 1, SeedsMin: 2, SeedsMax: 2},
		Figures:     []Figure{{Title: "Eigenvalue vs epoch", File: "a.svg"}, {Title: "Landscape", File: "b.png"}},
		Runs: []Run{{Name: "bs64-seed1", Kind: "normal", BatchSize: 64, TopEigenvalues: []float64{12.5}},
			{Name: "absa-seed1", Kind: "absa", BatchSize: 128, BatchSchedule: []EpochValue{{1, 128}, {2, 128}, {3, 256}, {4, 512}}}},
	}
	return r, dir
}

func TestRenderIsSelfContained(t *testing.T) {
	r, dir := sample(t)
	var buf bytes.Buffer
	if err := Render(&buf, r, dir); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{
		`<td class="l held">held</td>`, `<td class="l not-held">not held</td>`, `<td class="l inconclusive">inconclusive</td>`,
		`<td class="l insufficient-evidence">insufficient evidence</td>`,
		"<li>λ₁(θ) ratio = 3.85 [3.5, 4.25] (bootstrap), wanted &gt; 1.2, 6 runs: held</li>",
		"<li>robust − normal: insufficient evidence (1 seed pair(s), needs 3)</li>",
		"Held when the ratio lies above 1.2.", "2 seed(s) per configuration", "10000 resamples, seed 1",
		"<td>64</td><td>—</td><td>98.50 ± 0.10</td><td>12.5 ± 0.5</td>",
		"<th>FGSM ε=0.1</th>", "<td>70.00 ± 2.00</td>", "data:image/svg&#43;xml;base64,", "data:image/png;base64,",
		"&#34;model&#34;: &#34;lenet5&#34;", "<td>128→256→512</td>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Self-contained: no reference to any other file or host.
	if m := regexp.MustCompile(`(src|href)="(http|//|[a-z]+\.(png|svg|css|js))`).FindString(html); m != "" {
		t.Errorf("report refers to an outside resource: %s", m)
	}
}

func TestRenderMissingFigure(t *testing.T) {
	r, dir := sample(t)
	r.Figures = append(r.Figures, Figure{Title: "Gone", File: "gone.png"})
	err := Render(&bytes.Buffer{}, r, dir)
	if err == nil || !strings.Contains(err.Error(), `figure "Gone"`) {
		t.Errorf("got %v, want an error naming the missing figure", err)
	}
}

// TestReportInChromium renders the report in headless Chromium (Debian's
// chromium package; .ci/run installs it when it can) and checks that every
// figure loads.
func TestReportInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium); skipping the browser check")
	}
	r, dir := sample(t)
	path := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := Render(&buf, r, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=5000", "--dump-dom", "file://"+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	m := regexp.MustCompile(`data-figures="(\d+)" data-figures-loaded="(\d+)"`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("the page's load script did not run; DOM:\n%.500s", out)
	}
	if m[1] != "2" || m[2] != "2" {
		t.Errorf("%s of %s figures loaded, want 2 of 2", m[2], m[1])
	}
}

// TestRenderOneSeed: a sweep with one seed per configuration says so.
func TestRenderOneSeed(t *testing.T) {
	r, dir := sample(t)
	r.Uncertainty.SeedsMin, r.Uncertainty.SeedsMax = 1, 1
	var buf bytes.Buffer
	if err := Render(&buf, r, dir); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "One seed per configuration") {
		t.Error("a one-seed report does not say that it has one seed per configuration")
	}
	r.Uncertainty.SeedsMin, r.Uncertainty.SeedsMax = 3, 3
	buf.Reset()
	if err := Render(&buf, r, dir); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "One seed per configuration") {
		t.Error("a three-seed report warns of one seed")
	}
}
