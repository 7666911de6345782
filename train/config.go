package train

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"hesscope/data"
	"hesscope/models"
)

// Config is a training run: everything that determines its result. It is
// written to the run folder's config.json, and a resumed run must have the
// same one (Out, Resume and CheckpointEvery aside). Zero fields take the
// defaults listed; Defaults fills them in.
type Config struct {
	// Model is a model of the zoo (models.Names).
	Model string `json:"model"`
	// Activation is "relu" (default), "tanh" or "softplus".
	Activation string `json:"activation"`
	// Dataset is a dataset data.Load knows (default "mnist").
	Dataset string `json:"dataset"`
	// DataDir is where the dataset's files are (default: found or
	// downloaded automatically). It does not affect the result.
	DataDir string `json:"data_dir,omitempty"`
	// TrainSamples and TestSamples keep the first so many images of the
	// training and test splits; 0 keeps all.
	TrainSamples int `json:"train_samples,omitempty"`
	TestSamples  int `json:"test_samples,omitempty"`
	// ValFraction holds out this fraction of the training images, drawn at
	// random from Seed, as a validation set evaluated every epoch.
	ValFraction float64 `json:"val_fraction,omitempty"`
	// Normalize normalises each channel with the dataset's standard mean
	// and standard deviation (data.StandardNorm; measured on the training
	// images for other datasets), after augmentation. The constants are
	// stored in the model file's metadata.
	Normalize bool `json:"normalize"`
	// Augment applies the standard CIFAR augmentation (random crop with 4
	// pixels of padding, horizontal flip) to every training batch. Nil
	// means on for CIFAR-10/100, off otherwise.
	Augment *bool `json:"augment"`

	// Precision is the arithmetic: "float32" (default) or "float64".
	Precision string `json:"precision"`
	// Seed fixes the initialisation, the validation split, the data order
	// and every random draw (the command's default is 1).
	Seed uint64 `json:"seed"`

	// Epochs is the number of passes over the training set (default 1).
	Epochs int `json:"epochs"`
	// BatchSize is the number of images per step (default 128); the last
	// batch of an epoch is smaller when it does not divide the training set,
	// unless DropLast.
	BatchSize int `json:"batch_size"`
	// DropLast drops the last, incomplete batch of every epoch.
	DropLast bool `json:"drop_last,omitempty"`
	// MicroBatch is the largest number of images per forward-backward pass
	// (default 256): a batch is cut into ⌈BatchSize/MicroBatch⌉ micro-batches
	// of near-equal size. BatchNorm uses the statistics of each micro-batch.
	MicroBatch int `json:"micro_batch"`

	// LR is the learning rate at batch size BaseBatch (default 0.05).
	LR float64 `json:"lr"`
	// BaseBatch is the batch size LR refers to (default 128).
	BaseBatch int `json:"base_batch"`
	// LRScaling is "none" (default): the rate is LR at every batch size; or
	// "linear": the rate is LR·BatchSize/BaseBatch.
	LRScaling string `json:"lr_scaling"`
	// Momentum, Dampening and WeightDecay are torch.optim.SGD's; all 0
	// (plain SGD) by default. The command's default momentum is 0.9.
	Momentum    float64 `json:"momentum"`
	Dampening   float64 `json:"dampening"`
	WeightDecay float64 `json:"weight_decay"`
	// Nesterov selects Nesterov momentum.
	Nesterov bool `json:"nesterov"`
	// Schedule is "constant" (default), "step", "cosine" or "absa": the
	// adaptive batch size of ABSA (see ABSAConfig), which starts at
	// BatchSize and doubles it and the rate during the run.
	Schedule string `json:"schedule"`
	// Milestones are the epochs after which the "step" (or "absa")
	// schedule multiplies the rate by Gamma (default 0.1), increasing.
	Milestones []int   `json:"milestones,omitempty"`
	Gamma      float64 `json:"gamma,omitempty"`
	// MinLR is where the "cosine" schedule ends.
	MinLR float64 `json:"min_lr,omitempty"`
	// WarmupEpochs or WarmupSteps (at most one) is the length of a linear
	// warm-up; epochs are converted to ⌈WarmupEpochs·steps per epoch⌉ steps.
	WarmupEpochs float64 `json:"warmup_epochs,omitempty"`
	WarmupSteps  int     `json:"warmup_steps,omitempty"`

	// TrackEvery, if positive, computes the top eigenvalue of the Hessian of
	// the training loss every so many epochs (BatchNorm in eval mode) on a
	// fixed random subset of TrackSamples training images (default 1000),
	// by Lanczos with at most TrackIters Hessian-vector products (default
	// 50; it stops earlier once the relative residual is below 1e-4).
	// TrackTrace adds a Hutchinson estimate of the trace from TrackProbes
	// products (default 20). A Hessian-vector product costs a few gradients
	// (about five for LeNet-5): for LeNet-5 on 1000 MNIST images Lanczos
	// converges in about 15 products, about the cost of a training epoch.
	TrackEvery   int  `json:"track_every,omitempty"`
	TrackSamples int  `json:"track_samples,omitempty"`
	TrackIters   int  `json:"track_iters,omitempty"`
	TrackTrace   bool `json:"track_trace,omitempty"`
	TrackProbes  int  `json:"track_probes,omitempty"`

	// Perturb names the perturbation that Options.Perturb applies to each
	// micro-batch (adversarial training), for the record; it must be set
	// exactly when Options.Perturb is.
	Perturb string `json:"perturb,omitempty"`

	// ABSA configures the "absa" schedule (nil there means the defaults);
	// it must be nil with any other schedule.
	ABSA *ABSAConfig `json:"absa,omitempty"`

	// Out is the run folder (required).
	Out string `json:"-"`
	// Resume continues the run in Out from its last checkpoint, or starts
	// it if it has none. Without Resume, Out must not hold a run.
	Resume bool `json:"-"`
	// CheckpointEvery, if positive, also writes a checkpoint every so many
	// steps within an epoch. It does not affect the result.
	CheckpointEvery int `json:"checkpoint_every,omitempty"`
}

