//go:build !cuda

package main

import (
	"errors"

	"hesscope/hessian"
	"hesscope/models"
	"hesscope/tensor"
)

// errNoCUDA is the error of -device cuda in a build without GPU support.
var errNoCUDA = errors.New("-device cuda: this hesscope was built without GPU support; build it with: CGO_ENABLED=0 go build -tags cuda ./cmd/hesscope")

// cudaEngine fails: the default build has no GPU code.
func cudaEngine[T tensor.Float](*models.Net[T]) (hessian.Engine[T], error) { return nil, errNoCUDA }
