package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/config"
	"github.com/acme/user-service/services/user-server/internal/directory/file"
	"github.com/acme/user-service/services/user-server/internal/listen"
	"github.com/acme/user-service/services/user-server/internal/logging"
	"github.com/acme/user-service/services/user-server/internal/server"
	"github.com/acme/user-service/services/user-server/internal/signals"
	"github.com/acme/user-service/services/user-server/internal/telemetry"
)

// logBufferSize is the access log's buffer; it is flushed every
// logging.DefaultFlushInterval and on shutdown.
const logBufferSize = 64 << 10

// lookupNetIP resolves the --listen host in development mode; tests replace
// it to map localhost elsewhere.
var lookupNetIP listen.LookupFunc = net.DefaultResolver.LookupNetIP

// defaultGCPercent replaces the runtime's GOGC=100 unless GOGC is set.
const defaultGCPercent = 400

// defaultMemoryLimit is the runtime's soft memory limit unless GOMEMLIMIT
// is set (GOMEMLIMIT=off: none, the runtime's default).
const defaultMemoryLimit = 128 << 20

// run runs the migrate or import subcommand, or else starts the server and
// blocks until ctx is cancelled (SIGINT/SIGTERM), then shuts down
// gracefully; SIGHUP reloads the users and tokens files. The first line on
// stdout, once the server accepts connections, is "listening on HOST:PORT"
// with the bound address.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if ok, err := subcommand(ctx, args, getenv, stdout); ok {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return serve(ctx, args, getenv, stdout, stderr, hup)
}

