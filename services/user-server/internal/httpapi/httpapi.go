// Package httpapi is the HTTP listener: the Connect protocol (POST in JSON
// and binary, GET for methods free of side effects), gRPC-Web and the REST
// routes of the contract's google.api.http options, all answered by the
// very handlers and interceptors native gRPC calls run: validation, auth
// (including the Authorization: Bearer header), metrics, spans and the
// access line (with the protocol). Two ways in:
//   - a unary method's Connect and gRPC-Web calls: a connect-go handler
//     that calls the server's registered handler (server.Unary; see
//     direct.go), the cheap path;
//   - everything else (the REST routes, streaming methods, unknown
//     paths): connectrpc.com/vanguard transcodes to gRPC and hands the
//     call to the gRPC server's ServeHTTP.
//
// What neither path gets from grpc-go's transport, this package does:
//   - the request deadline (grpc-go applies it in its tap handle, which
//     ServeHTTP skips): the request's context gets --request-timeout (a
//     client's Connect-Timeout-Ms or grpc-timeout may only shorten it) and
//     the body must be read within it;
//   - message limits: the body is capped (a JSON message is bigger than
//     its binary form, so at twice --max-recv-msg-size) and vanguard and
//     connect-go read at most that much; --max-recv-msg-size then applies
//     to the binary message itself (grpc-go's check, or rawMessage.decode);
//   - header limits, the handshake and idle timeouts and the connection
//     cap: http.Server's MaxHeaderBytes (--max-header-list-size),
//     ReadHeaderTimeout (--handshake-timeout), IdleTimeout
//     (--max-connection-idle), and the listener from listen.TCP
//     (--max-connections, counted apart from the gRPC listener's);
//   - CORS for the allowed origins only (none by default).
package httpapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"connectrpc.com/vanguard"
	"github.com/acme/user-service/services/user-server/internal/limits"
	"github.com/acme/user-service/services/user-server/internal/server"
)

// Config configures the HTTP listener.
type Config struct {
	Server *server.Server // required: the server whose services are served
	Limits limits.Limits
	// CORSOrigins may call from browser pages of other origins.
	CORSOrigins []string
	TLS         *tls.Config // nil serves plaintext (HTTP/1.1)
	// Log receives http.Server's own errors (a failed TLS handshake, a
	// malformed request line) at DEBUG: they are the caller's faults.
	Log *slog.Logger
}

// maxGetURLBytes bounds a request's URL (a Connect GET's message travels
// in it).
const maxGetURLBytes = 8 << 10

// Server is the HTTP listener's server.
type Server struct {
	http *http.Server
	tls  bool
}

// New builds the handler chain and the http.Server.
func New(cfg Config) (*Server, error) {
	if cfg.Server == nil || cfg.Log == nil {
		return nil, errors.New("httpapi: Server and Log are required")
	}
	l := cfg.Limits.WithDefaults()
	bodyLimit := 2*int64(l.MaxRecvMsgSize) + 64
	direct, err := directHandlers(cfg.Server, l.MaxRecvMsgSize, bodyLimit)
	if err != nil {
		return nil, err
	}
	tc, err := transcoder(cfg.Server, direct, bodyLimit)
	if err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	h := &handler{
		next:      tc,
		direct:    direct,
		origins:   slices.Clone(cfg.CORSOrigins),
		timeout:   l.RequestTimeout,
		bodyLimit: bodyLimit,
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.HandshakeTimeout,
		IdleTimeout:       l.MaxConnectionIdle,
		MaxHeaderBytes:    int(l.MaxHeaderListSize),
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelDebug),
	}
	if cfg.TLS != nil {
		t := cfg.TLS.Clone()
		t.NextProtos = []string{"h2", "http/1.1"}
		hs.TLSConfig = t
	}
	return &Server{http: hs, tls: cfg.TLS != nil}, nil
}

