package experiment

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"hesscope/checkpoint"
	"hesscope/data"
	"hesscope/models"
	"hesscope/tensor"
)

// Resources is what one unit of a sweep is estimated to need: the numbers
// an sbatch script asks for.
type Resources struct {
	// CPUs is the number of cores of the unit (GOMAXPROCS).
	CPUs int `json:"cpus"`
	// MemoryMB is the memory limit in MiB.
	MemoryMB int `json:"memory_mb"`
	// Seconds is the time limit; Estimate the expected time it pads.
	Seconds  float64 `json:"seconds"`
	Estimate float64 `json:"estimate_seconds"`
	// FLOPs is the estimated work of the largest unit (nominal, see
	// models.Cost).
	FLOPs float64 `json:"flops"`
}

// CoreFLOPS is the rate, in nominal FLOP/s per core, that Estimate assumes:
// about half what 'hesscope bench' measures on one core (AVX-512 Xeon of the
// development machine, load 9: 41–67 GFLOP/s for the gradients and HVPs of
// lenet5 and c1 at batch 64–128), for slower cores and the work not counted.
const CoreFLOPS = 2e10

// Estimate returns the resources of the sweep's most expensive unit from
// its configuration alone: the model's forward FLOPs and recorded values
// per image (models.Net.ForwardCost), the dataset's size, the epochs, the
// tracking and the measurements. The time limit is twice the estimate at
// CoreFLOPS per core and 70 % parallel efficiency, plus 10 minutes; the
// memory the dataset, the activations of a micro-batch's HVP, the Lanczos
// basis and the optimiser's state, plus a quarter and 512 MiB. Flags of
// 'sweep -emit' override each.
func (s *Sweep) Estimate() (Resources, error) {
	info, err := data.Describe(s.Dataset)
	if err != nil {
		return Resources{}, err
	}
	net, err := models.New[float32](s.Model, models.Config{Classes: info.Classes, Seed: 1})
	if err != nil {
		return Resources{}, err
	}
	c := net.ForwardCost(tensor.New[float32](1, info.C, info.H, info.W))
	c2 := net.ForwardCost(tensor.New[float32](2, info.C, info.H, info.W))
	f := c.FLOPs                   // per image
	values := c2.Values - c.Values // per image (the parameters are counted in both)
	elem := 4.0
	if s.Precision == "float64" {
		elem = 8
	}
	m := s.Measure.WithDefaults(s.Dataset)
	var worst float64
	var mb int
	for _, u := range s.Units() {
		cfg := s.TrainConfig(u, "")
		mb = cfg.MicroBatch
		ntrain, ntest := float64(info.Train), float64(info.Test)
		if cfg.TrainSamples > 0 {
			ntrain = math.Min(ntrain, float64(cfg.TrainSamples))
		}
		if cfg.TestSamples > 0 {
			ntest = math.Min(ntest, float64(cfg.TestSamples))
		}
		epochs := float64(cfg.Epochs)
		step := 3 * f // a gradient
		if u.Kind != "normal" {
			step *= 2 // an adversary's gradient on part of the batch
		}
		w := epochs * (ntrain*step + ntest*f)
		if cfg.TrackEvery > 0 {
			w += math.Floor(epochs/float64(cfg.TrackEvery)) * float64(cfg.TrackSamples*cfg.TrackIters) * 9 * f
		}
		if u.Kind == "absa" {
			w += epochs * 128 * 50 * 9 * f
		}
		// Measurements: top-k and smallest eigenvalue, trace, density,
		// landscape, input Hessians, attacks, DeepFool, saddle check.
		hvps := float64(2*m.LanczosIters + m.TraceProbes + m.DensityProbes*m.DensitySteps)
		w += float64(m.HessianSamples) * (hvps*9*f + float64(m.LandscapePoints)*f)
		if m.FullHessian {
			w += ntrain * float64(m.LanczosIters) * 9 * f
		}
		w += float64(m.InputSamples) * 2 * 40 * 9 * f
		w += float64(m.AttackSamples) * float64(len(m.FGSMEps)) * 3 * f
		w += float64(m.DeepFoolSamples) * 50 * float64(info.Classes) * 3 * f
		w += float64(m.SaddleSamples*m.SaddleSteps) * (3*f + 2*40*9*f)
		w += (ntrain + ntest) * f // final accuracies
		worst = math.Max(worst, w)
	}
	// Cores: enough that a micro-batch's gradient gives each core at
	// least a quarter of a second of work, a power of two from 1 to 16.
	cpus := 1
	for cpus < 16 && 3*f*float64(mb)/float64(2*cpus) >= CoreFLOPS/4 {
		cpus *= 2
	}
	est := worst / (CoreFLOPS * float64(cpus) * 0.7)
	params := float64(net.NumParams())
	mem := float64(info.Train+info.Test)*float64(info.C*info.H*info.W)*4 + // the dataset, float32
		3*float64(values*mb)*elem + // an HVP's values, tangents and cotangents
		float64(m.LanczosIters+4)*params*8 + // the Lanczos basis, float64
		params*(3*elem+8) // weights, gradients, momentum, accumulator
	mem = mem*1.25 + 512<<20
	return Resources{CPUs: cpus, MemoryMB: int(math.Ceil(mem / (1 << 20))), Estimate: est, Seconds: 2*est + 600, FLOPs: worst}, nil
}