// Defaults returns c with every zero field set to its default.
func (c Config) Defaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Activation, "relu")
	def(&c.Dataset, "mnist")
	def(&c.Precision, "float32")
	def(&c.LRScaling, "none")
	def(&c.Schedule, "constant")
	if c.Epochs == 0 {
		c.Epochs = 1
	}
	if c.BatchSize == 0 {
		c.BatchSize = 128
	}
	if c.MicroBatch == 0 {
		c.MicroBatch = 256
	}
	if c.LR == 0 {
		c.LR = 0.05
	}
	if c.BaseBatch == 0 {
		c.BaseBatch = 128
	}
	if (c.Schedule == "step" || c.Schedule == "absa" && len(c.Milestones) > 0) && c.Gamma == 0 {
		c.Gamma = 0.1
	}
	if c.Schedule == "absa" {
		a := ABSAConfig{}
		if c.ABSA != nil {
			a = *c.ABSA
		}
		a = a.Defaults()
		c.ABSA = &a
	}
	if c.Augment == nil {
		on := strings.HasPrefix(c.Dataset, "cifar")
		c.Augment = &on
	}
	if c.TrackEvery > 0 {
		if c.TrackSamples == 0 {
			c.TrackSamples = 1000
		}
		if c.TrackIters == 0 {
			c.TrackIters = 50
		}
		if c.TrackTrace && c.TrackProbes == 0 {
			c.TrackProbes = 20
		}
	}
	return c
}

// Validate checks a configuration after Defaults. Its errors name the field
// by its command-line flag (-batch-size for BatchSize, …).
func (c Config) Validate() error { return c.validate(true) }

