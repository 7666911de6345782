package experiment

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hesscope/train"
)

func tinySweep() *Sweep {
	return &Sweep{Model: "mlp", Dataset: "mnist", BatchSizes: []int{32, 64}, Seeds: 2,
		Train: train.Config{Epochs: 1, LR: 0.05, LRScaling: "none", TrainSamples: 256, TestSamples: 128}}
}

func TestSlurmScripts(t *testing.T) {
	s := tinySweep()
	r := Resources{CPUs: 3, MemoryMB: 1500, Seconds: 3661, Estimate: 1000}
	array, summary, err := SlurmScripts(s, "/data/my study", SlurmOptions{Binary: "/opt/bin/hesscope", Parallel: 2, Resources: r,
		Extra: []string{"--partition=cpu", "#SBATCH --account=proj"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#!/bin/bash\n",
		"#SBATCH --array=0-3%2\n",
		"#SBATCH --cpus-per-task=3\n",
		"#SBATCH --mem=1500M\n",
		"#SBATCH --time=0-01:02:00\n", // rounded up to the minute
		"#SBATCH --output=/data/my study/slurm/logs/unit-%a.log\n",
		"#SBATCH --requeue\n",
		"#SBATCH --partition=cpu\n#SBATCH --account=proj\n",
		"export GOMAXPROCS=\"${SLURM_CPUS_PER_TASK:-3}\"\n",
		"exec /opt/bin/hesscope sweep -out '/data/my study' -only \"$SLURM_ARRAY_TASK_ID\"\n",
	} {
		if !strings.Contains(array, want) {
			t.Errorf("array script lacks %q:\n%s", want, array)
		}
	}
	for _, want := range []string{
		"#SBATCH --output=/data/my study/slurm/logs/summary.log\n",
		"#SBATCH --kill-on-invalid-dep=yes\n",
		"#SBATCH --partition=cpu\n#SBATCH --account=proj\n",
		"exec /opt/bin/hesscope sweep -out '/data/my study' -summarize\n",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary script lacks %q:\n%s", want, summary)
		}
	}
	// Every #SBATCH line comes before the first command: sbatch stops
	// reading options at the first line that is not a comment.
	for _, sc := range []string{array, summary} {
		cmds := false
		for _, l := range strings.Split(sc, "\n") {
			switch {
			case strings.HasPrefix(l, "#SBATCH") && cmds:
				t.Errorf("#SBATCH after a command: %q", l)
			case l != "" && !strings.HasPrefix(l, "#"):
				cmds = true
			}
		}
	}
	// No -parallel: no limit.
	array, _, _ = SlurmScripts(s, "/x", SlurmOptions{Binary: "/b", Resources: r})
	if !strings.Contains(array, "#SBATCH --array=0-3\n") {
		t.Errorf("without Parallel: %s", array)
	}
	sub := SubmitScript("/data/my study")
	for _, want := range []string{"sbatch --parsable '/data/my study/slurm/array.sbatch'", "--dependency=afterok:\"$array\" '/data/my study/slurm/summary.sbatch'"} {
		if !strings.Contains(sub, want) {
			t.Errorf("submit script lacks %q:\n%s", want, sub)
		}
	}
}

func TestSlurmScriptsErrors(t *testing.T) {
	s := tinySweep()
	ok := Resources{CPUs: 1, MemoryMB: 100, Seconds: 60}
	for _, c := range []struct {
		name string
		out  string
		o    SlurmOptions
		want string
	}{
		{"relative out", "study", SlurmOptions{Binary: "/b", Resources: ok}, "absolute"},
		{"relative binary", "/s", SlurmOptions{Binary: "hesscope", Resources: ok}, "absolute"},
		{"zero cpus", "/s", SlurmOptions{Binary: "/b", Resources: Resources{MemoryMB: 1, Seconds: 60}}, "at least 1 CPU"},
		{"negative parallel", "/s", SlurmOptions{Binary: "/b", Resources: ok, Parallel: -1}, "parallel"},
		{"not an option", "/s", SlurmOptions{Binary: "/b", Resources: ok, Extra: []string{"partition=cpu"}}, `"partition=cpu"`},
		{"newline", "/s", SlurmOptions{Binary: "/b", Resources: ok, Extra: []string{"--a=1\nrm -rf /"}}, "want an option"},
	} {
		_, _, err := SlurmScripts(s, c.out, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestEstimate(t *testing.T) {
	small, err := tinySweep().Estimate()
	if err != nil {
		t.Fatal(err)
	}
	if small.CPUs < 1 || small.CPUs > 16 || small.MemoryMB < 512 || !(small.Seconds > small.Estimate) || !(small.Estimate > 0) {
		t.Fatalf("tiny sweep: %+v", small)
	}
	longer := tinySweep()
	longer.Train.Epochs = 10
	l, _ := longer.Estimate()
	if !(l.FLOPs > small.FLOPs) || !(l.Estimate > small.Estimate) {
		t.Errorf("10 epochs %+v not above 1 epoch %+v", l, small)
	}
	big := tinySweep()
	big.Model, big.Dataset = "resnet18", "cifar10"
	b, err := big.Estimate()
	if err != nil {
		t.Fatal(err)
	}
	if b.CPUs != 16 || !(b.MemoryMB > 4*small.MemoryMB) || !(b.FLOPs > 100*small.FLOPs) {
		t.Errorf("resnet18 on CIFAR-10 %+v against mlp on MNIST %+v", b, small)
	}
	bad := tinySweep()
	bad.Dataset = "imagenet"
	if _, err := bad.Estimate(); err == nil {
		t.Error("unknown dataset: no error")
	}
}

func TestWriteSlurm(t *testing.T) {
	out := t.TempDir()
	paths, err := WriteSlurm(tinySweep(), out, SlurmOptions{Binary: "/b", Resources: Resources{CPUs: 1, MemoryMB: 100, Seconds: 60}})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("paths %v", paths)
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o100 == 0 {
			t.Errorf("%s: %v, mode %v", p, err, fi.Mode())
		}
	}
	if fi, err := os.Stat(filepath.Join(out, SlurmDir, "logs")); err != nil || !fi.IsDir() {
		t.Errorf("logs folder: %v", err)
	}
}

func TestClock(t *testing.T) {
	for _, c := range []struct {
		sec  float64
		want string
	}{{1, "0-00:01:00"}, {60, "0-00:01:00"}, {61, "0-00:02:00"}, {3600, "0-01:00:00"}, {86400 + 3600*2 + 60*3, "1-02:03:00"}} {
		if got := clock(c.sec); got != c.want {
			t.Errorf("clock(%v) = %s, want %s", c.sec, got, c.want)
		}
	}
}
