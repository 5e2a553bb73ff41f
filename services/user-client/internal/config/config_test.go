package config_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/acme/user-service/services/user-client/internal/config"
)

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	got, err := config.Parse(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Addrs: []string{"127.0.0.1:50051"}, User: "john123", Token: "valid-token",
		Timeout: 5 * time.Second, Output: "text", Count: 1,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"USER_CLIENT_ADDR":           "10.0.0.1:1, 10.0.0.2:2",
		"USER_CLIENT_USER":           "jane",
		"USER_CLIENT_TOKEN":          "tok",
		"USER_CLIENT_TIMEOUT":        "2s",
		"USER_CLIENT_TLS":            "true",
		"USER_CLIENT_CA":             "ca.pem",
		"USER_CLIENT_CERT":           "c.pem",
		"USER_CLIENT_KEY":            "k.pem",
		"USER_CLIENT_SERVER_NAME":    "srv.test",
		"USER_CLIENT_OUTPUT":         "json",
		"USER_CLIENT_HEALTH_SERVICE": "user.v1.UserService",
		"USER_CLIENT_COUNT":          "3",
	}
	got, err := config.Parse(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Addrs: []string{"10.0.0.1:1", "10.0.0.2:2"}, User: "jane", Token: "tok", Timeout: 2 * time.Second,
		TLS: true, CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerName: "srv.test",
		Output: "json", HealthService: "user.v1.UserService", Count: 3,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("from environment:\n got %+v\nwant %+v", got, want)
	}

	// Flags win, including an explicitly empty one.
	got, err = config.Parse([]string{"--user", "john123", "--token=", "--count", "1"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got.User != "john123" || got.Token != "" || got.Count != 1 || got.Timeout != 2*time.Second {
		t.Errorf("flags over environment: %+v", got)
	}
}

func TestParseTLSImplied(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--ca", "ca.pem"}, {"--cert", "c", "--key", "k"}, {"--server-name", "x"},
	} {
		c, err := config.Parse(args, func(string) string { return "" })
		if err != nil || !c.TLS {
			t.Errorf("Parse(%q) = TLS %v, %v; want TLS on", args, c.TLS, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--addr", ""}, {"--addr", "a:1,"}, {"--addr", "a:1,b"}, {"--addr", "a:1,:2"},
		{"--timeout", "-1s"}, {"--output", "yaml"}, {"--count", "-2"}, {"--key", "k"}, {"extra"}, {"--nope"},
	} {
		_, err := config.Parse(args, func(string) string { return "" })
		if ue := (*config.UsageError)(nil); !errors.As(err, &ue) {
			t.Errorf("Parse(%q) = %v, want a usage error", args, err)
		}
	}
	if _, err := config.Parse([]string{"-h"}, func(string) string { return "" }); !errors.Is(err, config.ErrHelp) {
		t.Errorf("-h: %v, want ErrHelp", err)
	}
}

func TestTokenArgs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--token", "a", "-token=b", "---token", "c"}, []string{"a", "b", "c"}},
		// Past "--": it may be a flag's value ("--user -- --token s").
		{[]string{"--user", "--", "--token", "s"}, []string{"s"}},
		{[]string{"--user", "x", "--token"}, nil},
		{[]string{"token", "x", "--tokens", "y"}, nil},
	} {
		if got := config.TokenArgs(tt.args); !slices.Equal(got, tt.want) {
			t.Errorf("TokenArgs(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