// Handler is the handler chain (CORS, limits, then vanguard), for tests.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Serve serves lis until ctx is done, then shuts down: in-flight calls get
// up to shutdownTimeout, then the connections are closed.
func (s *Server) Serve(ctx context.Context, lis net.Listener, shutdownTimeout time.Duration) error {
	errc := make(chan error, 1)
	go func() {
		if s.tls {
			errc <- s.http.ServeTLS(lis, "", "")
		} else {
			errc <- s.http.Serve(lis)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(sctx); err != nil {
		_ = s.http.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving HTTP: %w", err)
	}
	return nil
}

// transcoder is vanguard over the server's services: a service whose
// methods all have direct handlers is called through them (the Connect
// protocol, in binary), the others through the gRPC server's ServeHTTP.
func transcoder(srv *server.Server, direct map[string]http.Handler, bodyLimit int64) (*vanguard.Transcoder, error) {
	directMux := http.NewServeMux()
	for path, h := range direct {
		directMux.Handle(path, h)
	}
	var services []*vanguard.Service
	for name, info := range srv.GRPC().GetServiceInfo() {
		all := true
		for _, m := range info.Methods {
			if _, ok := direct["/"+name+"/"+m.Name]; !ok {
				all = false
			}
		}
		if all {
			services = append(services, vanguard.NewService(name, directMux,
				vanguard.WithTargetProtocols(vanguard.ProtocolConnect), vanguard.WithTargetCodecs(vanguard.CodecProto)))
		} else {
			services = append(services, vanguard.NewService(name, srv.GRPC(),
				vanguard.WithTargetProtocols(vanguard.ProtocolGRPC), vanguard.WithTargetCodecs(vanguard.CodecProto)))
		}
	}
	tc, err := vanguard.NewTranscoder(services, vanguard.WithDefaultServiceOptions(
		vanguard.WithMaxMessageBufferBytes(uint32(bodyLimit)),
		vanguard.WithMaxGetURLBytes(maxGetURLBytes),
	))
	if err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	return tc, nil
}

type handler struct {
	next      http.Handler            // vanguard over the gRPC server
	direct    map[string]http.Handler // unary methods, by path (direct.go)
	origins   []string
	timeout   time.Duration
	bodyLimit int64
}

// CORS: what a browser page may send and read.
const (
	corsMethods = "GET, POST"
	corsHeaders = "Authorization, Content-Type, Connect-Protocol-Version, Connect-Timeout-Ms, Grpc-Timeout, X-Grpc-Web, X-User-Agent"
	corsExpose  = "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin"
)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" {
		allowed := slices.Contains(h.origins, origin)
		if allowed {
			w.Header().Add("Vary", "Origin")
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Expose-Headers", corsExpose)
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if !allowed {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			w.Header().Set("Access-Control-Allow-Methods", corsMethods)
			w.Header().Set("Access-Control-Allow-Headers", corsHeaders)
			w.Header().Set("Access-Control-Max-Age", "7200")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	// The body must arrive within the request's time, like a gRPC
	// stream's message (a missing deadline support is not fatal: HTTP/1.1
	// and HTTP/2 both have it).
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.timeout))
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	ctx = server.WithHTTPCall(ctx, server.HTTPCall{Protocol: protocol(r), InURL: r.Method == http.MethodGet})
	r = r.WithContext(ctx)
	r.Body = http.MaxBytesReader(w, r.Body, h.bodyLimit)
	if len(r.RequestURI) > maxGetURLBytes {
		// A Connect GET carries its message in the URL: bounded like a
		// body (vanguard checks its own paths likewise).
		http.Error(w, "request URI too long", http.StatusRequestURITooLong)
		return
	}
	if d, ok := h.direct[r.URL.Path]; ok {
		d.ServeHTTP(w, r)
		return
	}
	h.next.ServeHTTP(w, r)
}

// protocol names the caller's protocol for the access line: a path that is
// not /package.Service/Method is a REST route.
func protocol(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/grpc-web"):
		return "grpc-web"
	case strings.HasPrefix(ct, "application/grpc"):
		return "grpc"
	}
	svc, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !strings.Contains(svc, ".") {
		return "rest"
	}
	return "connect"
}
