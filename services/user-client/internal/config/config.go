// Package config turns the command line and the environment into a checked
// client configuration. Flags win over environment variables, which win over
// the built-in defaults.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults of the reference run: a server started with no flags, the demo
// user and the demo token.
const (
	DefaultAddr    = "127.0.0.1:50051"
	DefaultUser    = "john123"
	DefaultToken   = "valid-token"
	DefaultTimeout = 5 * time.Second
)

// Output formats.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// Config is a validated client configuration.
type Config struct {
	// Addrs holds either one grpc-go target (any scheme, e.g. dns:///h:p)
	// or two or more host:port addresses to balance round-robin.
	Addrs   []string
	User    string
	Token   string
	Timeout time.Duration

	TLS        bool
	CAFile     string
	CertFile   string
	KeyFile    string
	ServerName string

	Output        string
	Health        bool
	HealthService string
	Count         int

	// OTLPEndpoint receives the client's spans over OTLP/gRPC; "" is off.
	OTLPEndpoint string
}

// ErrHelp is returned by Parse when --help was asked for; the caller prints
// Usage and exits successfully.
var ErrHelp = flag.ErrHelp

// UsageError reports a bad command line or environment.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// envFor maps each flag that has an environment fallback to its variable.
var envFor = map[string]string{
	"addr":           "USER_CLIENT_ADDR",
	"user":           "USER_CLIENT_USER",
	"token":          "USER_CLIENT_TOKEN",
	"timeout":        "USER_CLIENT_TIMEOUT",
	"tls":            "USER_CLIENT_TLS",
	"ca":             "USER_CLIENT_CA",
	"cert":           "USER_CLIENT_CERT",
	"key":            "USER_CLIENT_KEY",
	"server-name":    "USER_CLIENT_SERVER_NAME",
	"output":         "USER_CLIENT_OUTPUT",
	"health-service": "USER_CLIENT_HEALTH_SERVICE",
	"count":          "USER_CLIENT_COUNT",
	"otlp-endpoint":  "USER_CLIENT_OTLP_ENDPOINT",
}

// newFlagSet defines the client's flags, setting c and addr. Usage
// documents them from these same definitions.
func newFlagSet(c *Config, addr *string) *flag.FlagSet {
	fs := flag.NewFlagSet("user-client", flag.ContinueOnError)
	// Usage is printed by the caller; the flag package's own text would
	// show defaults, and the token must never be shown.
	fs.SetOutput(io.Discard)
	fs.StringVar(addr, "addr", DefaultAddr, "server address. Any grpc-go target (e.g. dns:///host:port), or a comma-separated list of host:port balanced round-robin")
	fs.StringVar(&c.User, "user", DefaultUser, "user id to look up")
	fs.StringVar(&c.Token, "token", DefaultToken, "auth token. Never printed; prefer the environment variable, which other users cannot see in the process list")
	fs.DurationVar(&c.Timeout, "timeout", DefaultTimeout, "deadline of each call")
	fs.BoolVar(&c.TLS, "tls", false, "use TLS, verified against the system roots unless --ca")
	fs.StringVar(&c.CAFile, "ca", "", "PEM CA bundle to verify the server")
	fs.StringVar(&c.CertFile, "cert", "", "PEM client certificate for mTLS")
	fs.StringVar(&c.KeyFile, "key", "", "PEM client key for mTLS")
	fs.StringVar(&c.ServerName, "server-name", "", "name to verify the server certificate against")
	fs.StringVar(&c.Output, "output", OutputText, "text or json (protojson, one line)")
	fs.BoolVar(&c.Health, "health", false, "call grpc.health.v1.Health/Check instead and print \"Status: <status>\"; exits 0 only when it is SERVING")
	fs.StringVar(&c.HealthService, "health-service", "", "service name for --health")
	fs.IntVar(&c.Count, "count", 1, "make N calls over one connection, printing each result (stops at the first error)")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", "", "trace each call: export its client span over OTLP/gRPC to EP, host:port (plaintext) or http(s)://host:port, and send its W3C trace context to the server; spans are flushed before exit, within --timeout, and those not exported are counted on stderr")
	return fs
}

// helpOrder lists the flags in the order --help shows them, with the
// placeholder of each flag's value (none for a switch) and, where the
// default is not the value itself, what --help says instead.
var helpOrder = []struct{ name, arg, shownDefault string }{
	{"addr", "TARGET", ""},
	{"user", "ID", ""},
	{"token", "TOKEN", "the demo token"}, // a token is never printed
	{"timeout", "DURATION", ""},
	{"tls", "", ""},
	{"ca", "FILE", ""},
	{"cert", "FILE", ""},
	{"key", "FILE", ""},
	{"server-name", "NAME", "the address's host"},
	{"output", "FORMAT", ""},
	{"health", "", ""},
	{"health-service", "S", `"", the whole server`},
	{"count", "N", ""},
	{"otlp-endpoint", "EP", "off"},
}

