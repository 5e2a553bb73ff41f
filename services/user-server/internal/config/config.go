// Package config parses the server's command line: every flag has an
// environment fallback USER_SERVER_<FLAG_NAME_IN_UPPER_SNAKE_CASE>, and a
// flag given on the command line wins over its environment variable.
package config

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"time"

	"github.com/acme/user-service/services/user-server/internal/cfgfile"
	"github.com/acme/user-service/services/user-server/internal/limits"
	"github.com/acme/user-service/services/user-server/internal/logging"
	"github.com/acme/user-service/services/user-server/internal/telemetry"
)

// TokensEnv holds auth tokens (comma- or newline-separated). Tokens are
// secrets, so they have no flag: flags show up in process listings.
const TokensEnv = EnvPrefix + "AUTH_TOKENS"

// Config is the parsed command line.
type Config struct {
	Listen         string
	UsersFile      string
	AuthTokensFile string
	TLSCert        string
	TLSKey         string
	TLSClientCA    string
	LogLevel       slog.Level
	LogFormat      string
	LogFile        string
	// LogRejectedRPCs also logs RPCs grpc-go rejects before any handler
	// (server.Config.LogRejected).
	LogRejectedRPCs bool
	ShutdownTimeout time.Duration
	Limits          limits.Limits
	// MaxConnections caps concurrent connections; 0 means no cap.
	MaxConnections int
	Database       Database
	Telemetry      telemetry.Config
	// MetricsAllowRemote lets --metrics-listen be a non-loopback address:
	// /metrics is unauthenticated, and its runtime and process metrics tell
	// a stranger about the host.
	MetricsAllowRemote bool
	// Reflection serves gRPC server reflection (to callers with a token).
	Reflection bool
	// HTTP configures the HTTP listener (Connect, gRPC-Web, REST/JSON).
	HTTP HTTP
	// Deprecated lists the deprecated flag and variable names used, one
	// warning each, for the server to log.
	Deprecated []string
}

// ErrHelp is returned after --help printed the usage.
var ErrHelp = flag.ErrHelp

