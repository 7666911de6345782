// Package hessian turns a model and data into curvature operators v ↦ Hv
// for the solvers of package linop: the parameter Hessian of the mean loss
// over a batch or a whole dataset (streamed in chunks), restricted to chosen
// parameter tensors when asked, the Hessian with respect to the input batch,
// and the generalised Gauss-Newton matrix. Every product is exact: one
// forward-over-reverse pass of the autodiff engine per chunk.
package hessian