// validate is Validate; knownData says whether Dataset must be a name
// data.Load knows (not when the caller supplies the data).
func (c Config) validate(knownData bool) error {
	bad := func(flag string, v any, want string) error { return &SettingError{Flag: flag, Value: v, Want: want} }
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case c.Model == "":
		return fmt.Errorf("train: -model is required (%s)", strings.Join(models.Names(), ", "))
	case !slices.Contains(models.Names(), c.Model):
		return bad("model", c.Model, "unknown model (want "+strings.Join(models.Names(), ", ")+")")
	case !slices.Contains([]string{"relu", "tanh", "softplus"}, c.Activation):
		return bad("activation", c.Activation, "want relu, tanh or softplus")
	case c.Precision != "float32" && c.Precision != "float64":
		return bad("precision", c.Precision, "want float32 or float64")
	case c.Epochs < 1:
		return bad("epochs", c.Epochs, "want at least 1")
	case c.BatchSize < 1:
		return bad("batch-size", c.BatchSize, "want at least 1")
	case c.MicroBatch < 1:
		return bad("micro-batch", c.MicroBatch, "want at least 1")
	case c.TrainSamples < 0:
		return bad("train-samples", c.TrainSamples, "want 0 (all) or more")
	case c.TestSamples < 0:
		return bad("test-samples", c.TestSamples, "want 0 (all) or more")
	case !(c.ValFraction >= 0 && c.ValFraction < 1):
		return bad("val-fraction", c.ValFraction, "want a fraction in [0, 1)")
	case !(c.LR > 0) || !finite(c.LR):
		return bad("lr", c.LR, "want a positive learning rate")
	case c.BaseBatch < 1:
		return bad("base-batch", c.BaseBatch, "want at least 1")
	case c.LRScaling != "none" && c.LRScaling != "linear":
		return bad("lr-scaling", c.LRScaling, "want none or linear")
	case !(c.Momentum >= 0 && c.Momentum < 1):
		return bad("momentum", c.Momentum, "want a value in [0, 1)")
	case !(c.Dampening >= 0 && c.Dampening <= 1):
		return bad("dampening", c.Dampening, "want a value in [0, 1]")
	case !(c.WeightDecay >= 0) || !finite(c.WeightDecay):
		return bad("weight-decay", c.WeightDecay, "want 0 or more")
	case c.Nesterov && (c.Momentum == 0 || c.Dampening != 0):
		return bad("nesterov", true, "needs a momentum and zero dampening (as torch.optim.SGD)")
	case !slices.Contains([]string{"constant", "step", "cosine", "absa"}, c.Schedule):
		return bad("schedule", c.Schedule, "want constant, step, cosine or absa")
	case c.Schedule != "step" && c.Schedule != "absa" && len(c.Milestones) > 0:
		return bad("milestones", intList(c.Milestones), "only for -schedule step or absa")
	case c.Schedule == "step" && len(c.Milestones) == 0:
		return fmt.Errorf("train: -schedule step needs -milestones (epochs, e.g. 30,60)")
	case len(c.Milestones) > 0 && !(c.Gamma > 0 && c.Gamma <= 1):
		return bad("gamma", c.Gamma, "want a factor in (0, 1]")
	case !(c.MinLR >= 0) || !finite(c.MinLR):
		return bad("min-lr", c.MinLR, "want 0 or more")
	case c.MinLR != 0 && c.Schedule != "cosine":
		return bad("min-lr", c.MinLR, "only for -schedule cosine")
	case !(c.WarmupEpochs >= 0) || !finite(c.WarmupEpochs):
		return bad("warmup", c.WarmupEpochs, "want 0 or more epochs")
	case c.WarmupSteps < 0:
		return bad("warmup-steps", c.WarmupSteps, "want 0 or more")
	case c.WarmupSteps > 0 && c.WarmupEpochs > 0:
		return fmt.Errorf("train: -warmup and -warmup-steps: give one, not both")
	case c.WarmupEpochs > float64(c.Epochs):
		return fmt.Errorf("train: -warmup %v is longer than -epochs %d: the learning rate would never reach -lr", c.WarmupEpochs, c.Epochs)
	case c.TrackEvery < 0:
		return bad("track-every", c.TrackEvery, "want 0 (off) or more epochs")
	case c.TrackSamples < 0 || (c.TrackEvery > 0 && c.TrackSamples == 0):
		return bad("track-samples", c.TrackSamples, "want at least 1")
	case c.TrackIters < 0 || (c.TrackEvery > 0 && c.TrackIters < 2):
		return bad("track-iters", c.TrackIters, "want at least 2")
	case c.TrackIters > MaxSolverIters:
		return bad("track-iters", c.TrackIters, fmt.Sprintf("want at most %d", MaxSolverIters))
	case c.TrackProbes < 0 || (c.TrackEvery > 0 && c.TrackTrace && c.TrackProbes == 0):
		return bad("track-probes", c.TrackProbes, "want at least 1")
	case c.CheckpointEvery < 0:
		return bad("checkpoint-every", c.CheckpointEvery, "want 0 (epoch ends only) or more steps")
	case c.Out == "":
		return fmt.Errorf("train: -out is required (the run folder)")
	}
	if err := c.validateABSA(); err != nil {
		return err
	}
	for i := 1; i < len(c.Milestones); i++ {
		if c.Milestones[i] <= c.Milestones[i-1] {
			return bad("milestones", intList(c.Milestones), "want increasing epochs")
		}
	}
	for _, m := range c.Milestones {
		if m < 1 {
			return bad("milestones", intList(c.Milestones), "want epochs of at least 1")
		}
	}
	if knownData && !slices.Contains(data.Names(), c.Dataset) {
		return bad("dataset", c.Dataset, "unknown dataset (want "+strings.Join(data.Names(), ", ")+")")
	}
	return nil
}

