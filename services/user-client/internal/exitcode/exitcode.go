// Package exitcode maps the outcome of a run to the process exit code
// documented in --help and the README.
package exitcode

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/acme/user-service/services/user-client/internal/config"
)

// Exit codes. Scripts rely on them: never renumber.
const (
	OK              = 0
	Other           = 1
	Usage           = 2
	Unauthenticated = 3
	NotFound        = 4
	InvalidArgument = 5
	Unavailable     = 6 // also DeadlineExceeded: the server could not answer in time
)

// For returns the exit code for err (nil means success).
func For(err error) int {
	if err == nil {
		return OK
	}
	if ue := (*config.UsageError)(nil); errors.As(err, &ue) {
		return Usage
	}
	// status.Code unwraps; an error without a gRPC status is Unknown, that
	// is "other".
	switch status.Code(err) {
	case codes.Unauthenticated:
		return Unauthenticated
	case codes.NotFound:
		return NotFound
	case codes.InvalidArgument:
		return InvalidArgument
	case codes.Unavailable, codes.DeadlineExceeded:
		return Unavailable
	default:
		return Other
	}
}
