package config

import (
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:50051" || c.LogLevel != slog.LevelInfo || c.LogFormat != "text" || c.LogFile != "" ||
		c.ShutdownTimeout != 15*time.Second || c.Limits.MaxRecvMsgSize != 64<<10 || c.Limits.MaxConcurrentStreams != 256 ||
		c.Limits.StreamWorkers != 64 || c.LogRejectedRPCs || c.Database.StatementTimeout != 2*time.Second {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestParseEnvFallbackAndPrecedence(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"USER_SERVER_LISTEN":                 "127.0.0.1:7000",
		"USER_SERVER_LOG_LEVEL":              "warn",
		"USER_SERVER_LOG_FORMAT":             "json",
		"USER_SERVER_SHUTDOWN_TIMEOUT":       "3s",
		"USER_SERVER_MAX_RECV_MSG_SIZE":      "2048",
		"USER_SERVER_MAX_CONCURRENT_STREAMS": "8",
		"USER_SERVER_MAX_CONNECTION_AGE":     "1m",
		"USER_SERVER_STREAM_WORKERS":         "0",
		"USER_SERVER_LOG_REJECTED_RPCS":      "true",
		"USER_SERVER_MAX_PENDING_STREAMS":    "5",
	}
	c, err := Parse([]string{"--listen", "127.0.0.1:8000", "--log-level", "debug"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8000" || c.LogLevel != slog.LevelDebug {
		t.Errorf("flags did not win over env: %+v", c)
	}
	if c.LogFormat != "json" || c.ShutdownTimeout != 3*time.Second || c.Limits.MaxRecvMsgSize != 2048 ||
		c.Limits.MaxConcurrentStreams != 8 || c.Limits.MaxConnectionAge != time.Minute ||
		c.Limits.StreamWorkers != 0 || !c.LogRejectedRPCs || c.Limits.PendingStreams != 5 {
		t.Errorf("env fallbacks not applied: %+v", c)
	}
}

func TestParseLimitFlags(t *testing.T) {
	t.Parallel()
	// Each flag sets its own limit, and only that one.
	tests := []struct {
		flag  string
		value string
		got   func(Config) any
		want  any
	}{
		{"--max-recv-msg-size", "1234", func(c Config) any { return c.Limits.MaxRecvMsgSize }, 1234},
		{"--max-concurrent-streams", "7", func(c Config) any { return c.Limits.MaxConcurrentStreams }, uint32(7)},
		{"--stream-workers", "3", func(c Config) any { return c.Limits.StreamWorkers }, uint32(3)},
		{"--shutdown-timeout", "41s", func(c Config) any { return c.ShutdownTimeout }, 41 * time.Second},
		{"--keepalive-min-time", "42s", func(c Config) any { return c.Limits.KeepaliveMinTime }, 42 * time.Second},
		{"--keepalive-time", "43s", func(c Config) any { return c.Limits.KeepaliveTime }, 43 * time.Second},
		{"--keepalive-timeout", "44s", func(c Config) any { return c.Limits.KeepaliveTimeout }, 44 * time.Second},
		{"--max-connection-idle", "45s", func(c Config) any { return c.Limits.MaxConnectionIdle }, 45 * time.Second},
		{"--max-connection-age", "46s", func(c Config) any { return c.Limits.MaxConnectionAge }, 46 * time.Second},
		{"--max-connection-age-grace", "47s", func(c Config) any { return c.Limits.MaxConnectionAgeGrace }, 47 * time.Second},
		{"--max-pending-streams", "48", func(c Config) any { return c.Limits.PendingStreams }, 48},
	}
	defaults, err := Parse(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]string{tt.flag, tt.value}, func(string) string { return "" }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(c); got != tt.want {
				t.Errorf("%s %s: got %v, want %v", tt.flag, tt.value, got, tt.want)
			}
			// Everything else keeps its default.
			for _, other := range tests {
				if other.flag != tt.flag && other.got(c) != other.got(defaults) {
					t.Errorf("%s also changed %s: %v", tt.flag, other.flag, other.got(c))
				}
			}
		})
	}
}

