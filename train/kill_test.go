package train

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// killChildEnv names the run folder when the test binary runs as the child
// of TestKill.
const killChildEnv = "HESSCOPE_TRAIN_KILL_CHILD"

// killConfig is a run of a model with BatchNorm (c1), so that a checkpoint
// must also restore the running statistics and num_batches_tracked, with
// uneven micro-batches (12 images as 3 of 4… and a last batch of 10 as 5+5),
// augmentation and a checkpoint after every step.
func killConfig(dir string) (Config, Options) {
	cfg := Config{Model: "c1", Dataset: "synthetic", Epochs: 2, BatchSize: 12, MicroBatch: 5,
		LR: 0.02, Momentum: 0.9, WeightDecay: 5e-4, Schedule: "step", Milestones: []int{1},
		CheckpointEvery: 1, Out: dir, Resume: true, Seed: 3}
	on := true
	cfg.Augment = &on
	return cfg, Options{Train: synthetic(34, 3, 32, 32, 5), Test: synthetic(8, 3, 32, 32, 6), Version: "test"}
}

// TestKill trains in a child process, kills it with SIGKILL at random
// moments after it has written a checkpoint, twice, resumes, and checks that
// the result equals an uninterrupted run's bit for bit.
func TestKill(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		cfg, opt := killConfig(dir)
		if _, err := Run(context.Background(), cfg, opt); err != nil {
			t.Fatal(err)
		}
		return
	}
	if testing.Short() {
		t.Skip("trains three times in full")
	}
	refDir, dir := t.TempDir(), t.TempDir()
	cfg, opt := killConfig(refDir)
	start := time.Now()
	if _, err := Run(context.Background(), cfg, opt); err != nil {
		t.Fatal(err)
	}
	runTime := time.Since(start)
	refState := readState(t, refDir)
	refModel, _ := os.ReadFile(filepath.Join(refDir, ModelFile))
	refMetrics, refCSV := metricsWithoutTime(t, refDir)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	state := filepath.Join(dir, StateFile)
kills:
	for kill := range 2 {
		var before time.Time
		if fi, err := os.Stat(state); err == nil {
			before = fi.ModTime()
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill$")
		cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		// Wait for a new checkpoint, then kill at a random moment.
		deadline := time.Now().Add(runTime*5 + 30*time.Second)
		for {
			if fi, err := os.Stat(state); err == nil && fi.ModTime().After(before) {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("kill %d: no checkpoint appeared", kill+1)
			}
			time.Sleep(5 * time.Millisecond)
		}
		delay := time.Duration(rng.Int64N(int64(runTime/3) + 1))
		select {
		case err := <-exited:
			// A late first kill can leave less work than the delay: the
			// child then finishes the run it resumed, which is checked
			// against the reference below all the same.
			if err != nil {
				t.Fatalf("kill %d: the child failed before it was killed: %v", kill+1, err)
			}
			t.Logf("kill %d: the child finished the resumed run before the kill after %v", kill+1, delay)
			break kills
		case <-time.After(delay):
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-exited
		f := readState(t, dir)
		t.Logf("kill %d after %v: checkpoint %s", kill+1, delay, f.Metadata[stateKey][:60])
	}
	cfg.Out = dir
	if _, err := Run(context.Background(), cfg, opt); err != nil {
		t.Fatal(err)
	}
	if name := sameBits(readState(t, dir), refState); name != "" {
		t.Errorf("killed and resumed run differs from the uninterrupted one in %s", name)
	}
	if model, _ := os.ReadFile(filepath.Join(dir, ModelFile)); string(model) != string(refModel) {
		t.Errorf("model.safetensors differs from the uninterrupted run's")
	}
	ms, csv := metricsWithoutTime(t, dir)
	if !reflect.DeepEqual(ms, refMetrics) || !reflect.DeepEqual(csv, refCSV) {
		t.Errorf("metrics differ from the uninterrupted run's:\n%+v\n%q\nwant\n%+v\n%q", ms, csv, refMetrics, refCSV)
	}
}