// Parse reads args (without the program name) and getenv into a Config.
// Errors other than ErrHelp are *UsageError.
func Parse(args []string, getenv func(string) string) (Config, error) {
	var (
		c    Config
		addr string
	)
	fs := newFlagSet(&c, &addr)

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, ErrHelp
		}
		return Config{}, &UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		return Config{}, usageErrorf("unexpected argument %q", fs.Arg(0))
	}

	// Environment fallbacks go through the flag's own parser, so an env
	// value is checked exactly like the same value given as a flag.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, env := range envFor {
		v := getenv(env)
		if set[name] || v == "" {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			if name == "token" {
				// Never echo a secret, even a malformed one.
				return Config{}, usageErrorf("invalid %s", env)
			}
			return Config{}, usageErrorf("invalid %s=%q: %v", env, v, err)
		}
	}

	addrs, err := splitAddrs(addr)
	if err != nil {
		return Config{}, err
	}
	c.Addrs = addrs
	// Protobuf strings are UTF-8: the call could not even be encoded.
	if !utf8.ValidString(c.User) {
		return Config{}, usageErrorf("--user %q is not valid UTF-8", c.User)
	}
	if !utf8.ValidString(c.Token) {
		return Config{}, usageErrorf("--token is not valid UTF-8")
	}
	if c.Timeout <= 0 {
		return Config{}, usageErrorf("--timeout must be positive, got %s", c.Timeout)
	}
	if c.Output != OutputText && c.Output != OutputJSON {
		return Config{}, usageErrorf("--output must be %q or %q, got %q", OutputText, OutputJSON, c.Output)
	}
	if c.Count < 1 {
		return Config{}, usageErrorf("--count must be at least 1, got %d", c.Count)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return Config{}, usageErrorf("--cert and --key must be given together")
	}
	// Any TLS setting means the user wants TLS; silently dialling in
	// plaintext instead would be a surprise.
	if c.CAFile != "" || c.CertFile != "" || c.ServerName != "" {
		c.TLS = true
	}
	return c, nil
}

// splitAddrs accepts one grpc-go target, or a comma-separated list of
// host:port addresses.
func splitAddrs(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, usageErrorf("--addr must not be empty")
	}
	if !strings.Contains(s, ",") {
		if unbracketedIPv6(s) {
			return nil, usageErrorf("--addr %q: put an IPv6 address in brackets, e.g. [::1]:50051", s)
		}
		return []string{s}, nil
	}
	var addrs []string
	for a := range strings.SplitSeq(s, ",") {
		a = strings.TrimSpace(a)
		if unbracketedIPv6(a) {
			return nil, usageErrorf("--addr list entry %q: put an IPv6 address in brackets, e.g. [::1]:50051", a)
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" || port == "" {
			return nil, usageErrorf("--addr list entry %q: want host:port (targets with a scheme work only on their own)", a)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// unbracketedIPv6 reports an address like ::1:50051 or fe80::1, which
// grpc-go would take as a host name without a port: a target without a
// scheme never holds two colons outside brackets otherwise.
func unbracketedIPv6(s string) bool {
	return !strings.Contains(s, "://") && !strings.HasPrefix(s, "[") && strings.Count(s, ":") >= 2
}

// TokenArgs returns every value that may be a --token's in args, found
// without parsing them, so that a usage error can be redacted even when
// parsing failed before the token was read (for example "--user --token
// SECRET", where the flag package sees SECRET as a stray argument, or
// "--user -- --token SECRET", where "--" is --user's value). It looks past
// "--": nothing after it is a valid argument anyway, so redacting there
// costs nothing.
func TokenArgs(args []string) []string {
	var out []string
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "token" {
			continue
		}
		if hasValue {
			out = append(out, value)
		} else if i+1 < len(args) {
			out = append(out, args[i+1])
		}
	}
	return out
}

// Usage writes the help text: the flags come from their definitions.
func Usage(w io.Writer) {
	fmt.Fprint(w, `Usage: user-client [flags]

Calls user.v1.UserService/GetUserDetails (or grpc.health.v1.Health/Check with
--health) and prints the result. Every flag can also be set through the
environment variable shown; a flag given on the command line wins.

Flags:
`)
	fs := newFlagSet(&Config{}, new(string))
	for _, h := range helpOrder {
		f := fs.Lookup(h.name)
		var notes []string
		if env := envFor[h.name]; env != "" {
			notes = append(notes, env)
		}
		def := h.shownDefault
		if def == "" && f.DefValue != "" && f.DefValue != "false" {
			def = f.DefValue
		}
		if def != "" {
			notes = append(notes, "default "+def)
		}
		text := f.Usage
		if len(notes) > 0 {
			text += " (" + strings.Join(notes, ", ") + ")"
		}
		writeFlag(w, strings.TrimSpace("--"+h.name+" "+h.arg), text)
	}
	writeFlag(w, "--help", "show this help")
	fmt.Fprint(w, `
--ca, --cert, --key and --server-name imply --tls.

Errors are printed on stderr as one line "error: <code>: <message>", followed
by one line per field violation the server reported.

Exit codes:
  0  success
  1  any other error (including --health not SERVING)
  2  usage error (bad flag, argument or environment variable)
  3  Unauthenticated
  4  NotFound
  5  InvalidArgument
  6  Unavailable or DeadlineExceeded (server down, unreachable or too slow)
`)
}

// Usage's layout: the flag in a column of its own, its text wrapped.
const (
	usageIndent = 23 // where the text starts
	usageWidth  = 79 // the longest line
)

// writeFlag writes one flag's entry, its text word-wrapped beside it.
func writeFlag(w io.Writer, flag, text string) {
	line := "  " + flag
	if len(line) >= usageIndent-1 {
		fmt.Fprintln(w, line)
		line = ""
	}
	line += strings.Repeat(" ", usageIndent-len(line))
	start := true
	for _, word := range strings.Fields(text) {
		if !start && len(line)+1+len(word) > usageWidth {
			fmt.Fprintln(w, line)
			line = strings.Repeat(" ", usageIndent) + word
			continue
		}
		if !start {
			line += " "
		}
		line += word
		start = false
	}
	fmt.Fprintln(w, line)
}