func TestParseLimitBounds(t *testing.T) {
	t.Parallel()
	// The largest accepted values are accepted; one more is not.
	for _, tt := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--max-concurrent-streams", "4294967295"}, true},
		{[]string{"--max-concurrent-streams", "4294967296"}, false},
		{[]string{"--max-concurrent-streams", "1"}, true},
		{[]string{"--max-concurrent-streams", "0"}, false},
		{[]string{"--stream-workers", "4096"}, true},
		{[]string{"--stream-workers", "4097"}, false},
		{[]string{"--max-recv-msg-size", "1"}, true},
		{[]string{"--max-recv-msg-size", "0"}, false},
		{[]string{"--keepalive-time", "1ns"}, true},
		{[]string{"--keepalive-time", "0s"}, false},
		{[]string{"--max-header-list-size", "1024"}, true},
		{[]string{"--max-header-list-size", "1023"}, false},
		{[]string{"--max-header-list-size", "16777216"}, true},
		{[]string{"--max-header-list-size", "16777217"}, false},
		{[]string{"--max-pending-streams", "1"}, true},
		{[]string{"--max-pending-streams", "0"}, false},
		{[]string{"--trace-sample-ratio", "1"}, true},
		{[]string{"--trace-sample-ratio", "1.001"}, false},
		{[]string{"--trace-sample-ratio", "0"}, true},
		{[]string{"--trace-sample-ratio", "-0.001"}, false},
		// Paths only: the files are read when the server starts.
		{[]string{"--auth-tokens-file", "tokens.txt"}, true},
		{[]string{"--auth-tokens-file", ""}, false},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-client-ca", "ca.pem"}, true},
		{[]string{"--tls-client-ca", "ca.pem"}, false},
	} {
		c, err := Parse(tt.args, func(string) string { return "" }, io.Discard)
		if (err == nil) != tt.ok {
			t.Errorf("Parse(%v) error = %v, want ok = %v", tt.args, err, tt.ok)
		}
		if err == nil && tt.args[0] == "--max-concurrent-streams" && tt.args[1] == "4294967295" && c.Limits.MaxConcurrentStreams != 4294967295 {
			t.Errorf("--max-concurrent-streams 4294967295 parsed as %d", c.Limits.MaxConcurrentStreams)
		}
	}
}

