// Package drain holds the drain-under-load test of the real user-server
// binary: SIGTERM while it serves steady concurrent load loses no RPC.
package drain
