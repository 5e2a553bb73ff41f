package httpapi

import (
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/directory/file"
	"github.com/acme/user-service/services/user-server/internal/server"
)

// newServer is a development-mode server (the demo token) that logs
// nowhere.
func newServer(tb testing.TB) (*server.Server, *slog.Logger) {
	tb.Helper()
	authn, err := auth.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(server.Config{Users: file.Embedded(), Auth: authn, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	return srv, log
}

// TestDirectHandlers: every unary method is served by a direct handler
// (connect-go into server.Unary); streaming ones are left to vanguard and
// grpc-go, which is where unknown paths go too.
func TestDirectHandlers(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	d, err := directHandlers(srv, 1024, 2112)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(maps.Keys(d))
	want := []string{"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/List", "/user.v1.UserService/GetUserDetails"}
	if !slices.Equal(got, want) {
		t.Errorf("direct handlers %q, want %q", got, want)
	}
	for _, m := range srv.Methods() {
		_, unary := srv.Unary(m)
		if _, direct := d[m]; direct != unary {
			t.Errorf("%s: direct %v, unary %v", m, direct, unary)
		}
	}
}

func TestProtocol(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method, path, contentType, want string
	}{
		{"POST", "/user.v1.UserService/GetUserDetails", "application/json", "connect"},
		{"POST", "/user.v1.UserService/GetUserDetails", "application/proto", "connect"},
		{"GET", "/user.v1.UserService/GetUserDetails?connect=v1&encoding=json&message=%7B%7D", "", "connect"},
		{"POST", "/user.v1.UserService/GetUserDetails", "application/grpc-web+proto", "grpc-web"},
		{"POST", "/user.v1.UserService/GetUserDetails", "application/grpc-web-text", "grpc-web"},
		{"POST", "/user.v1.UserService/GetUserDetails", "application/grpc", "grpc"},
		{"GET", "/v1/users/john123", "", "rest"},
		{"GET", "/", "", "rest"},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		if got := protocol(r); got != tc.want {
			t.Errorf("%s %s (%s): %q, want %q", tc.method, tc.path, tc.contentType, got, tc.want)
		}
	}
}
