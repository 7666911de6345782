// Package analysis holds hesscope's analyses as library code: the Hessian
// spectrum (top and bottom eigenvalues, trace, density, per-layer blocks,
// input-space spectra), the loss landscape, sharpness, adversarial
// robustness and the saddle check. Each is one function taking a context,
// a model, its data and an options struct, and returning a typed result —
// the JSON that the hesscope command prints, with the same field names.
//
// The command (cmd/hesscope) only parses flags into options, calls one of
// these functions and prints or writes the result; the sweep
// (package experiment) chooses options and calls the same functions, so the
// numbers of a sweep and of the command for the same network, data and
// options are the same bits.
//
// Zero fields of an options struct take the defaults documented on them,
// which are the command's. Progress is reported through an optional
// callback (see [Progress]); cancellation through the context, whose error
// an analysis returns when it stops early.
//
// Where the Hessian-vector products and loss evaluations run is one field of
// every options struct, Backend (nil: this process's CPU engine, [CPU]); see
// [Backend] for what another implementation must guarantee.
//
// A researcher with a model and data gets the top eigenvalues, the trace and
// the spectral density in a few lines; see the package example.
package analysis
