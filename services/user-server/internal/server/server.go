// Package server assembles the gRPC server for user.v1.UserService: the
// interceptor chain (see unaryInterceptors), health, reflection, transport
// limits and graceful shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync/atomic"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/directory"
	"github.com/acme/user-service/services/user-server/internal/limits"
	"github.com/acme/user-service/services/user-server/internal/logging"
	"github.com/acme/user-service/services/user-server/internal/validation"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/proto"
)

// Config configures a Server.
type Config struct {
	Users  directory.Directory // required
	Auth   TokenChecker        // required
	Logger *slog.Logger        // required
	TLS    *tls.Config         // nil serves plaintext
	Limits limits.Limits
	// Forced, when closed during a graceful shutdown, stops the server at
	// once (a second SIGINT/SIGTERM); nil never forces.
	Forced <-chan struct{}

	// AccessLog writes the access log; nil writes it through Logger's
	// handler.
	AccessLog *logging.AccessLogger

	// ExtraOptions are appended to the server's own grpc.ServerOptions
	// (the telemetry benchmark compares other metrics libraries with it).
	ExtraOptions []grpc.ServerOption
	// Metrics records per-call metrics (internal/telemetry); nil: none.
	Metrics RPCMetrics
	// Observer counts auth and validation failures; nil counts nothing.
	Observer Observer
	// Spans starts a span per RPC (internal/telemetry); nil: no tracing.
	// The access-log line then carries the call's trace_id.
	Spans Spans
	// LogRejected also logs the RPCs grpc-go ends before any handler or
	// interceptor (an unsupported grpc-encoding), at the cost of a stats
	// handler on every RPC (see rejectedRPCs).
	LogRejected bool
	// Reflection serves gRPC server reflection, to callers whose
	// "authorization: Bearer TOKEN" metadata holds an accepted token (Auth)
	// and at most Limits.ReflectionStreams streams at once. Off, the
	// service is not registered (UNIMPLEMENTED).
	Reflection bool
	// Conns, if set, is told of every new stream's connection (see
	// listen.FirstStream), so connections that never open one can be
	// closed.
	Conns StreamOpener
}

// StreamOpener is told the remote address of each new stream's
// connection.
type StreamOpener interface {
	Opened(remote net.Addr)
}

// TokenChecker decides whether an auth token is accepted:
// *auth.Authenticator, or *auth.Reloadable when tokens can be reloaded.
type TokenChecker interface {
	Allow(token string) bool
}

// RPCMetrics records gRFC A66's per-call metrics.
type RPCMetrics interface {
	// Started counts a call to fullMethod.
	Started(fullMethod string)
	// Ended records the call's outcome, duration and message bytes.
	Ended(fullMethod string, err error, d time.Duration, rcvd, sent int)
}

// Spans starts and ends a span per RPC.
type Spans interface {
	// Start returns ctx carrying the RPC's span, if it may be sampled.
	Start(ctx context.Context, fullMethod string) context.Context
	// End ends the span in ctx with the RPC's outcome.
	End(ctx context.Context, err error)
}

// Observer is told of the failures the service's own metrics count. It is
// called only for failed requests, from many goroutines at once.
type Observer interface {
	// AuthFailure: the token was missing (or empty), else not accepted.
	AuthFailure(missing bool)
	// ValidationFailure: one violated rule; field and rule come from the
	// schema (field names joined by dots, the protovalidate rule id).
	ValidationFailure(field, rule string)
}

// ValidatedRequests are the request messages whose protovalidate rules the
// server enforces (the validator is compiled for them at start-up).
var ValidatedRequests = []proto.Message{
	&userv1.GetUserDetailsRequest{},
	&healthpb.HealthCheckRequest{},
}

// Server is a configured gRPC server, ready to Serve.
type Server struct {
	grpc       *grpc.Server
	health     *health.Server
	log        *slog.Logger
	registered map[string]grpc.ServiceInfo // the services, for unknownService
	auth       TokenChecker
	validator  *validation.Validator
	svc        *userService
	outer      outermost
	streams    *streams
	forced     <-chan struct{}
	obs        Observer
	reflection *limits.Slots // nil unless Config.Reflection
	watchers   *limits.Slots
	conns      StreamOpener          // nil: none
	unary      map[string]registered // by "/package.Service/Method"
}

