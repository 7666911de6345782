//go:build !cuda

package main

// wantNoCUDA is what -device cuda says in the default build.
const wantNoCUDA = "go build -tags cuda"
