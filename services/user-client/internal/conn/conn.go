// Package conn opens the client's gRPC channel: target resolution (one
// grpc-go target, or a static list balanced round-robin), transport
// security, the default service config (retries, load balancing) and
// keepalive.
package conn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
)

// ServiceConfig is the channel's default service config (a resolver may
// not replace it: neither the static list nor DNS, whose TXT lookups
// grpc-go leaves off, supplies one).
//
//   - round_robin spreads calls over every address the target resolves to
//     (all entries of an --addr list, or every A/AAAA record).
//   - UNAVAILABLE is retried: the service is read-only and idempotent (see
//     user.proto), and it is the code for a replica going away or not yet
//     listening. Attempts are bounded, and every call also has a deadline.
const ServiceConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "methodConfig": [{
    "name": [{"service": "user.v1.UserService"}, {"service": "grpc.health.v1.Health"}],
    "retryPolicy": {
      "maxAttempts": 4,
      "initialBackoff": "0.1s",
      "maxBackoff": "1s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
}`

// Keepalive pings only while a call is in flight and has been quiet for 30s:
// enough to notice a dead connection on a long call, and well above the
// interval servers enforce (user-server tolerates one ping per 10s; a
// server closes connections that ping more often, or ping without calls
// when it does not permit that).
var Keepalive = keepalive.ClientParameters{
	Time:                30 * time.Second,
	Timeout:             10 * time.Second,
	PermitWithoutStream: false,
}

// staticScheme names the per-channel resolver of an --addr list.
const staticScheme = "user-client-static"

// New creates a client for addrs: one grpc-go target, or several host:port
// addresses. It does not connect; the first call does.
func New(addrs []string, creds credentials.TransportCredentials, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if len(addrs) == 0 {
		return nil, errors.New("no address")
	}
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultServiceConfig(ServiceConfig),
		grpc.WithKeepaliveParams(Keepalive),
		grpc.WithUserAgent("user-client"),
	}, opts...)

	target := addrs[0]
	if len(addrs) > 1 {
		// A static list is what grpc-go's manual resolver is for: it hands
		// the channel one endpoint per address, and round_robin (from the
		// service config) keeps a subchannel to each. WithResolvers keeps
		// the resolver private to this channel, no global registration.
		r := manual.NewBuilderWithScheme(staticScheme)
		eps := make([]resolver.Endpoint, len(addrs))
		for i, a := range addrs {
			// ServerName makes each address its own authority: TLS checks
			// each replica's certificate against its own host name, as it
			// would if the address were dialled alone.
			eps[i] = resolver.Endpoint{Addresses: []resolver.Address{{Addr: a, ServerName: a}}}
		}
		r.InitialState(resolver.State{Endpoints: eps})
		opts = append(opts, grpc.WithResolvers(r))
		target = staticScheme + ":///" + strings.Join(addrs, ",")
	}
	cc, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("create client for %q: %w", target, err)
	}
	return cc, nil
}

// TLSOptions are the client's TLS settings; file names are PEM files.
type TLSOptions struct {
	CAFile     string // verify the server against this bundle instead of the system roots
	CertFile   string // client certificate, for mTLS
	KeyFile    string
	ServerName string // verify the server certificate against this name instead of the address's host
}

// TLSCredentials loads the files named in o.
func TLSCredentials(o TLSOptions) (credentials.TransportCredentials, error) {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: o.ServerName,
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate found", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if o.CertFile != "" || o.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(cfg), nil
}

// Hint guesses, from grpc-go's error text, what is probably wrong when a
// connection failed for a reason the user can fix, and says what to try;
// "" when there is no guess. tlsOn and clientCert describe the client's
// settings.
func Hint(err error, tlsOn, clientCert bool) string {
	st, ok := status.FromError(err)
	if !ok || (st.Code() != codes.Unavailable && st.Code() != codes.DeadlineExceeded) {
		return ""
	}
	msg := st.Message()
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(msg, s) {
				return true
			}
		}
		return false
	}
	if !tlsOn && has("error reading server preface", "frame too large", "connection reset by peer") {
		// A TLS server closes (or answers with an alert) on a plaintext
		// HTTP/2 preface.
		return "the server may require TLS: try --tls (with --ca FILE if its certificate is not from a system root)"
	}
	if tlsOn && has("first record does not look like a TLS handshake") {
		return "the server does not seem to use TLS: try without --tls, --ca, --cert, --key and --server-name"
	}
	if tlsOn && !clientCert && has("certificate required", "bad certificate", "broken pipe", "connection reset by peer", "error reading server preface") {
		// With TLS 1.3 the server checks the client certificate after the
		// client considers the handshake done, so the refusal surfaces as
		// a broken connection.
		return "the server may require a client certificate (mTLS): pass --cert and --key"
	}
	if tlsOn && clientCert && has("bad certificate", "unknown certificate authority", "broken pipe", "connection reset by peer") {
		return "the server may not accept this client certificate (--cert): is it signed by the CA the server trusts?"
	}
	return ""
}
