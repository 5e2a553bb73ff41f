package config

import (
	"io"
	"log/slog"
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
		"USER_SERVER_MAX_CONN_AGE":           "1m",
		"USER_SERVER_STREAM_WORKERS":         "0",
		"USER_SERVER_LOG_REJECTED_RPCS":      "true",
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
		c.Limits.StreamWorkers != 0 || !c.LogRejectedRPCs {
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
		{"--max-conn-idle", "45s", func(c Config) any { return c.Limits.MaxConnectionIdle }, 45 * time.Second},
		{"--max-conn-age", "46s", func(c Config) any { return c.Limits.MaxConnectionAge }, 46 * time.Second},
		{"--max-conn-age-grace", "47s", func(c Config) any { return c.Limits.MaxConnectionAgeGrace }, 47 * time.Second},
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