// Parse parses args with environment fallbacks from getenv. --help writes
// the usage to stdout and returns ErrHelp.
func Parse(args []string, getenv func(string) string, stdout io.Writer) (Config, error) {
	var (
		c             Config
		level         string
		maxStreams    uint
		streamWorkers uint
		flags         = newFlagSet("user-server")
		fs            = flags.fs
		lim           = limits.Default
		durationFor   = map[string]*time.Duration{}
	)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:50051", "`host:port` to listen on; port 0 picks a free port (the bound address is printed on stdout as \"listening on ADDR\")")
	fs.StringVar(&c.UsersFile, "users", "", "JSON user directory `file` ({\"users\": [{\"id\", \"name\", \"email\"}]}); default: the embedded directory (john123)")
	fs.StringVar(&c.AuthTokensFile, "auth-tokens-file", "", "`file` of accepted auth tokens, one per line ('#' comments); or set "+TokensEnv+" (comma- or newline-separated). With neither, development mode: only the demo token, only loopback addresses")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate `file` for TLS (with --tls-key); default: plaintext")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key `file` for TLS (with --tls-cert)")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", "", "PEM CA `file`: require client certificates signed by it (mTLS; needs --tls-cert)")
	fs.StringVar(&level, "log-level", "info", "minimum log `level`: debug, info (one access-log line per RPC), warn (failed RPCs only) or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log `format`: text or json")
	fs.StringVar(&c.LogFile, "log-file", "", "append logs to this `file`; default: standard error")
	fs.BoolVar(&c.LogRejectedRPCs, "log-rejected-rpcs", false, "also log the RPCs grpc-go rejects before any handler runs (an unsupported grpc-encoding); off by default: it adds a gRPC stats handler, which costs every RPC about 20 allocations (1.2 KB)")
	fs.IntVar(&lim.MaxRecvMsgSize, "max-recv-msg-size", lim.MaxRecvMsgSize, "largest accepted request message, in `bytes`")
	fs.UintVar(&maxStreams, "max-concurrent-streams", uint(lim.MaxConcurrentStreams), "concurrent RPCs allowed per connection")
	fs.StringVar(&c.Telemetry.MetricsListen, "metrics-listen", "", "`host:port` serving Prometheus metrics on /metrics (loopback only, unless --metrics-allow-remote); default: off")
	fs.BoolVar(&c.MetricsAllowRemote, "metrics-allow-remote", false, "allow a non-loopback --metrics-listen address (/metrics has no authentication)")
	fs.StringVar(&c.HTTP.Listen, "http-listen", "", "`host:port` serving the Connect protocol, gRPC-Web and the REST/JSON routes (loopback only, unless --http-allow-remote; TLS with --tls-cert/--tls-key, the same limits as gRPC); default: off")
	fs.BoolVar(&c.HTTP.AllowRemote, "http-allow-remote", false, "allow a non-loopback --http-listen address")
	fs.StringVar(&c.HTTP.corsOrigins, "http-cors-origins", "", "comma-separated `origins` (scheme://host[:port]) whose browser pages may call --http-listen cross-origin; default: none")
	fs.StringVar(&c.Telemetry.OTLPEndpoint, "otlp-endpoint", "", "export a span per RPC over OTLP/gRPC to this `endpoint`: host:port (plaintext), http://host:port or https://host:port (TLS); default: off")
	fs.Float64Var(&c.Telemetry.TraceSampleRatio, "trace-sample-ratio", 1, "share of new traces sampled, 0 to 1; calls carrying a W3C traceparent follow the caller's decision")
	fs.UintVar(&streamWorkers, "stream-workers", uint(lim.StreamWorkers), "goroutines kept to run RPCs (reused, so each RPC does not grow a fresh stack); 0: a new goroutine per RPC")
	durations := []struct {
		name  string
		v     *time.Duration
		usage string
	}{
		{"shutdown-timeout", &c.ShutdownTimeout, "on SIGINT/SIGTERM, how long in-flight RPCs may drain before they are cancelled"},
		{"keepalive-min-time", &lim.KeepaliveMinTime, "shortest client keepalive ping interval tolerated (more frequent pings close the connection)"},
		{"keepalive-time", &lim.KeepaliveTime, "ping a client after the connection is idle this long"},
		{"keepalive-timeout", &lim.KeepaliveTimeout, "close the connection if a ping gets no answer within this"},
		{"max-connection-idle", &lim.MaxConnectionIdle, "close connections without RPCs for this long"},
		{"max-connection-age", &lim.MaxConnectionAge, "close connections older than this, so clients rebalance"},
		{"max-connection-age-grace", &lim.MaxConnectionAgeGrace, "after --max-connection-age, how long RPCs may finish before the connection is closed"},
	}
	c.ShutdownTimeout = 15 * time.Second
	c.Database.addFlags(flags)
	for _, d := range durations {
		fs.DurationVar(d.v, d.name, *d.v, d.usage)
		durationFor[d.name] = d.v
	}
	// Names before the flags were named alike: --max-connections and the
	// grpc-go fields these set (keepalive.ServerParameters) spell
	// "connection" out.
	flags.renamedFrom("max-connection-idle", "max-conn-idle")
	flags.renamedFrom("max-connection-age", "max-conn-age")
	flags.renamedFrom("max-connection-age-grace", "max-conn-age-grace")

	// Limits against hostile clients; see limits.Limits for the defaults.
	var headerList uint
	fs.UintVar(&headerList, "max-header-list-size", uint(lim.MaxHeaderListSize), "largest accepted request header list (HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE: names plus values plus 32 bytes a field), in `bytes`; a larger one is refused")
	fs.DurationVar(&lim.RequestTimeout, "request-timeout", lim.RequestTimeout, "a unary RPC ends with DEADLINE_EXCEEDED after this (a client deadline may only shorten it); a streaming RPC must send its first message within it")
	fs.DurationVar(&lim.HandshakeTimeout, "handshake-timeout", lim.HandshakeTimeout, "close a new connection that has not completed its TLS and HTTP/2 handshake within this")
	fs.DurationVar(&lim.FirstStreamTimeout, "first-stream-timeout", lim.FirstStreamTimeout, "close a connection that has opened no RPC within this of being accepted (so idle connections cannot fill --max-connections or the file descriptors)")
	durationFor["first-stream-timeout"] = &lim.FirstStreamTimeout
	fs.IntVar(&lim.WatchStreams, "max-watch-streams", lim.WatchStreams, "health Watch streams open at once, server-wide (each holds its request headers for as long as it is open); more are refused with RESOURCE_EXHAUSTED")
	fs.IntVar(&lim.PendingStreams, "max-pending-streams", lim.PendingStreams, "unary RPCs per connection whose headers have arrived but whose request message has not been read yet (each holds its headers until --request-timeout); once 1024 wait server-wide, more are refused with RESOURCE_EXHAUSTED. Raise it for a proxy that keeps more streams a connection waiting on their messages")
	fs.BoolVar(&c.Reflection, "reflection", false, "serve gRPC server reflection (for grpcurl and similar tools), to callers sending an accepted token as \"authorization: Bearer TOKEN\" metadata; default: off")
	fs.IntVar(&c.MaxConnections, "max-connections", 0, "accept at most this many concurrent connections, holding further ones in the listen backlog; 0: no cap")
	durationFor["request-timeout"] = &lim.RequestTimeout
	durationFor["handshake-timeout"] = &lim.HandshakeTimeout

	p, err := flags.parse(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(flags, stdout)
		return Config{}, ErrHelp
	}
	if err != nil {
		return Config{}, err
	}
	c.Deprecated = p.deprecated
	if p.given["auth-tokens-file"] && c.AuthTokensFile == "" {
		// An empty value would silently mean development mode.
		return Config{}, errors.New("--auth-tokens-file is empty; omit the flag for development mode")
	}
	if headerList < 1024 || headerList > 16<<20 {
		return Config{}, fmt.Errorf("--max-header-list-size must be between 1024 and %d, got %d", 16<<20, headerList)
	}
	lim.MaxHeaderListSize = uint32(headerList)
	if lim.WatchStreams < 1 {
		return Config{}, fmt.Errorf("--max-watch-streams must be positive, got %d", lim.WatchStreams)
	}
	if lim.PendingStreams < 1 {
		return Config{}, fmt.Errorf("--max-pending-streams must be positive, got %d", lim.PendingStreams)
	}
	if c.MaxConnections < 0 {
		return Config{}, fmt.Errorf("--max-connections must be 0 (no cap) or positive, got %d", c.MaxConnections)
	}

	if c.LogLevel, err = logging.ParseLevel(level); err != nil {
		return Config{}, fmt.Errorf("--log-level: %w", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return Config{}, fmt.Errorf("--log-format: unknown format %q (want text or json)", c.LogFormat)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return Config{}, fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	if lim.MaxRecvMsgSize <= 0 {
		return Config{}, fmt.Errorf("--max-recv-msg-size must be positive, got %d", lim.MaxRecvMsgSize)
	}
	if maxStreams == 0 || maxStreams > math.MaxUint32 {
		return Config{}, fmt.Errorf("--max-concurrent-streams must be between 1 and %d, got %d", uint32(math.MaxUint32), maxStreams)
	}
	lim.MaxConcurrentStreams = uint32(maxStreams)
	if streamWorkers > 4096 {
		return Config{}, fmt.Errorf("--stream-workers must be between 0 and 4096, got %d", streamWorkers)
	}
	lim.StreamWorkers = uint32(streamWorkers)
	for name, d := range durationFor {
		if *d <= 0 {
			return Config{}, fmt.Errorf("--%s must be positive, got %v", name, *d)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return Config{}, errors.New("--tls-cert and --tls-key must be given together")
	}
	if c.TLSClientCA != "" && c.TLSCert == "" {
		return Config{}, errors.New("--tls-client-ca (mTLS) needs --tls-cert and --tls-key")
	}
	if err := c.Database.check(c.UsersFile); err != nil {
		return Config{}, err
	}
	if err := checkTelemetry(c.Telemetry); err != nil {
		return Config{}, err
	}
	if err := c.HTTP.check(); err != nil {
		return Config{}, err
	}
	c.Limits = lim
	return c, nil
}

// checkTelemetry checks the telemetry flags' syntax; whether
// --metrics-listen is loopback is checked on the resolved address when the
// server starts (see MetricsAllowRemote).
func checkTelemetry(t telemetry.Config) error {
	if t.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(t.MetricsListen); err != nil {
			return fmt.Errorf("--metrics-listen %q: %w", t.MetricsListen, err)
		}
	}
	if math.IsNaN(t.TraceSampleRatio) || t.TraceSampleRatio < 0 || t.TraceSampleRatio > 1 {
		return fmt.Errorf("--trace-sample-ratio must be between 0 and 1, got %v", t.TraceSampleRatio)
	}
	return nil
}

func printUsage(flags *flagSet, w io.Writer) {
	fmt.Fprintf(w, `Usage: user-server [flags]
       user-server migrate|import [flags]   (PostgreSQL directory; see user-server migrate --help)

Serves user.v1.UserService over gRPC, with grpc.health.v1.Health and server
reflection. Every flag falls back to the environment variable shown; a flag
on the command line wins. Auth tokens come from --auth-tokens-file or %s.

Flags:
`, TokensEnv)
	flags.printDefaults(w)
}

// maxPEMSize caps each TLS file read: certificate chains and CA bundles
// are kilobytes.
const maxPEMSize = 1 << 20

// TLSConfig loads the certificates named by the config; nil means plaintext.
// Only regular files of at most 1 MiB are read, and reading stops when ctx
// is done.
func (c Config) TLSConfig(ctx context.Context) (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	certPEM, err := cfgfile.Read(ctx, c.TLSCert, maxPEMSize)
	if err != nil {
		return nil, fmt.Errorf("loading TLS key pair (--tls-cert): %w", err)
	}
	keyPEM, err := cfgfile.Read(ctx, c.TLSKey, maxPEMSize)
	if err != nil {
		return nil, fmt.Errorf("loading TLS key pair (--tls-key): %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading TLS key pair (--tls-cert %s, --tls-key %s): %w", c.TLSCert, c.TLSKey, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.TLSClientCA != "" {
		pem, err := cfgfile.Read(ctx, c.TLSClientCA, maxPEMSize)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-client-ca %s: no PEM certificates found", c.TLSClientCA)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
