//go:build cuda

package main

import (
	"fmt"

	"hesscope/cuda"
	"hesscope/hessian"
	"hesscope/models"
	"hesscope/tensor"
)

// cudaEngine returns the GPU engine for net.
func cudaEngine[T tensor.Float](net *models.Net[T]) (hessian.Engine[T], error) {
	eng, err := cuda.NewEngine[T](net, net.Input)
	if err != nil {
		return nil, fmt.Errorf("-device cuda: %w", err)
	}
	return eng, nil
}
