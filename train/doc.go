// Package train trains the networks of the model zoo by stochastic gradient
// descent at any batch size, from 1 image to the whole training set, and
// keeps a run folder that survives being killed at any moment.
//
// # Optimiser
//
// SGD is torch.optim.SGD step for step: with gradient g, parameters θ,
// learning rate η, momentum μ, dampening τ and weight decay λ,
//
//	d = g + λ·θ
//	b = d                    on the first step (μ ≠ 0)
//	b = μ·b + (1 − τ)·d      afterwards
//	d = d + μ·b              with Nesterov, else d = b
//	θ = θ − η·d
//
// Weight decay applies to every trainable tensor (biases and BatchNorm
// weights included), as PyTorch's default parameter group does.
//
// # Batches and BatchNorm
//
// An epoch visits the training set in the order data.Permutation(N, seed,
// epoch); a batch of B images is processed in micro-batches of at most
// Config.MicroBatch images (the batch cut into k = ⌈B/MicroBatch⌉ parts of
// near-equal size), and their gradients are averaged weighted by size, so
// the update is that of the whole batch while memory stays that of one
// micro-batch: full-batch gradient descent on 60,000 images runs in the
// memory of a few hundred. BatchNorm, in train mode, normalises each
// micro-batch with that micro-batch's statistics and updates its running
// statistics once per micro-batch (momentum 0.1, unbiased variance), as
// PyTorch does when it accumulates gradients over micro-batches. Test,
// validation and curvature evaluations use eval mode (running statistics).
// For a model without BatchNorm the micro-batch size changes nothing but
// rounding.
//
// # Learning rate
//
// Config.LR is the rate at batch size Config.BaseBatch; with LRScaling
// "linear" the base rate is LR·B/BaseBatch (Goyal et al., 2017), B the
// batch a step takes (BatchSize, or the whole training set if smaller). The
// schedule multiplies it: constant; "step", by Gamma at every milestone
// epoch passed; "cosine", per step from the base rate down to MinLR over
// the whole run. A linear warm-up over the first W steps multiplies the rate
// by (s+1)/W at step s.
//
// # Adaptive batch size
//
// The "absa" schedule (ABSAConfig) is ABSA, adaptive batch size with
// adversarial training (Yao et al., arXiv:1810.01021): the batch size starts
// at Config.BatchSize and doubles, with the learning rate, whenever the top
// Hessian eigenvalue on a random training batch has halved since the first
// value measured at the current batch size, or after a number of epochs
// without a change, up to a maximum; a fraction of every batch, halved with
// every doubling, is replaced by FGSM examples. The batch size, adversarial
// fraction, reference and epochs since the last change are part of the
// checkpoint, and the metrics record them with the eigenvalue every epoch.
//
// # Run folder
//
// Run writes to Config.Out:
//
//	config.json        the configuration, program version, BatchNorm semantics, threads
//	metrics.jsonl      one JSON object per epoch (see Metrics)
//	metrics.csv        the same as CSV with a header line
//	state.safetensors  the checkpoint: exact weights and buffers in the run's
//	                   precision, momentum buffers, counters, metrics positions
//	model.safetensors  the model's PyTorch state_dict (float32, with
//	                   num_batches_tracked), loadable with strict=True
//	final.json         the Summary, written last: the run is done
//
// Every file is replaced atomically (temporary file, fsync, rename), and the
// metrics files are appended and fsynced before the checkpoint that counts
// them. A checkpoint is written at the end of every epoch, every
// Config.CheckpointEvery steps, and when the context is cancelled. A run
// killed at any moment resumes (Config.Resume) from its last checkpoint:
// the metrics files are cut back to the length that checkpoint recorded, and
// the run ends with exactly the weights and metrics of an uninterrupted run
// (timings aside), with the same seed and the same engine. All randomness
// (data order, augmentation, perturbation) is derived from the seed and the
// epoch, step and micro-batch numbers, so the counters in the checkpoint are
// the whole random state.
//
// A non-finite loss stops the run with an error naming the epoch and step;
// nothing is written, so the last checkpoint stays the last good state.
package train
