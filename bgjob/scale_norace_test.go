//go:build !race

package bgjob_test

const scaleJobs = 100_000
