package httpapi

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/limits"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// BenchmarkProtocols measures one serial lookup, client included, over
// loopback TCP: native gRPC on the gRPC server, and Connect binary, Connect
// JSON and the REST route through this package (vanguard into ServeHTTP).
// cpu-ns/op is the process's CPU time per call (client and server), the
// steadier figure on a shared machine; compare the rows with each other.
//
// Run from services/user-server:
//
//	go test -run '^$' -bench BenchmarkProtocols -benchmem -count 5 ./internal/httpapi/
func BenchmarkProtocols(b *testing.B) {
	srv, log := newServer(b)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.GRPC().Serve(lis) }()
	defer srv.GRPC().Stop()
	h, err := New(Config{Server: srv, Limits: limits.Default, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(h.Handler())
	defer hs.Close()
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	grpcClient := userv1.NewUserServiceClient(conn)
	req := &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: "valid-token"}
	connectCall := func(opts ...connect.ClientOption) func(b *testing.B) {
		c := connect.NewClient[userv1.GetUserDetailsRequest, userv1.GetUserDetailsResponse](hs.Client(), hs.URL+"/user.v1.UserService/GetUserDetails", opts...)
		return func(b *testing.B) {
			if _, err := c.CallUnary(b.Context(), connect.NewRequest(req)); err != nil {
				b.Fatal(err)
			}
		}
	}
	cases := []struct {
		name string
		call func(b *testing.B)
	}{
		{"grpc", func(b *testing.B) {
			if _, err := grpcClient.GetUserDetails(b.Context(), req); err != nil {
				b.Fatal(err)
			}
		}},
		{"connect-proto", connectCall()},
		{"connect-json", connectCall(connect.WithProtoJSON())},
		{"rest", func(b *testing.B) {
			r, _ := http.NewRequestWithContext(b.Context(), "GET", hs.URL+"/v1/users/john123", nil)
			r.Header.Set("Authorization", "Bearer valid-token")
			resp, err := hs.Client().Do(r)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			c.call(b) // warm the connection
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for b.Loop() {
				c.call(b)
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
