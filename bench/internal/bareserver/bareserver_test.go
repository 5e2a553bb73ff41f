package bareserver

import (
	"context"
	"net"
	"testing"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

func TestGetUserDetails(t *testing.T) {
	t.Parallel()
	lis := bufconn.Listen(1 << 20)
	svc := New("tok")
	s := grpc.NewServer()
	userv1.RegisterUserServiceServer(s, svc)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := userv1.NewUserServiceClient(conn)

	tests := []struct {
		name, user, token string
		want              codes.Code
	}{
		{"ok", "john123", "tok", codes.OK},
		{"wrong token", "john123", "tok2", codes.Unauthenticated},
		{"empty token", "john123", "", codes.Unauthenticated},
		{"unknown user", "nobody", "tok", codes.NotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.GetUserDetails(t.Context(), &userv1.GetUserDetailsRequest{UserId: tc.user, AuthToken: tc.token})
			if got := status.Code(err); got != tc.want {
				t.Fatalf("code = %v, want %v (err %v)", got, tc.want, err)
			}
			if tc.want == codes.OK && (resp.GetName() != "John Doe" || resp.GetEmail() != "john123@example.com" || resp.GetStatus() != "Success") {
				t.Fatalf("response = %v", resp)
			}
		})
	}
	if got := svc.Errors(); got != 3 {
		t.Fatalf("Errors() = %d, want 3", got)
	}
}
