//go:build cuda

package main

// wantNoCUDA is what -device cuda says in a cuda build without a driver.
const wantNoCUDA = "libcuda.so.1"