// SlurmOptions configures the sbatch scripts of a sweep.
type SlurmOptions struct {
	// Binary is the absolute path of the hesscope program the jobs run.
	Binary string
	// Parallel is the most array tasks running at once (0: no limit).
	Parallel int
	// Resources of every unit (see Estimate).
	Resources Resources
	// Extra are further #SBATCH options such as "--partition=cpu" or
	// "--account=proj", given with or without the "#SBATCH " prefix.
	Extra []string
}

// SlurmDir is the folder of a sweep's sbatch scripts and logs.
const SlurmDir = "slurm"

// SlurmScripts returns the two sbatch scripts of the sweep in the folder
// out (an absolute path): a job array with one task per unit, each running
// 'hesscope sweep -out OUT -only $SLURM_ARRAY_TASK_ID' with its log in
// OUT/slurm/logs/unit-INDEX.log, and the summary job, to be submitted with
// --dependency=afterok on the array, which runs 'hesscope sweep -out OUT
// -summarize'. Both read the sweep's configuration from OUT/sweep.json.
// Array tasks are re-queued on node failure or preemption (--requeue) and a
// re-queued unit resumes from its last checkpoint.
func SlurmScripts(s *Sweep, out string, o SlurmOptions) (array, summary string, err error) {
	if !filepath.IsAbs(out) || !filepath.IsAbs(o.Binary) {
		return "", "", fmt.Errorf("slurm: the sweep folder %q and the program %q must be absolute paths", out, o.Binary)
	}
	r := o.Resources
	if r.CPUs < 1 || r.MemoryMB < 1 || r.Seconds < 1 {
		return "", "", fmt.Errorf("slurm: resources %+v: want at least 1 CPU, 1 MiB and 1 s", r)
	}
	if o.Parallel < 0 {
		return "", "", fmt.Errorf("slurm: %d parallel tasks: want 0 (no limit) or more", o.Parallel)
	}
	var extra []string
	for _, e := range o.Extra {
		e = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(e), "#SBATCH"))
		if e == "" || strings.ContainsAny(e, "\n\r") || !strings.HasPrefix(e, "-") {
			return "", "", fmt.Errorf("slurm: extra #SBATCH line %q: want an option such as --partition=NAME", e)
		}
		extra = append(extra, "#SBATCH "+e)
	}
	n := len(s.Units())
	logs := filepath.Join(out, SlurmDir, "logs")
	name := fmt.Sprintf("hesscope-%s-%s", s.Model, s.Dataset)
	rng := fmt.Sprintf("0-%d", n-1)
	if o.Parallel > 0 {
		rng += fmt.Sprintf("%%%d", o.Parallel)
	}
	var a strings.Builder
	fmt.Fprintf(&a, "#!/bin/bash\n")
	fmt.Fprintf(&a, "# The %d units of the hesscope sweep in %s, one per task of a job array\n", n, out)
	fmt.Fprintf(&a, "# ('hesscope sweep -out %s -list' names them). Written by 'hesscope sweep -emit slurm'.\n", shellQuote(out))
	fmt.Fprintf(&a, "# Per unit: estimated %.3g FLOPs (nominal), %s at %.0f GFLOP/s per core on %d cores;\n", r.FLOPs, clock(r.Estimate), CoreFLOPS/1e9, r.CPUs)
	fmt.Fprintf(&a, "# the limits below pad it (see 'hesscope help sweep'). A re-queued or re-submitted task\n")
	fmt.Fprintf(&a, "# skips a finished unit and resumes an interrupted one from its last checkpoint.\n")
	fmt.Fprintf(&a, "#SBATCH --job-name=%s\n", name)
	fmt.Fprintf(&a, "#SBATCH --array=%s\n", rng)
	fmt.Fprintf(&a, "#SBATCH --ntasks=1\n")
	fmt.Fprintf(&a, "#SBATCH --cpus-per-task=%d\n", r.CPUs)
	fmt.Fprintf(&a, "#SBATCH --mem=%dM\n", r.MemoryMB)
	fmt.Fprintf(&a, "#SBATCH --time=%s\n", clock(r.Seconds))
	fmt.Fprintf(&a, "#SBATCH --output=%s\n", filepath.Join(logs, "unit-%a.log"))
	fmt.Fprintf(&a, "#SBATCH --open-mode=append\n")
	fmt.Fprintf(&a, "#SBATCH --requeue\n")
	for _, e := range extra {
		fmt.Fprintln(&a, e)
	}
	fmt.Fprintf(&a, "set -eu\n")
	fmt.Fprintf(&a, "export GOMAXPROCS=\"${SLURM_CPUS_PER_TASK:-%d}\"\n", r.CPUs)
	fmt.Fprintf(&a, "echo \"== $(date -u +%%FT%%TZ) task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID on $(hostname), restart ${SLURM_RESTART_COUNT:-0}\"\n")
	fmt.Fprintf(&a, "exec %s sweep -out %s -only \"$SLURM_ARRAY_TASK_ID\"\n", shellQuote(o.Binary), shellQuote(out))

	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n")
	fmt.Fprintf(&b, "# The summary of the hesscope sweep in %s: results.json, results.csv, figures, report.html.\n", out)
	fmt.Fprintf(&b, "# Submit with --dependency=afterok:ARRAY_JOB_ID (submit.sh does).\n")
	fmt.Fprintf(&b, "#SBATCH --job-name=%s-summary\n", name)
	fmt.Fprintf(&b, "#SBATCH --ntasks=1\n")
	fmt.Fprintf(&b, "#SBATCH --cpus-per-task=1\n")
	fmt.Fprintf(&b, "#SBATCH --mem=1024M\n")
	fmt.Fprintf(&b, "#SBATCH --time=00:30:00\n")
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", filepath.Join(logs, "summary.log"))
	fmt.Fprintf(&b, "#SBATCH --kill-on-invalid-dep=yes\n")
	for _, e := range extra {
		fmt.Fprintln(&b, e)
	}
	fmt.Fprintf(&b, "set -eu\n")
	fmt.Fprintf(&b, "exec %s sweep -out %s -summarize\n", shellQuote(o.Binary), shellQuote(out))
	return a.String(), b.String(), nil
}