// TestRenamedFlags: each flag renamed to the consistent scheme still works
// under its old name, as a flag and as an environment variable, sets the
// same value as the new name, and is reported as deprecated; giving both
// names is an error rather than a silent choice.
func TestRenamedFlags(t *testing.T) {
	t.Parallel()
	none := func(string) string { return "" }
	tests := []struct {
		old, name, value string
		got              func(Config) any
		want             any
	}{
		{"max-conn-idle", "max-connection-idle", "45s", func(c Config) any { return c.Limits.MaxConnectionIdle }, 45 * time.Second},
		{"max-conn-age", "max-connection-age", "46s", func(c Config) any { return c.Limits.MaxConnectionAge }, 46 * time.Second},
		{"max-conn-age-grace", "max-connection-age-grace", "47s", func(c Config) any { return c.Limits.MaxConnectionAgeGrace }, 47 * time.Second},
		{"cache-size", "database-cache-size", "42", func(c Config) any { return c.Database.CacheSize }, 42},
		{"db-pool-size", "database-pool-size", "3", func(c Config) any { return c.Database.PoolSize }, 3},
		{"db-statement-timeout", "database-statement-timeout", "5s", func(c Config) any { return c.Database.StatementTimeout }, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.old, func(t *testing.T) {
			t.Parallel()
			envOf := func(kv ...string) func(string) string {
				return func(k string) string {
					for i := 0; i < len(kv); i += 2 {
						if kv[i] == k {
							return kv[i+1]
						}
					}
					return ""
				}
			}
			for _, c := range []struct {
				how        string
				args       []string
				getenv     func(string) string
				deprecated string // "" when nothing deprecated is used
			}{
				{"new flag", []string{"--" + tt.name, tt.value}, none, ""},
				{"new variable", nil, envOf(EnvName(tt.name), tt.value), ""},
				{"old flag", []string{"--" + tt.old, tt.value}, none, "--" + tt.old + " is deprecated: use --" + tt.name},
				{"old variable", nil, envOf(EnvName(tt.old), tt.value), EnvName(tt.old) + " is deprecated: use " + EnvName(tt.name)},
				// A flag wins over a variable, whatever their names.
				{"old flag over new variable", []string{"--" + tt.old, tt.value}, envOf(EnvName(tt.name), "nonsense"), "--" + tt.old + " is deprecated: use --" + tt.name},
				{"new flag over old variable", []string{"--" + tt.name, tt.value}, envOf(EnvName(tt.old), "nonsense"), ""},
			} {
				cfg, err := Parse(c.args, c.getenv, io.Discard)
				if err != nil {
					t.Fatalf("%s: %v", c.how, err)
				}
				if got := tt.got(cfg); got != tt.want {
					t.Errorf("%s: got %v, want %v", c.how, got, tt.want)
				}
				var want []string
				if c.deprecated != "" {
					want = []string{c.deprecated}
				}
				if !slices.Equal(cfg.Deprecated, want) {
					t.Errorf("%s: deprecated = %q, want %q", c.how, cfg.Deprecated, want)
				}
			}
			if _, err := Parse([]string{"--" + tt.old, tt.value, "--" + tt.name, tt.value}, none, io.Discard); err == nil ||
				!strings.Contains(err.Error(), "--"+tt.old+" and --"+tt.name+" are the same flag") {
				t.Errorf("both flags: %v, want an error naming both", err)
			}
			if _, err := Parse(nil, envOf(EnvName(tt.old), tt.value, EnvName(tt.name), tt.value), io.Discard); err == nil ||
				!strings.Contains(err.Error(), EnvName(tt.old)+" and "+EnvName(tt.name)+" are the same setting") {
				t.Errorf("both variables: %v, want an error naming both", err)
			}
		})
	}
}

// TestUsageHidesOldNames: --help lists each flag once, under its new name,
// and the old names after the flags.
func TestUsageHidesOldNames(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if _, err := Parse([]string{"--cache-size", "7", "--help"}, func(string) string { return "" }, &out); err != ErrHelp {
		t.Fatalf("--help: %v", err)
	}
	flags, deprecated, ok := strings.Cut(out.String(), "Deprecated names")
	if !ok {
		t.Fatalf("--help lists no deprecated names:\n%s", out.String())
	}
	for _, old := range []string{"  -max-conn-idle ", "  -max-conn-age ", "  -cache-size ", "  -db-pool-size "} {
		if strings.Contains(flags, old) {
			t.Errorf("--help lists %q among the flags", old)
		}
		if !strings.Contains(deprecated, old) {
			t.Errorf("--help does not list %q as deprecated", old)
		}
	}
	// The default shown is the default, not what the command line set.
	if !strings.Contains(flags, "(env USER_SERVER_DATABASE_CACHE_SIZE) (default 100000)") {
		t.Errorf("--help does not show --database-cache-size's default:\n%s", flags)
	}
}

// TestCommandHelpHidesEnvValue: a subcommand's --help shows the variable's
// name, never its value (a database URL may hold a password), and the
// variable still applies when the command runs.
func TestCommandHelpHidesEnvValue(t *testing.T) {
	t.Parallel()
	env := func(k string) string {
		if k == DatabaseURLEnv {
			return "postgres://u:s3cret@h/db"
		}
		return ""
	}
	var out strings.Builder
	if _, err := ParseCommand([]string{"migrate", "--help"}, env, &out); err != ErrHelp {
		t.Fatalf("migrate --help: %v", err)
	}
	if strings.Contains(out.String(), "s3cret") || !strings.Contains(out.String(), DatabaseURLEnv) {
		t.Errorf("migrate --help:\n%s", out.String())
	}
	c, err := ParseCommand([]string{"import", "--users", "u.json"}, env, io.Discard)
	if err != nil || c.DatabaseURL != "postgres://u:s3cret@h/db" || c.UsersFile != "u.json" {
		t.Errorf("import = %+v, %v", c, err)
	}
}
