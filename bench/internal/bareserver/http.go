package bareserver

import (
	"context"
	"errors"
	"net/http"

	"connectrpc.com/connect"
	"connectrpc.com/vanguard/vanguardgrpc"
	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Procedure is GetUserDetails' Connect (and gRPC) path.
const Procedure = "/user.v1.UserService/GetUserDetails"

// ConnectHandler serves svc with connect-go alone: one unary handler (the
// Connect protocol in binary and JSON, gRPC and gRPC-Web), no
// interceptors: the ceiling of an HTTP front door built on connect-go.
func ConnectHandler(svc *Service) http.Handler {
	method := userv1.File_user_v1_user_proto.Services().ByName("UserService").Methods().ByName("GetUserDetails")
	h := connect.NewUnaryHandler(Procedure,
		func(ctx context.Context, req *connect.Request[userv1.GetUserDetailsRequest]) (*connect.Response[userv1.GetUserDetailsResponse], error) {
			resp, err := svc.GetUserDetails(ctx, req.Msg)
			if err != nil {
				st := status.Convert(err)
				return nil, connect.NewError(connect.Code(st.Code()), errors.New(st.Message()))
			}
			return connect.NewResponse(resp), nil
		},
		connect.WithSchema(method),
	)
	mux := http.NewServeMux()
	mux.Handle(Procedure, h)
	return mux
}

// VanguardHandler serves s's services through vanguard alone (Connect,
// gRPC-Web and the contract's REST routes, transcoded into s.ServeHTTP):
// the ceiling of the user-server's HTTP front door, which is built so.
func VanguardHandler(s *grpc.Server) (http.Handler, error) {
	return vanguardgrpc.NewTranscoder(s)
}
