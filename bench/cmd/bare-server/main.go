// Command bare-server serves user.v1.UserService on a plain grpc.Server with
// no interceptors, health or reflection: the load benchmark's ceiling.
// With --http it serves HTTP/1.1 instead, the ceiling of an HTTP front door:
// vanguard over that grpc.Server (--http vanguard), or a connect-go handler
// (--http connect).
//
// It prints "listening on ADDR" once bound, and on SIGINT/SIGTERM stops
// gracefully and prints how many RPCs it answered with an error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/acme/user-service/bench/internal/bareserver"
	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"google.golang.org/grpc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bare-server:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bare-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	token := fs.String("token", "valid-token", "the one auth token accepted")
	workers := fs.Uint("stream-workers", 0, "grpc.NumStreamWorkers (experimental): reuse this many goroutines for RPCs instead of one new goroutine per RPC; 0 is grpc-go's default")
	mode := fs.String("http", "", "serve HTTP/1.1 instead of gRPC: vanguard (vanguard over the grpc.Server: Connect, gRPC-Web, REST) or connect (a connect-go handler)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *mode != "" && *mode != "vanguard" && *mode != "connect" {
		return fmt.Errorf("--http %q: want vanguard or connect", *mode)
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	svc := bareserver.New(*token)
	var opts []grpc.ServerOption
	if *workers > 0 {
		opts = append(opts, grpc.NumStreamWorkers(uint32(*workers)))
	}
	s := grpc.NewServer(opts...)
	userv1.RegisterUserServiceServer(s, svc)
	var hs *http.Server
	switch *mode {
	case "vanguard":
		h, err := bareserver.VanguardHandler(s)
		if err != nil {
			return err
		}
		hs = &http.Server{Handler: h}
	case "connect":
		hs = &http.Server{Handler: bareserver.ConnectHandler(svc)}
	}
	fmt.Fprintf(stdout, "listening on %s\n", lis.Addr())

	errc := make(chan error, 1)
	if hs != nil {
		go func() { errc <- hs.Serve(lis) }()
	} else {
		go func() { errc <- s.Serve(lis) }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if hs != nil {
		if err := hs.Shutdown(context.Background()); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	} else {
		s.GracefulStop()
		if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	fmt.Fprintf(stdout, "errors %d\n", svc.Errors())
	return nil
}