// SubmitScript is the shell script that submits the array and then the
// summary with an afterok dependency on it, and prints both job ids.
func SubmitScript(out string) string {
	dir := filepath.Join(out, SlurmDir)
	return fmt.Sprintf(`#!/bin/sh
# Submits the hesscope sweep in %[1]s: the job array, then its summary.
set -eu
array=$(sbatch --parsable %[2]s)
array=${array%%%%;*}
summary=$(sbatch --parsable --dependency=afterok:"$array" %[3]s)
summary=${summary%%%%;*}
echo "array job $array, summary job $summary"
echo "watch: squeue -j $array,$summary   logs: %[4]s/unit-INDEX.log   progress: hesscope sweep -out %[1]s -list"
`, shellQuote(out), shellQuote(filepath.Join(dir, "array.sbatch")), shellQuote(filepath.Join(dir, "summary.sbatch")), filepath.Join(dir, "logs"))
}

// WriteSlurm writes OUT/slurm/array.sbatch, summary.sbatch and submit.sh
// (atomically, executable) and makes the logs folder; it returns the
// scripts' paths in that order.
func WriteSlurm(s *Sweep, out string, o SlurmOptions) ([]string, error) {
	array, summary, err := SlurmScripts(s, out, o)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(out, SlurmDir)
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, f := range []struct{ name, text string }{
		{"array.sbatch", array}, {"summary.sbatch", summary}, {"submit.sh", SubmitScript(out)},
	} {
		p := filepath.Join(dir, f.name)
		if err := checkpoint.WriteFileAtomic(p, func(w io.Writer) error {
			_, err := io.WriteString(w, f.text)
			return err
		}); err != nil {
			return nil, err
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// clock formats seconds as Slurm's D-HH:MM:SS, rounded up to the minute.
func clock(sec float64) string {
	m := int(math.Ceil(sec / 60))
	return fmt.Sprintf("%d-%02d:%02d:00", m/1440, m/60%24, m%60)
}

// shellQuote quotes s for a POSIX shell unless it needs no quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
