package limits

import (
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// HTTP bounds a plain HTTP server: /metrics, and any other HTTP listener
// that shares the process's file descriptors with gRPC. Without them a
// client can hold a connection open forever (no request, or idle between
// keep-alive requests), and a few hundred such clients exhaust the
// descriptors gRPC needs too.
type HTTP struct {
	// ReadHeaderTimeout closes a connection whose request headers do not
	// arrive in time (a connection that sends nothing, included).
	ReadHeaderTimeout time.Duration
	// ReadTimeout and WriteTimeout bound reading a whole request and
	// writing its response.
	ReadTimeout, WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle for this long.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes int
	// MaxConns caps concurrent connections; further clients wait in the
	// kernel's listen backlog (using no descriptor of the process) until
	// one closes. 0: no cap.
	MaxConns int
}

// MetricsHTTP are the bounds of /metrics: a scrape is one small GET every
// few seconds from a handful of Prometheus servers.
var MetricsHTTP = HTTP{
	ReadHeaderTimeout: 5 * time.Second,
	ReadTimeout:       10 * time.Second,
	WriteTimeout:      30 * time.Second,
	IdleTimeout:       10 * time.Second,
	MaxHeaderBytes:    16 << 10,
	MaxConns:          32,
}

// Server returns an http.Server for h with these bounds.
func (b HTTP) Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: b.ReadHeaderTimeout,
		ReadTimeout:       b.ReadTimeout,
		WriteTimeout:      b.WriteTimeout,
		IdleTimeout:       b.IdleTimeout,
		MaxHeaderBytes:    b.MaxHeaderBytes,
	}
}

// Listener applies MaxConns to lis.
func (b HTTP) Listener(lis net.Listener) net.Listener {
	if b.MaxConns > 0 {
		return netutil.LimitListener(lis, b.MaxConns)
	}
	return lis
}
