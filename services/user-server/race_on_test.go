//go:build race

package main

// raceEnabled makes the end-to-end test build the binary with -race too, so
// the build reuses the packages the race-enabled test already compiled.
const raceEnabled = true
