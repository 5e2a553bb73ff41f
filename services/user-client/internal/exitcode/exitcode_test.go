package exitcode_test

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/acme/user-service/services/user-client/internal/config"
	"github.com/acme/user-service/services/user-client/internal/exitcode"
)

func TestFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitcode.OK},
		{"usage", &config.UsageError{Err: errors.New("bad flag")}, exitcode.Usage},
		{"wrapped usage", fmt.Errorf("parse: %w", &config.UsageError{Err: errors.New("x")}), exitcode.Usage},
		{"unauthenticated", status.Error(codes.Unauthenticated, "no"), exitcode.Unauthenticated},
		{"not found", status.Error(codes.NotFound, "no"), exitcode.NotFound},
		{"invalid argument", status.Error(codes.InvalidArgument, "no"), exitcode.InvalidArgument},
		{"unavailable", status.Error(codes.Unavailable, "no"), exitcode.Unavailable},
		{"deadline", status.Error(codes.DeadlineExceeded, "no"), exitcode.Unavailable},
		{"wrapped status", fmt.Errorf("call: %w", status.Error(codes.NotFound, "no")), exitcode.NotFound},
		{"permission denied", status.Error(codes.PermissionDenied, "no"), exitcode.Other},
		{"internal", status.Error(codes.Internal, "no"), exitcode.Other},
		{"plain error", errors.New("open ca.pem: no such file"), exitcode.Other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := exitcode.For(tt.err); got != tt.want {
				t.Errorf("For(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestCodesAreDistinct(t *testing.T) {
	t.Parallel()
	seen := map[int]string{}
	for name, c := range map[string]int{
		"OK": exitcode.OK, "Other": exitcode.Other, "Usage": exitcode.Usage,
		"Unauthenticated": exitcode.Unauthenticated, "NotFound": exitcode.NotFound,
		"InvalidArgument": exitcode.InvalidArgument, "Unavailable": exitcode.Unavailable,
	} {
		if prev, ok := seen[c]; ok {
			t.Errorf("%s and %s share exit code %d", prev, name, c)
		}
		seen[c] = name
	}
}
