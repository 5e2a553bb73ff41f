package conn_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/acme/user-service/services/user-client/internal/conn"
)

// TestHintCodes: only a connection that failed (UNAVAILABLE, or
// DEADLINE_EXCEEDED while connecting) gets a guess; the same words in any
// other status, or in an error without one, are the server's or the
// caller's and get none.
func TestHintCodes(t *testing.T) {
	t.Parallel()
	const preface = "connection error: desc = \"error reading server preface: EOF\""
	const notTLS = "connection error: desc = \"transport: authentication handshake failed: tls: first record does not look like a TLS handshake\""
	tests := []struct {
		name  string
		err   error
		tlsOn bool
		want  string // the start of the hint; "" for none
	}{
		{"unavailable", status.Error(codes.Unavailable, preface), false, "the server may require TLS"},
		{"deadline while connecting", status.Error(codes.DeadlineExceeded, notTLS), true, "the server does not seem to use TLS"},
		{"internal", status.Error(codes.Internal, preface), false, ""},
		{"unknown", status.Error(codes.Unknown, notTLS), true, ""},
		{"no status", errors.New(preface), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := conn.Hint(tt.err, tt.tlsOn, false)
			if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
				t.Errorf("Hint(%v, tls=%v) = %q, want %q...", tt.err, tt.tlsOn, got, tt.want)
			}
		})
	}
}
