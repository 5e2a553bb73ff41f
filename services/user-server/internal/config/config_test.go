package config

import (
	"io"
	"log/slog"
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
		c.Limits.StreamWorkers != 64 {
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
		c.Limits.StreamWorkers != 0 {
		t.Errorf("env fallbacks not applied: %+v", c)
	}
}
