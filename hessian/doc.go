// Package hessian turns a model and data into curvature operators v ↦ Hv
// for the solvers of package linop: the parameter Hessian of the mean loss
// over a batch or a whole dataset (streamed in chunks), restricted to chosen
// parameter tensors when asked, the Hessian with respect to the input batch,
// and the generalised Gauss-Newton matrix. Every product is exact: one
// forward-over-reverse pass of the autodiff engine per chunk, which forms
// the product alone (Request.HvOnly: the gradient's weight products are
// skipped).
//
// # Datasets of any size
//
// Params, GaussNewton and Objective average over Data chunk by chunk,
// weighting each chunk's mean by its size, so memory is that of one chunk
// per worker whatever the dataset size. Chunks are processed by Workers
// goroutines (one by default: each pass is parallel inside), each with its
// own Evaluator (the model is only read; BatchNorm
// running statistics are never updated), and their contributions are added
// in chunk order: the result is bit-for-bit the same as a sequential loop,
// for any number of workers.
//
// # Blocks, samples and points
//
// Select and Layers choose parameter tensors by name or module, for the
// diagonal blocks of a per-layer analysis. SampleInputEigen computes the
// extreme eigenvalues of each sample's input Hessian ∇²ₓℓ (an Input operator
// on a batch of one), in parallel over samples. Request.At evaluates the
// model at other parameter values without modifying it, which Objective
// (the loss as a function of θ), package landscape and package sharpness
// build on.
package hessian
