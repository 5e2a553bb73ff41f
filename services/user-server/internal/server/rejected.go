package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// rejectedRPCs is the grpc.StatsHandler that Config.LogRejected installs
// (--log-rejected-rpcs): it writes the access line of an RPC that grpc-go
// ended before outermost saw it, today a request whose grpc-encoding names
// a compressor the server lacks (UNIMPLEMENTED). Every other RPC is logged
// by outermost, which marks it seen so it gets exactly one line.
//
// It is opt-in because any stats handler makes grpc-go build an event for
// every step of every RPC: BenchmarkUnary measured +20 allocations and
// 1.2 KB per RPC, while these requests come only from broken or hostile
// clients.
type rejectedRPCs struct{ outer outermost }

// rpcSeen is carried in an RPC's context from TagRPC to its End event.
type rpcSeen struct {
	method string
	seen   bool // outermost wrote the line; set on the RPC's own goroutine
}

type rpcSeenKey struct{}

// markSeen notes that outermost logs this RPC (a no-op without
// rejectedRPCs).
func markSeen(ctx context.Context) {
	if r, ok := ctx.Value(rpcSeenKey{}).(*rpcSeen); ok {
		r.seen = true
	}
}

func (h rejectedRPCs) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, rpcSeenKey{}, &rpcSeen{method: info.FullMethodName})
}

// HandleRPC writes the line at the RPC's end. grpc-go sends End from the
// goroutine that ran the handler, after it returned, so seen needs no
// synchronisation.
func (h rejectedRPCs) HandleRPC(ctx context.Context, s stats.RPCStats) {
	end, ok := s.(*stats.End)
	if !ok {
		return
	}
	if r, ok := ctx.Value(rpcSeenKey{}).(*rpcSeen); ok && !r.seen {
		method := r.method
		if !h.outer.known(method) {
			method = unknownMethod
		}
		h.outer.rpcDone(ctx, method, end.BeginTime, end.Error)
	}
}

func (rejectedRPCs) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (rejectedRPCs) HandleConn(context.Context, stats.ConnStats)                       {}

// malformedMethod returns the status grpc-go gives a :path that is not
// "/service/method", or nil for a well-formed one. grpc-go answers such a
// request before any stats handler or interceptor; the tap sees it first,
// so the server answers it there itself, with the same status, and logs it.
func malformedMethod(m string) error {
	if rest, ok := strings.CutPrefix(m, "/"); ok && strings.Contains(rest, "/") {
		return nil
	}
	return status.Error(codes.Unimplemented, fmt.Sprintf("malformed method name: %q", m))
}

// tap is the grpc.InTapHandle: the request-time bounds of streams, and
// the access line of a request with a malformed method name or refused
// there.
func (s *Server) tap(ctx context.Context, method string) (context.Context, error) {
	conn, _ := peer.FromContext(ctx)
	if s.conns != nil && conn != nil {
		s.conns.Opened(conn.Addr)
	}
	sctx, known, err := s.streams.tap(ctx, conn, method)
	if err != nil {
		s.outer.refused(ctx, method, err)
		return nil, err
	}
	if known {
		return sctx, nil
	}
	if err := malformedMethod(method); err != nil {
		// The caller's path is not recorded (see unknownMethod).
		s.outer.rpcDone(ctx, unknownMethod, time.Now(), status.Error(codes.Unimplemented, "malformed method name"))
		return nil, err
	}
	return ctx, nil // unknown method: unknownService answers it
}
