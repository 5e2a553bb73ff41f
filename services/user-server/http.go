package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/acme/user-service/services/user-server/internal/config"
	"github.com/acme/user-service/services/user-server/internal/httpapi"
	"github.com/acme/user-service/services/user-server/internal/listen"
	"github.com/acme/user-service/services/user-server/internal/server"
)

// httpFrontDoor is the HTTP listener (--http-listen), bound but not yet
// serving; nil when off.
type httpFrontDoor struct {
	srv *httpapi.Server
	lis net.Listener
	url string
}

// wrapHTTPListener wraps the bound HTTP listener; tests replace it to make
// the listener fail while serving.
var wrapHTTPListener = func(l net.Listener) net.Listener { return l }

// listenHTTP binds --http-listen (loopback unless --http-allow-remote) with
// its own --max-connections cap.
func listenHTTP(ctx context.Context, cfg config.Config, srv *server.Server, tlsConfig *tls.Config, log *slog.Logger) (*httpFrontDoor, error) {
	if cfg.HTTP.Listen == "" {
		return nil, nil
	}
	addr := cfg.HTTP.Listen
	if !cfg.HTTP.AllowRemote {
		var err error
		if addr, err = listen.Loopback(ctx, addr, lookupNetIP); err != nil {
			return nil, fmt.Errorf("--http-listen: %w (add --http-allow-remote to serve other hosts)", err)
		}
	}
	hs, err := httpapi.New(httpapi.Config{
		Server: srv, Limits: cfg.Limits, CORSOrigins: cfg.HTTP.CORSOrigins, TLS: tlsConfig, Log: log,
	})
	if err != nil {
		return nil, err
	}
	lis, err := listen.TCP(ctx, addr, cfg.MaxConnections)
	if err != nil {
		return nil, fmt.Errorf("--http-listen: %w", err)
	}
	lis = wrapHTTPListener(lis)
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	return &httpFrontDoor{srv: hs, lis: lis, url: scheme + "://" + lis.Addr().String()}, nil
}

// start serves until ctx is done; the returned channel yields its result.
func (h *httpFrontDoor) start(ctx context.Context, cfg config.Config, stdout io.Writer) <-chan error {
	done := make(chan error, 1)
	if h == nil {
		done <- nil
		return done
	}
	fmt.Fprintf(stdout, "http on %s\n", h.url)
	go func() { done <- h.srv.Serve(ctx, h.lis, cfg.ShutdownTimeout) }()
	return done
}
