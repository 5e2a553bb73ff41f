package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/directory/file"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// call runs req through the unary chain and the handler in process, as
// grpc-go does after decoding. Unlike a real client it can pass strings that
// cannot go over the wire (invalid UTF-8; see TestInvalidUTF8OnTheWire).
func (s *Server) call(ctx context.Context, req *userv1.GetUserDetailsRequest) (any, error) {
	info := &grpc.UnaryServerInfo{Server: s.svc, FullMethod: userv1.UserService_GetUserDetails_FullMethodName}
	return s.intercept(ctx, req, info, func(ctx context.Context, req any) (any, error) {
		return s.svc.GetUserDetails(ctx, req.(*userv1.GetUserDetailsRequest))
	})
}

// FuzzGetUserDetails: whatever the user_id and auth_token, the request path
// never panics (recovery would turn a panic into Internal, which fails here)
// and answers only with a documented code.
func FuzzGetUserDetails(f *testing.F) {
	f.Add("john123", auth.DevToken)
	f.Add("", "")
	f.Add("john123", "")
	f.Add("", auth.DevToken)
	f.Add("jane456", auth.DevToken)
	f.Add("john123", "valid-tokem")
	f.Add("jo\xffhn", auth.DevToken)
	f.Add("john123", "valid-token\xff")
	f.Add("\xed\xa0\x80", "\xc0\xaf")
	f.Add("jöhn", "välid")
	f.Add("john\x00123", "valid-token\x00")
	f.Add(strings.Repeat("a", 64), strings.Repeat("t", 512))
	f.Add(strings.Repeat("a", 65), strings.Repeat("t", 513))
	f.Add(strings.Repeat("\xff", 1<<20), strings.Repeat("\xfe", 1<<20))
	f.Add(strings.Repeat("a", 1<<20), strings.Repeat("é", 1<<19))

	authn, err := auth.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(Config{
		Users:  file.Embedded(),
		Auth:   authn,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242}})

	f.Fuzz(func(t *testing.T, userID, token string) {
		resp, err := srv.call(ctx, &userv1.GetUserDetailsRequest{UserId: userID, AuthToken: token})
		st := status.Convert(err)
		switch st.Code() {
		case codes.OK:
			r, _ := resp.(*userv1.GetUserDetailsResponse)
			if userID != "john123" || token != auth.DevToken || r.GetStatus() != "Success" {
				t.Fatalf("OK for user_id %q: %v", userID, resp)
			}
		case codes.InvalidArgument:
			if len(st.Details()) != 1 {
				t.Fatalf("InvalidArgument without violations: %v", st)
			}
		case codes.Unauthenticated, codes.NotFound:
			if token == auth.DevToken && userID == "john123" {
				t.Fatalf("valid request refused: %v", st)
			}
		default:
			t.Fatalf("undocumented code %v: %v", st.Code(), st.Message())
		}
	})
}
