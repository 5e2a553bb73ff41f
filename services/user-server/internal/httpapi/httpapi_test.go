package httpapi

import (
	"net/http/httptest"
	"testing"
)

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
