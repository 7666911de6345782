package train

import (
	"math"
	"strings"
	"testing"
)

func TestSchedule(t *testing.T) {
	// 1000 images in batches of 100: 10 steps per epoch.
	base := Config{Model: "mlp", Out: "x", LR: 0.1, BatchSize: 100, Epochs: 4}
	cases := []struct {
		name  string
		cfg   func(c *Config)
		steps []int
		want  []float64
	}{
		{"constant", func(c *Config) {}, []int{0, 5, 39}, []float64{0.1, 0.1, 0.1}},
		{"linear scaling", func(c *Config) { c.LRScaling = "linear"; c.BaseBatch = 25 }, []int{0, 39}, []float64{0.4, 0.4}},
		{"no scaling", func(c *Config) { c.BaseBatch = 25 }, []int{0}, []float64{0.1}},
		{"step", func(c *Config) { c.Schedule = "step"; c.Milestones = []int{1, 3} },
			[]int{0, 9, 10, 29, 30, 39}, []float64{0.1, 0.1, 0.01, 0.01, 0.001, 0.001}},
		{"step gamma", func(c *Config) { c.Schedule = "step"; c.Milestones = []int{2}; c.Gamma = 0.5 },
			[]int{19, 20}, []float64{0.1, 0.05}},
		{"cosine", func(c *Config) { c.Schedule = "cosine" },
			[]int{0, 10, 20, 30, 40}, []float64{0.1, 0.1 * (1 + math.Sqrt2/2) / 2, 0.05, 0.1 * (1 - math.Sqrt2/2) / 2, 0}},
		{"cosine min", func(c *Config) { c.Schedule = "cosine"; c.MinLR = 0.02 }, []int{0, 20, 40}, []float64{0.1, 0.06, 0.02}},
		{"warmup steps", func(c *Config) { c.WarmupSteps = 4 }, []int{0, 1, 3, 4}, []float64{0.025, 0.05, 0.1, 0.1}},
		{"warmup epochs", func(c *Config) { c.WarmupEpochs = 0.5 }, []int{0, 4, 5}, []float64{0.02, 0.1, 0.1}},
		{"warmup, linear scaling, step", func(c *Config) {
			c.WarmupEpochs = 1
			c.LRScaling = "linear"
			c.BaseBatch = 50
			c.Schedule = "step"
			c.Milestones = []int{2}
		}, []int{0, 9, 10, 20}, []float64{0.02, 0.2, 0.2, 0.02}},
		{"warmup, cosine", func(c *Config) { c.WarmupSteps = 10; c.Schedule = "cosine" }, []int{4, 20}, []float64{0.5 * 0.1 * (1 + math.Cos(math.Pi/10)) / 2, 0.05}},
	}
	for _, c := range cases {
		cfg := base
		c.cfg(&cfg)
		cfg = cfg.Defaults()
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		s := NewSchedule(cfg, 1000)
		if s.StepsPerEpoch != 10 || s.TotalSteps != 40 {
			t.Fatalf("%s: %d steps per epoch, %d in all; want 10, 40", c.name, s.StepsPerEpoch, s.TotalSteps)
		}
		for i, step := range c.steps {
			if got := s.At(step); math.Abs(got-c.want[i]) > 1e-15 {
				t.Errorf("%s: lr at step %d = %.17g, want %.17g", c.name, step, got, c.want[i])
			}
		}
	}
}

// TestScheduleWholeSet: a batch larger than the training set takes the
// whole set at every step, and linear scaling scales by that batch
// (-batch-size 100000 on 256 images had been scaled by 100000).
func TestScheduleWholeSet(t *testing.T) {
	cfg := Config{Model: "mlp", Out: "x", LR: 0.05, BatchSize: 100000, Epochs: 2, LRScaling: "linear", BaseBatch: 128}.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := NewSchedule(cfg, 256)
	if s.StepsPerEpoch != 1 || s.Base != 0.1 {
		t.Errorf("%d steps per epoch at base rate %g; want 1 at 0.05·256/128 = 0.1", s.StepsPerEpoch, s.Base)
	}
}

func TestStepsPerEpoch(t *testing.T) {
	for _, c := range []struct {
		n, b int
		drop bool
		want int
	}{{100, 10, false, 10}, {101, 10, false, 11}, {101, 10, true, 10}, {5, 10, false, 1}, {60000, 60000, false, 1}} {
		if got := stepsPerEpoch(c.n, c.b, c.drop); got != c.want {
			t.Errorf("stepsPerEpoch(%d, %d, %v) = %d, want %d", c.n, c.b, c.drop, got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Config{Model: "lenet5", Out: "dir"}
	if err := ok.Defaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cases := []struct {
		set  func(c *Config)
		flag string
	}{
		{func(c *Config) { c.Model = "" }, "-model"},
		{func(c *Config) { c.Model = "vgg" }, "-model"},
		{func(c *Config) { c.Dataset = "imagenet" }, "-dataset"},
		{func(c *Config) { c.Out = "" }, "-out"},
		{func(c *Config) { c.BatchSize = -1 }, "-batch-size"},
		{func(c *Config) { c.MicroBatch = -3 }, "-micro-batch"},
		{func(c *Config) { c.Epochs = -1 }, "-epochs"},
		{func(c *Config) { c.LR = -1 }, "-lr"},
		{func(c *Config) { c.LR = math.Inf(1) }, "-lr"},
		{func(c *Config) { c.Momentum = 1 }, "-momentum"},
		{func(c *Config) { c.WeightDecay = math.NaN() }, "-weight-decay"},
		{func(c *Config) { c.Nesterov = true }, "-nesterov"},
		{func(c *Config) { c.Schedule = "poly" }, "-schedule"},
		{func(c *Config) { c.Schedule = "step" }, "-milestones"},
		{func(c *Config) { c.Schedule = "step"; c.Milestones = []int{3, 2} }, "-milestones"},
		{func(c *Config) { c.Milestones = []int{3} }, "-milestones"},
		{func(c *Config) { c.LRScaling = "sqrt" }, "-lr-scaling"},
		{func(c *Config) { c.WarmupSteps = 2; c.WarmupEpochs = 1 }, "-warmup"},
		{func(c *Config) { c.WarmupEpochs = 5; c.Epochs = 1 }, "-warmup 5 is longer than -epochs 1"},
		{func(c *Config) { c.ValFraction = 1 }, "-val-fraction"},
		{func(c *Config) { c.Precision = "float16" }, "-precision"},
		{func(c *Config) { c.TrackEvery = 1; c.TrackIters = 1 }, "-track-iters"},
		{func(c *Config) { c.MinLR = 0.1 }, "-min-lr"},
	}
	for _, c := range cases {
		cfg := ok
		c.set(&cfg)
		err := cfg.Defaults().Validate()
		if err == nil {
			t.Errorf("%+v: no error, want one naming %s", cfg, c.flag)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.flag) || !strings.HasPrefix(msg, "train: ") || strings.Contains(msg, "\n") {
			t.Errorf("error %q: want one line beginning train: and naming %s", msg, c.flag)
		}
	}
}