// New builds the server: the validator is compiled and warmed for every
// request type here, once, not on the first RPC.
func New(cfg Config) (*Server, error) {
	if cfg.Users == nil || cfg.Auth == nil || cfg.Logger == nil {
		return nil, errors.New("server: Users, Auth and Logger are required")
	}
	v, err := validation.New(ValidatedRequests...)
	if err != nil {
		return nil, fmt.Errorf("building request validator: %w", err)
	}
	s := &Server{
		health:    health.NewServer(),
		log:       cfg.Logger,
		auth:      cfg.Auth,
		validator: v,
		svc:       &userService{users: cfg.Users},
		forced:    cfg.Forced,
		obs:       cfg.Observer,
		conns:     cfg.Conns,
	}
	outer := outermost{log: cfg.AccessLog, spans: cfg.Spans, metrics: cfg.Metrics, markSeen: cfg.LogRejected, cancelled: logging.DefaultSampler(), outage: logging.DefaultSampler(), pendingRefused: logging.DefaultSampler(), methods: map[string]bool{}, running: new(atomic.Int64)}
	if outer.log == nil {
		outer.log = logging.SlogAccessLogger(cfg.Logger.Handler())
	}
	s.outer = outer
	l := cfg.Limits.WithDefaults()
	// The tap needs the registered methods, known only once the server
	// exists; it reads s.streams, set below before Serve.
	opts := []grpc.ServerOption{
		grpc.UnaryInterceptor(s.intercept),
		grpc.ChainStreamInterceptor(outer.stream, s.streamIntercept, func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return s.streams.intercept(srv, ss, info, h)
		}),
		grpc.InTapHandle(func(ctx context.Context, info *tap.Info) (context.Context, error) {
			return s.tap(ctx, info.FullMethodName)
		}),
		grpc.UnknownServiceHandler(s.unknownService),
		grpc.MaxHeaderListSize(l.MaxHeaderListSize),
		grpc.ConnectionTimeout(l.HandshakeTimeout),
		grpc.MaxRecvMsgSize(l.MaxRecvMsgSize),
		grpc.MaxConcurrentStreams(l.MaxConcurrentStreams),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             l.KeepaliveMinTime,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle:     l.MaxConnectionIdle,
			MaxConnectionAge:      l.MaxConnectionAge,
			MaxConnectionAgeGrace: l.MaxConnectionAgeGrace,
			Time:                  l.KeepaliveTime,
			Timeout:               l.KeepaliveTimeout,
		}),
	}
	if l.StreamWorkers > 0 {
		opts = append(opts, grpc.NumStreamWorkers(l.StreamWorkers))
	}
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	if cfg.LogRejected {
		opts = append(opts, grpc.StatsHandler(rejectedRPCs{outer}))
	}
	s.grpc = grpc.NewServer(append(opts, cfg.ExtraOptions...)...)
	// Unary services are registered through reg, whose method wrappers
	// are the outermost layer of each call (telemetry, access line); a
	// streaming service's is the first stream interceptor.
	s.unary = map[string]registered{}
	reg := registrar{s.grpc, outer, s.unary}
	userv1.RegisterUserServiceServer(reg, s.svc)
	served := map[string]bool{"": true, userv1.UserService_ServiceDesc.ServiceName: true}
	healthpb.RegisterHealthServer(reg, healthService{Server: s.health, served: served})
	s.watchers = limits.NewSlots(l.WatchStreams)
	if cfg.Reflection {
		reflection.Register(s.grpc)
		s.reflection = limits.NewSlots(l.ReflectionStreams)
	}
	s.registered = s.grpc.GetServiceInfo()
	for _, m := range s.Methods() {
		outer.methods[m] = true
	}
	for svc := range served {
		s.health.SetServingStatus(svc, healthpb.HealthCheckResponse_SERVING)
	}
	s.streams = newStreams(s.grpc, l.RequestTimeout, l.PendingStreams, l.PendingStreamsFree)
	return s, nil
}

// Methods lists the methods the server serves, as "/package.Service/Method".
func (s *Server) Methods() []string {
	var names []string
	for svc, info := range s.grpc.GetServiceInfo() {
		for _, m := range info.Methods {
			names = append(names, "/"+svc+"/"+m.Name)
		}
	}
	slices.Sort(names)
	return names
}

// Serve accepts connections on lis until ctx is done, then shuts down
// gracefully: health goes NOT_SERVING, GracefulStop drains in-flight RPCs
// for up to shutdownTimeout, then Stop cancels whatever is left. It returns
// nil after a shutdown caused by ctx, or the error that stopped serving.
func (s *Server) Serve(ctx context.Context, lis net.Listener, shutdownTimeout time.Duration) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.grpc.Serve(lis) }()
	select {
	case err := <-serveErr:
		s.health.Shutdown()
		s.grpc.Stop()
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	s.Shutdown(shutdownTimeout)
	if err := <-serveErr; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// Shutdown sets health to NOT_SERVING, ends streaming RPCs (health
// watchers once they were told) and stops the server gracefully, forcing it
// after timeout or when Config.Forced is closed. It reports whether the
// drain completed.
func (s *Server) Shutdown(timeout time.Duration) bool {
	s.log.Info("shutting down", slog.Duration("timeout", timeout))
	s.health.Shutdown()
	s.streams.endAll()
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	poll := time.NewTicker(unsentPoll)
	defer poll.Stop()
	idle := 0 // consecutive polls without a running handler
	for {
		select {
		case <-done:
			s.log.Info("stopped")
			return true
		case <-poll.C:
			// Every handler has returned (twice in a row, so a call just
			// arriving is not cut): what GracefulStop still waits for is
			// replies queued for clients that do not read (a zero
			// flow-control window), which could hold the drain for the
			// whole timeout. Nothing is left to drain.
			if idle++; s.outer.running.Load() != 0 {
				idle = 0
			}
			if idle < 2 {
				continue
			}
			s.log.Info("drained: closing connections whose clients are not reading their replies")
			s.grpc.Stop()
			<-done
			s.log.Info("stopped")
			return true
		case <-t.C:
			s.log.Warn("shutdown timeout: cancelling remaining RPCs", slog.Duration("timeout", timeout))
		case <-s.forced:
			s.log.Warn("second signal: stopping now, cancelling remaining RPCs")
		}
		s.grpc.Stop()
		<-done
		return false
	}
}

// unsentPoll is how often a shutdown checks whether any handler is still
// running.
const unsentPoll = 100 * time.Millisecond
