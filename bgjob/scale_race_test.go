//go:build race

package bgjob_test

// The race detector limits a program to 8128 simultaneous goroutines and
// slows everything down: fewer jobs.
const scaleJobs = 3_000