// SettingError is a refused setting of a Config: the command-line flag
// that sets it (without its dash), its value and what was wanted. Field
// gives the setting's name in config.json, for callers that read the
// settings from a file (a sweep's configuration).
type SettingError struct {
	Flag  string
	Value any
	Want  string
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("train: -%s %v: %s", e.Flag, e.Value, e.Want)
}

// Field is the setting's JSON path in a Config ("batch_size",
// "absa.eigen_iters").
func (e *SettingError) Field() string {
	switch f := e.Flag; {
	case f == "warmup":
		return "warmup_epochs"
	case strings.HasPrefix(f, "absa-"):
		return "absa." + strings.ReplaceAll(strings.TrimPrefix(f, "absa-"), "-", "_")
	default:
		return strings.ReplaceAll(f, "-", "_")
	}
}

// MaxSolverIters bounds the Hessian-vector products of one eigenvalue
// estimate during training (-track-iters, -absa-eigen-iters), as the
// analysis commands bound their solvers' iterations: each is a pass over
// the samples, and a Lanczos run keeps its vectors.
const MaxSolverIters = 100_000

// result is c without the fields that do not affect a run's result.
func (c Config) result() Config {
	c.Out, c.Resume, c.CheckpointEvery, c.DataDir = "", false, 0, ""
	return c
}

// fingerprint identifies the result-determining settings of c (those Diff
// compares): a training checkpoint records its run's, so that a resume
// refuses a checkpoint copied from another run, or a config.json edited
// since the checkpoint was written.
func (c Config) fingerprint() string {
	js, err := json.Marshal(c.result())
	if err != nil {
		panic(err) // a Config always encodes
	}
	sum := sha256.Sum256(js)
	return hex.EncodeToString(sum[:16])
}

// intList formats ints as "30,60".
func intList(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

// Diff lists, by their JSON names, the fields in which two configurations of
// one run folder differ, ignoring those that do not affect the result (Out,
// Resume, CheckpointEvery, DataDir). Resuming needs an empty list.
func Diff(a, b Config) []string {
	a, b = a.result(), b.result()
	var diff []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	t := va.Type()
	for i := range t.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
			if name == "" || name == "-" {
				name = t.Field(i).Name
			}
			diff = append(diff, name)
		}
	}
	return diff
}
