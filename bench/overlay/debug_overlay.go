//go:build benchoverlay

// This file is not built on its own: `make bench-soak` adds it to
// services/user-server's main package at build time with go build -overlay
// (and -tags benchoverlay), so the soak and profiling runs can observe the
// real server from inside without any change to its source. With
// BENCH_DEBUG_ADDR unset it does nothing.
//
// It serves, on BENCH_DEBUG_ADDR (loopback only):
//
//	/debug/goroutines  runtime.NumGoroutine(), a plain number
//	/debug/pprof/      net/http/pprof, for CPU and heap profiles under load
package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
	"runtime"
)

func init() {
	addr := os.Getenv("BENCH_DEBUG_ADDR")
	if addr == "" {
		return
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
		fmt.Fprintf(os.Stderr, "BENCH_DEBUG_ADDR %q: want a loopback host:port\n", addr)
		os.Exit(2)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "BENCH_DEBUG_ADDR:", err)
		os.Exit(2)
	}
	http.HandleFunc("/debug/goroutines", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, runtime.NumGoroutine())
	})
	go func() { _ = http.Serve(lis, nil) }()
}
