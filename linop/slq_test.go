package linop_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats"

	"hesscope/linop"
	"hesscope/linop/linoptest"
)

// TestSLQMoments: weights sum to 1 per probe, and the first two moments
// estimate tr(H)/n and tr(H²)/n within three standard errors over 50
// probes, for Rademacher and Gaussian probes. As for the trace estimators,
// up to 2% of the trials (at least one) may miss 3σ and none may miss 4.5σ.
func TestSLQMoments(t *testing.T) {
	var worstW, worstZ float64
	trials, misses := 0, 0
	for _, m := range linoptest.Standard(testing.Short()) {
		n := float64(m.Dim())
		for _, gauss := range []bool{false, true} {
			sp, _ := linop.SLQ(m.Op(), linop.SLQOptions{Probes: 50, Steps: 30, Gaussian: gauss, Seed: 3})
			if len(sp.Nodes) != 50 || sp.Dim != m.Dim() {
				t.Fatalf("%s: %d probes, Dim %d", m.Name, len(sp.Nodes), sp.Dim)
			}
			steps := 0
			for p, w := range sp.Weights {
				d := math.Abs(floats.Sum(w) - 1)
				worstW = math.Max(worstW, d)
				if d > 1e-13 {
					t.Errorf("%s probe %d: Σw − 1 = %g", m.Name, p, d)
				}
				if !slices.IsSorted(sp.Nodes[p]) || sp.Nodes[p][0] < m.Values[0]-1e-12*m.Norm() || sp.Nodes[p][len(w)-1] > m.Values[m.Dim()-1]+1e-12*m.Norm() {
					t.Errorf("%s probe %d: nodes %g outside the spectrum", m.Name, p, sp.Nodes[p])
				}
				steps += len(w)
			}
			if steps != sp.MatVecs {
				t.Errorf("%s: %d nodes, %d matvecs", m.Name, steps, sp.MatVecs)
			}
			for p := 1; p <= 2; p++ {
				mean, se := sp.Moment(p)
				want := m.Trace(p) / n
				e := math.Abs(mean - want)
				if e <= 1e-12*math.Pow(m.Norm(), float64(p)) {
					continue
				}
				trials++
				worstZ = math.Max(worstZ, e/se)
				if e > 3*se {
					misses++
					t.Logf("%s gaussian=%v: moment %d = %g ± %g, want %g (%.2f standard errors)", m.Name, gauss, p, mean, se, want, e/se)
				}
				if e > 4.5*se {
					t.Errorf("%s gaussian=%v: moment %d %.2f standard errors off", m.Name, gauss, p, e/se)
				}
			}
		}
	}
	if misses > max(1, trials/50) {
		t.Errorf("%d of %d trials missed 3 standard errors", misses, trials)
	}
	t.Logf("largest |Σw − 1| %.2g; %d of %d moments beyond 3σ, largest %.2f standard errors", worstW, misses, trials, worstZ)
}

// TestSLQMatchesHutchinson: with Rademacher probes and the same seed, SLQ
// sees Hutchinson's probes, and per probe n·Σwθ = zᵀHz (Gauss quadrature is
// exact for degree ≤ 2·steps − 1); likewise n·Σwθ² = ‖Hz‖².
func TestSLQMatchesHutchinson(t *testing.T) {
	m := linoptest.New("outliers", slices.Concat(linoptest.Uniform(145, -0.1, 1, 1), []float64{-1, 2, 5, 10, 40}), 2)
	n := float64(m.Dim())
	sp, _ := linop.SLQ(m.Op(), linop.SLQOptions{Probes: 6, Steps: 10, Seed: 9})
	tr, _ := linop.Hutchinson(m.Op(), linop.TraceOptions{MatVecs: 6, Seed: 9})
	var worst float64
	for p, nodes := range sp.Nodes {
		var m1 float64
		for i, x := range nodes {
			m1 += sp.Weights[p][i] * x
		}
		e := math.Abs(n*m1-tr.Samples[p]) / (m.Norm() * n)
		worst = math.Max(worst, e)
		if e > 1e-13 {
			t.Errorf("probe %d: n·Σwθ = %.15g, zᵀHz = %.15g", p, n*m1, tr.Samples[p])
		}
	}
	t.Logf("largest |n·Σwθ − zᵀHz|/(n‖H‖) = %.2g", worst)
}

