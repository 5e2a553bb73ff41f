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
		// The numbers documented in --help and the README: scripts rely
		// on them, so they are written out, not taken from the constants.
		want int
	}{
		{"nil", nil, 0},
		{"usage", &config.UsageError{Err: errors.New("bad flag")}, 2},
		{"wrapped usage", fmt.Errorf("parse: %w", &config.UsageError{Err: errors.New("x")}), 2},
		{"unauthenticated", status.Error(codes.Unauthenticated, "no"), 3},
		{"not found", status.Error(codes.NotFound, "no"), 4},
		{"invalid argument", status.Error(codes.InvalidArgument, "no"), 5},
		{"unavailable", status.Error(codes.Unavailable, "no"), 6},
		{"deadline", status.Error(codes.DeadlineExceeded, "no"), 6},
		{"wrapped status", fmt.Errorf("call: %w", status.Error(codes.NotFound, "no")), 4},
		{"permission denied", status.Error(codes.PermissionDenied, "no"), 1},
		{"internal", status.Error(codes.Internal, "no"), 1},
		{"plain error", errors.New("open ca.pem: no such file"), 1},
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
