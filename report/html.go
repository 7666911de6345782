package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// figure is a Figure with its file embedded as a data URI.
type figure struct {
	Figure
	URI template.URL
}

// Render writes the report of r as one self-contained HTML document; figure
// files are read from dir (the folder of results.json) and embedded.
func Render(w io.Writer, r *Results, dir string) error {
	var figs []figure
	for _, f := range r.Figures {
		b, err := os.ReadFile(filepath.Join(dir, f.File))
		if err != nil {
			return fmt.Errorf("report: figure %q: %w", f.Title, err)
		}
		mime := "image/png"
		if strings.EqualFold(filepath.Ext(f.File), ".svg") {
			mime = "image/svg+xml"
		}
		figs = append(figs, figure{f, template.URL("data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b))})
	}
	var cfg bytes.Buffer
	if len(r.Config) > 0 {
		if err := indentJSON(&cfg, r.Config); err != nil {
			return fmt.Errorf("report: configuration: %w", err)
		}
	}
	return page.Execute(w, struct {
		*Results
		Figs   []figure
		Config string
		Eps    []float64
	}{r, figs, cfg.String(), fgsmEps(r)})
}

func indentJSON(dst *bytes.Buffer, src []byte) error { return json.Indent(dst, src, "", "  ") }

// fgsmEps is the list of ε of the FGSM columns: those of the first group.
func fgsmEps(r *Results) []float64 {
	if len(r.Groups) == 0 {
		return nil
	}
	var eps []float64
	for _, e := range r.Groups[0].FGSM {
		eps = append(eps, e.Eps)
	}
	return eps
}

var funcs = template.FuncMap{
	"stat": func(s Stat, digits int) string {
		if s.N == 0 {
			return "—"
		}
		if s.N == 1 {
			return fmt.Sprintf("%.*g", digits, s.Mean)
		}
		return fmt.Sprintf("%.*g ± %.2g", digits, s.Mean, s.Std)
	},
	"pct": func(s Stat) string {
		if s.N == 0 {
			return "—"
		}
		if s.N == 1 {
			return fmt.Sprintf("%.2f", 100*s.Mean)
		}
		return fmt.Sprintf("%.2f ± %.2f", 100*s.Mean, 100*s.Std)
	},
	"fgsmAt": func(g Group, eps float64) string {
		for _, e := range g.FGSM {
			if e.Eps == eps {
				if e.Accuracy.N > 1 {
					return fmt.Sprintf("%.2f ± %.2f", 100*e.Accuracy.Mean, 100*e.Accuracy.Std)
				}
				return fmt.Sprintf("%.2f", 100*e.Accuracy.Mean)
			}
		}
		return "—"
	},
	"class":     func(v string) string { return strings.ReplaceAll(v, " ", "-") },
	"pct1":      func(v float64) string { return fmt.Sprintf("%g", 100*v) },
	"statistic": func(s Statistic) string { return s.String() },
	// batches shows a run's batch size, or its schedule when it changed.
	"batches": func(r Run) string {
		if len(r.BatchSchedule) == 0 {
			return fmt.Sprint(r.BatchSize)
		}
		var parts []string
		for i, e := range r.BatchSchedule {
			if i == 0 || e.Value != r.BatchSchedule[i-1].Value {
				parts = append(parts, fmt.Sprint(e.Value))
			}
		}
		return strings.Join(parts, "→")
	},
	"g":      func(v float64) string { return fmt.Sprintf("%.4g", v) },
	"mul100": func(v float64) float64 { return 100 * v },
}

var page = template.Must(template.New("report").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hesscope report</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .92em; }
th, td { border: 1px solid #bbb; padding: .3em .6em; text-align: right; }
th { background: #f0f0f0; } td.l, th.l { text-align: left; }
.held { color: #176f2c; font-weight: bold; } .not-held { color: #b3261e; font-weight: bold; }
.inconclusive { color: #8a5a00; font-weight: bold; } .insufficient-evidence { color: #666; font-weight: bold; }
.rule { font-size: .88em; color: #555; margin-top: .4em; } ul.stats { margin: 0; padding-left: 1.1em; } ul.stats li { margin: .15em 0; }
p.evidence { font-size: 1.05em; }
#results td { white-space: nowrap; } #results { font-size: .8em; } #results th, #results td { padding: .25em .4em; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #555; } pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: .85em; }
</style>
</head>
<body>
<h1>Hessian-based analysis of large-batch training</h1>
<p>A reproduction of the study of Yao, Gholami, Lei, Keutzer and Mahoney, <i>Hessian-based Analysis of
Large Batch Training and Robustness to Adversaries</i> (NeurIPS 2018), measured by hesscope {{.Version}}
on {{.Created}}. Every number below is measured; eigenvalues are exact Hessian eigenvalues (Lanczos on
exact Hessian-vector products) with their residuals in results.json.</p>

<h2>Claims</h2>
<p class="evidence">Evidence: {{len .Runs}} measured runs{{if .Uncertainty.SeedsMax}}, {{if eq .Uncertainty.SeedsMin .Uncertainty.SeedsMax}}{{.Uncertainty.SeedsMax}}{{else}}{{.Uncertainty.SeedsMin}} to {{.Uncertainty.SeedsMax}}{{end}} seed(s) per configuration (training × batch size){{end}}.
{{if eq .Uncertainty.SeedsMax 1}}<b>One seed per configuration: nothing here separates an effect from the run-to-run variation of training, so most verdicts read “insufficient evidence”; the repository's docs/reproduction has a multi-seed study.</b>{{end}}</p>
<p>Each claim is judged on one or more statistics, each with an interval: a {{pct1 .Uncertainty.Level}} %
{{.Uncertainty.Method}} ({{.Uncertainty.Resamples}} resamples, seed {{.Uncertainty.Seed}}, so the same result
files give the same intervals); for worst cases over runs, the eigenvalues' Lanczos residual bounds or the
exact binomial upper bound of a rate. A statistic is <span class="held">held</span> when its interval lies on
the claim's side of the threshold, <span class="not-held">not held</span> when it lies on the other side,
<span class="inconclusive">inconclusive</span> when it straddles the threshold, and
<span class="insufficient-evidence">insufficient evidence</span> when there are too few runs to compute it; a
claim is not held if any of its statistics is, else insufficient evidence if any is, else inconclusive if any is,
else held. With few seeds per configuration a bootstrap interval is narrower than the truth: it cannot see
variation the seeds did not show, so “held” means “consistent over the seeds run”, not a significance test;
where resampling so few runs biases the statistic so that the interval misses the estimate, the interval is
widened to include it.</p>
<table id="claims">
<tr><th>#</th><th class="l">claim</th><th class="l">verdict</th><th class="l">statistics: value [interval], runs, outcome</th></tr>
{{range .Claims}}<tr><td>{{.ID}}</td><td class="l">{{.Text}}<div class="rule">{{.Rule}}</div></td><td class="l {{class .Verdict}}">{{.Verdict}}</td><td class="l"><ul class="stats">{{range .Statistics}}<li>{{statistic .}}</li>{{end}}</ul></td></tr>
{{end}}</table>

<h2>Results by batch size</h2>
<p>Means ± standard deviations over seeds. λ₁(θ): top eigenvalue of the Hessian of the training loss
with respect to the parameters (fixed training subset); λ₁(x): mean top eigenvalue of the per-sample
Hessian with respect to the input; ρ<sub>adv</sub>: DeepFool's mean ‖r‖₂/‖x‖₂; FGSM: test accuracy under
attack (%).</p>
<table id="results">
<tr><th class="l">training</th><th>batch</th><th>train acc %</th><th>test acc %</th><th>λ₁(θ)</th><th>λ_min(θ)</th><th>λ₁(x)</th><th>ρ<sub>adv</sub></th>{{range .Eps}}<th>FGSM ε={{g .}}</th>{{end}}</tr>
{{range $g := .Groups}}<tr><td class="l">{{$g.Kind}}</td><td>{{$g.BatchSize}}</td><td>{{pct $g.TrainAccuracy}}</td><td>{{pct $g.TestAccuracy}}</td><td>{{stat $g.TopEigenvalue 4}}</td><td>{{stat $g.MinEigenvalue 3}}</td><td>{{stat $g.InputTopEigenvalue 4}}</td><td>{{stat $g.RhoAdv 3}}</td>{{range $.Eps}}<td>{{fgsmAt $g .}}</td>{{end}}</tr>
{{end}}</table>

<h2>Figures</h2>
{{range .Figs}}<figure><img src="{{.URI}}" alt="{{.Title}}"><figcaption><b>{{.Title}}.</b> {{.Caption}}</figcaption></figure>
{{end}}
<h2>Runs</h2>
<table id="runs">
<tr><th class="l">run</th><th class="l">training</th><th>batch</th><th>seed</th><th>epochs</th><th>test acc %</th><th>λ₁(θ)</th><th>λ_min(θ)</th><th>trace</th><th>λ₁(x)</th><th>ρ<sub>adv</sub></th><th>saddle fraction</th><th>train s</th><th>measure s</th></tr>
{{range .Runs}}<tr><td class="l">{{.Name}}</td><td class="l">{{.Kind}}</td><td>{{batches .}}</td><td>{{.Seed}}</td><td>{{.Epochs}}</td><td>{{printf "%.2f" (mul100 .TestAccuracy)}}</td><td>{{if .TopEigenvalues}}{{g (index .TopEigenvalues 0)}}{{end}}</td><td>{{g .MinEigenvalue}}</td><td>{{g .Trace}}</td><td>{{g .InputTopEigenvalue}}</td><td>{{g .RhoAdv}}</td><td>{{g .SaddleFraction}} of {{.SaddlePoints}}</td><td>{{printf "%.0f" .TrainSeconds}}</td><td>{{printf "%.0f" .MeasureSeconds}}</td></tr>
{{end}}</table>

<h2>Configuration</h2>
<p>hesscope {{.Version}}; total measured wall time {{printf "%.0f" .Seconds}} s.</p>
<pre>{{.Config}}</pre>
<script>
// For automated checks: count the figures that loaded.
window.addEventListener("load", function () {
  var ok = 0;
  for (var i = 0; i < document.images.length; i++) {
    var im = document.images[i];
    if (im.complete && im.naturalWidth > 0) ok++;
  }
  document.body.setAttribute("data-figures", document.images.length);
  document.body.setAttribute("data-figures-loaded", ok);
});
</script>
</body>
</html>
`))