// TestSLQFullKrylov: with Steps = Dim the nodes are the eigenvalues.
func TestSLQFullKrylov(t *testing.T) {
	m := linoptest.New("n5", []float64{-3, -1, 0, 2, 7}, 5)
	sp, _ := linop.SLQ(m.Op(), linop.SLQOptions{Steps: 50, Seed: 1})
	if sp.MatVecs != 5 {
		t.Errorf("%d matvecs, want 5 (Steps capped at Dim)", sp.MatVecs)
	}
	for i, x := range sp.Nodes[0] {
		if math.Abs(x-m.Values[i]) > 1e-13 {
			t.Errorf("node %d = %.15g, want %g", i, x, m.Values[i])
		}
	}
	// A repeated spectrum breaks down early: the quadrature is exact with
	// one node per distinct eigenvalue.
	r := linoptest.New("repeated", slices.Concat(linoptest.Repeat(20, 1), linoptest.Repeat(10, -2)), 6)
	sp, _ = linop.SLQ(r.Op(), linop.SLQOptions{Steps: 30, Seed: 1})
	if len(sp.Nodes[0]) != 2 || math.Abs(sp.Nodes[0][0]+2) > 1e-13 || math.Abs(sp.Nodes[0][1]-1) > 1e-13 {
		t.Errorf("repeated: nodes %v, want [-2 1]", sp.Nodes[0])
	}
}

// TestSLQDensity: the broadened density integrates to 1, and its moments
// are the quadrature moments (plus σ² for the second).
func TestSLQDensity(t *testing.T) {
	m := linoptest.New("outliers", slices.Concat(linoptest.Uniform(195, -0.1, 1, 3), []float64{2, 4, 8, 16, 32}), 4)
	sp, _ := linop.SLQ(m.Op(), linop.SLQOptions{Probes: 4, Steps: 40, Seed: 5})
	m1, _ := sp.Moment(1)
	m2, _ := sp.Moment(2)

	const variance = 1e-3
	lo, hi := m.Values[0]-10*math.Sqrt(variance), m.Values[m.Dim()-1]+10*math.Sqrt(variance)
	x := floats.Span(make([]float64, 200001), lo, hi)
	rho := make([]float64, len(x))
	sp.DensityTo(rho, x, variance)
	z, mu1, mu2 := trapezoid(x, rho, 0), trapezoid(x, rho, 1), trapezoid(x, rho, 2)
	if math.Abs(z-1) > 1e-9 || math.Abs(mu1-m1) > 1e-8 || math.Abs(mu2-(m2+variance)) > 1e-7 {
		t.Errorf("DensityTo: ∫ρ = %.12g, ∫xρ = %.12g (want %.12g), ∫x²ρ = %.12g (want %.12g)", z, mu1, m1, mu2, m2+variance)
	}

	// PyHessian's grid: Riemann sum 1 by construction; the overhead is
	// narrower than σ, so the extreme Gaussians are cut and the moments are
	// only close.
	grid, dens := sp.Density(linop.DensityOptions{})
	if len(grid) != 10000 || len(dens) != 10000 {
		t.Fatalf("grid %d points", len(grid))
	}
	h := grid[1] - grid[0]
	if s := floats.Sum(dens) * h; math.Abs(s-1) > 1e-12 {
		t.Errorf("Density: Riemann sum %g", s)
	}
	sigma := math.Sqrt(1e-5 * (grid[len(grid)-1] - grid[0]))
	var d1 float64
	for i, x := range grid {
		d1 += x * dens[i] * h
	}
	if math.Abs(d1-m1) > sigma {
		t.Errorf("Density: first moment %g, quadrature %g, σ = %g", d1, m1, sigma)
	}
	t.Logf("DensityTo: |∫ρ−1| %.1g, first-moment error %.1g; Density: first-moment error %.2g (σ %.2g)", math.Abs(z-1), math.Abs(mu1-m1), math.Abs(d1-m1), sigma)
}

func trapezoid(x, y []float64, p int) float64 {
	var s float64
	for i := 1; i < len(x); i++ {
		s += (x[i] - x[i-1]) * (math.Pow(x[i], float64(p))*y[i] + math.Pow(x[i-1], float64(p))*y[i-1]) / 2
	}
	return s
}

// A NaN product is an error, not a panic in the eigendecomposition.
func TestSLQNotFinite(t *testing.T) {
	for _, bad := range []float64{math.NaN(), math.Inf(1)} {
		op := linop.Func{N: 5, F: func(dst, v []float64) {
			for i := range dst {
				dst[i] = bad
			}
		}}
		if _, err := linop.SLQ(op, linop.SLQOptions{Probes: 1, Steps: 4}); err == nil || !strings.Contains(err.Error(), "not finite") {
			t.Errorf("%v products: err %v, want one saying the products are not finite", bad, err)
		}
	}
}
