package server

import (
	userv1 "github.com/acme/user-service/gen/go/user/v1"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// SetServing reports on health whether the server can answer: a directory
// in a database that is unreachable makes it NOT_SERVING, so load balancers
// and probes steer calls to replicas that can answer misses. After
// Shutdown, health stays NOT_SERVING whatever this is told.
func (s *Server) SetServing(serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
	s.health.SetServingStatus(userv1.UserService_ServiceDesc.ServiceName, st)
}