// serve is run's server; each value on hup reloads.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, hup <-chan os.Signal) error {
	cfg, err := config.Parse(args, getenv, stdout)
	if errors.Is(err, config.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	// The live heap is a couple of MiB, so at the default GOGC=100 the
	// collector runs every few MiB allocated, i.e. every few thousand RPCs,
	// and each cycle marks the validator's and registries' data again. A
	// higher target trades a few MiB of memory for most of that CPU. An
	// explicit GOGC in the environment wins.
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	// GOGC=400 lets the heap grow to 5× the live heap before a collection.
	// What clients make the server hold for a while (request headers of
	// streams waiting for their message, replies queued for clients that
	// do not read) is garbage soon after, but at that target it is
	// collected late; a soft limit makes the collector run more often only
	// as the heap nears it, which took a flood's peak RSS from about 230 to
	// 140 MiB (docs/hardening.md). An explicit GOMEMLIMIT wins (the runtime
	// has applied it already), "off" included.
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}

	// Everything that can be wrong with the configuration is checked before
	// anything is opened or bound.
	users := file.Default()
	if cfg.UsersFile != "" {
		if users, err = file.Load(ctx, cfg.UsersFile); err != nil {
			return err
		}
	}
	authn, err := loadAuth(ctx, cfg, getenv)
	if err != nil {
		return err
	}
	listenAddr := cfg.Listen
	if authn.DevMode() {
		if listenAddr, err = listen.Loopback(ctx, cfg.Listen, lookupNetIP); err != nil {
			return fmt.Errorf("refusing to listen on %s without auth tokens (%v): development mode (no --auth-tokens-file or %s) serves loopback addresses only", cfg.Listen, err, config.TokensEnv)
		}
	}
	tlsConfig, err := cfg.TLSConfig(ctx)
	if err != nil {
		return err
	}

	logOut := stderr
	if cfg.LogFile != "" {
		f, err := os.OpenFile(cfg.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("--log-file: %w", err)
		}
		defer f.Close()
		logOut = f
	}
	logBuf := logging.NewBufferedWriter(logOut, logBufferSize, logging.DefaultFlushInterval)
	defer logBuf.Close()
	handler, err := logging.NewHandler(logBuf, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	log := slog.New(handler)
	access, err := logging.NewAccessLogger(logBuf, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	for _, d := range cfg.Deprecated {
		log.Warn(d)
	}

	dir, err := openDirectory(cfg, users, log)
	if err != nil {
		return err
	}
	defer dir.Close()
	if cfg.Telemetry.MetricsListen != "" && !cfg.MetricsAllowRemote {
		if cfg.Telemetry.MetricsListen, err = listen.Loopback(ctx, cfg.Telemetry.MetricsListen, lookupNetIP); err != nil {
			return fmt.Errorf("--metrics-listen: %w (add --metrics-allow-remote to serve /metrics to other hosts)", err)
		}
	}
	cfg.Telemetry.ErrorLog = log
	tel, err := telemetry.New(ctx, cfg.Telemetry, telemetry.Sources{Directory: dir, Requests: server.ValidatedRequests})
	if err != nil {
		return err
	}
	// The shutdown, spans' flush included, fits in --shutdown-timeout from
	// the signal.
	stopBy := make(chan time.Time, 1)
	defer context.AfterFunc(ctx, func() { stopBy <- time.Now().Add(cfg.ShutdownTimeout) })()
	defer func() {
		deadline := time.Now().Add(cfg.ShutdownTimeout) // serving failed: no signal
		select {
		case deadline = <-stopBy:
		default:
		}
		shutdownTelemetry(tel, log, deadline)
	}()
	tokens := auth.NewReloadable(authn)
	idleConns := listen.NewFirstStream(cfg.Limits.WithDefaults().FirstStreamTimeout)
	srv, err := server.New(server.Config{
		Users: dir, Auth: tokens, Logger: log, AccessLog: access, TLS: tlsConfig, Limits: cfg.Limits,
		Forced:  signals.Forced(ctx),
		Metrics: tel.RPCMetrics(), Observer: tel.Observer(), Spans: tel.Spans(),
		LogRejected: cfg.LogRejectedRPCs,
		Reflection:  cfg.Reflection, Conns: idleConns,
	})
	if err != nil {
		return err
	}
	tel.SetMethods(srv.Methods())
	metricsAddr, err := tel.Listen()
	if err != nil {
		return err
	}
	// Health follows the directory: NOT_SERVING while its database is away.
	dir.Watch(srv.SetServing)
	reloadCtx, stopReloads := context.WithCancel(ctx)
	reloadsDone := make(chan struct{})
	go func() { followReloads(reloadCtx, hup, dir, cfg, tokens, log); close(reloadsDone) }()
	defer func() { stopReloads(); <-reloadsDone }()
	lis, err := listen.TCP(ctx, listenAddr, cfg.MaxConnections)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	lis = idleConns.Listener(lis)
	front, err := listenHTTP(ctx, cfg, srv, tlsConfig, log)
	if err != nil {
		lis.Close()
		return err
	}
	addr := lis.Addr().String()
	if authn.DevMode() {
		log.Warn("development mode: no auth tokens configured (--auth-tokens-file or "+config.TokensEnv+"); accepting only the walkthrough's demo token, on loopback only",
			slog.String("addr", addr))
	}
	log.Info("listening",
		slog.String("addr", addr),
		slog.Bool("tls", tlsConfig != nil),
		slog.Bool("mtls", tlsConfig != nil && tlsConfig.ClientCAs != nil),
		dir.LogAttr(),
		slog.String("log_level", cfg.LogLevel.String()),
		slog.String("metrics", metricsAddr),
		slog.Bool("tracing", tel.Spans() != nil),
	)
	if front != nil {
		log.Info("listening (HTTP: Connect, gRPC-Web, REST)", slog.String("url", front.url), slog.Any("cors_origins", cfg.HTTP.CORSOrigins))
	}
	_ = logBuf.Flush()
	fmt.Fprintf(stdout, "listening on %s\n", addr)
	if metricsAddr != "" {
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", metricsAddr)
	}
	// Each listener stops with the other, whatever stopped it: a process
	// whose HTTP listener failed must not go on serving gRPC alone, looking
	// healthy to its supervisor while HTTP callers are refused.
	httpCtx, stopHTTP := context.WithCancel(ctx)
	defer stopHTTP()
	grpcCtx, stopGRPC := context.WithCancel(ctx)
	defer stopGRPC()
	httpDone := front.start(httpCtx, cfg, stdout)
	httpResult := make(chan error, 1)
	go func() {
		herr := <-httpDone
		if herr != nil {
			log.Error("HTTP server stopped", slog.String("error", herr.Error()))
			stopGRPC() // a graceful shutdown, as on a signal
		}
		httpResult <- herr
	}()

	err = srv.Serve(grpcCtx, lis, cfg.ShutdownTimeout)
	if err != nil {
		log.Error("server stopped", slog.String("error", err.Error()))
	}
	stopHTTP()
	return errors.Join(err, <-httpResult)
}

// shutdownTelemetry stops /metrics and flushes the spans still buffered,
// until deadline at most (what is left of --shutdown-timeout after the
// drain); spans not exported by then are counted in the log.
func shutdownTelemetry(tel *telemetry.Telemetry, log *slog.Logger, deadline time.Time) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		log.Warn("telemetry shutdown", slog.String("error", err.Error()))
	}
}

// loadAuth reads the configured tokens; none configured means development
// mode. Setting both sources is ambiguous, so it is an error.
func loadAuth(ctx context.Context, cfg config.Config, getenv func(string) string) (*auth.Authenticator, error) {
	envTokens := getenv(config.TokensEnv)
	var tokens []string
	if cfg.AuthTokensFile != "" && envTokens != "" {
		return nil, fmt.Errorf("both --auth-tokens-file and %s are set; use one", config.TokensEnv)
	} else if cfg.AuthTokensFile != "" {
		var err error
		if tokens, err = auth.LoadTokensFile(ctx, cfg.AuthTokensFile); err != nil {
			return nil, err
		}
	} else if envTokens != "" {
		if tokens = auth.ParseTokens(envTokens); len(tokens) == 0 {
			return nil, fmt.Errorf("%s holds no tokens", config.TokensEnv)
		}
	}
	a, err := auth.New(tokens)
	if err != nil {
		return nil, fmt.Errorf("auth tokens: %w", err)
	}
	return a, nil
}
