package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health/grpc_health_v1"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-client/internal/config"
	"github.com/acme/user-service/services/user-client/internal/conn"
	"github.com/acme/user-service/services/user-client/internal/redact"
	"github.com/acme/user-service/services/user-client/internal/render"
	"github.com/acme/user-service/services/user-client/internal/tracing"
)

// run is the whole program: it prints results on stdout and a failure on
// stderr, and returns the error whose exit code main uses (exitcode.For).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Parse(args, getenv)
	if errors.Is(err, config.ErrHelp) {
		config.Usage(stdout)
		return nil
	}
	// Every token the command line or the environment may hold, parsed or
	// not: a usage error can quote any argument.
	secrets := append(config.TokenArgs(args), getenv("USER_CLIENT_TOKEN"), cfg.Token)
	redact := redact.New(secrets...).Redact
	if err == nil {
		err = call(ctx, cfg, stdout, stderr)
	}
	if err != nil {
		render.Error(stderr, err, redact)
		if h := conn.Hint(err, cfg.TLS, cfg.CertFile != ""); h != "" {
			fmt.Fprintf(stderr, "hint: %s\n", h)
		}
	}
	return err
}

// call makes cfg.Count calls over one channel and prints each result. It
// returns gRPC errors unwrapped, so their code and message print as sent.
func call(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	var creds credentials.TransportCredentials
	if cfg.TLS {
		c, err := conn.TLSCredentials(conn.TLSOptions{
			CAFile: cfg.CAFile, CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, ServerName: cfg.ServerName,
		})
		if err != nil {
			return err
		}
		creds = c
	}
	var opts []grpc.DialOption
	if cfg.OTLPEndpoint != "" {
		traced, flush, err := tracing.Setup(ctx, cfg.OTLPEndpoint)
		if err != nil {
			return err
		}
		// Spans are flushed after the connection closes, whatever the
		// calls' outcome, within --timeout; a failed export does not
		// change the exit code, but is reported.
		defer func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Timeout)
			defer cancel()
			if n := flush(fctx); n > 0 {
				fmt.Fprintf(stderr, "user-client: %d trace spans not exported (is the OTLP collector up?)\n", n)
			}
		}()
		opts = append(opts, traced)
	}
	cc, err := conn.New(cfg.Addrs, creds, opts...)
	if err != nil {
		return err
	}
	defer cc.Close()

	users := userv1.NewUserServiceClient(cc)
	health := grpc_health_v1.NewHealthClient(cc)
	for range cfg.Count {
		if err := once(ctx, cfg, users, health, stdout); err != nil {
			return err
		}
	}
	return nil
}

func once(ctx context.Context, cfg config.Config, users userv1.UserServiceClient, health grpc_health_v1.HealthClient, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if cfg.Health {
		resp, err := health.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: cfg.HealthService})
		if err != nil {
			return err
		}
		if err := render.Health(stdout, cfg.Output, resp); err != nil {
			return err
		}
		if s := resp.GetStatus(); s != grpc_health_v1.HealthCheckResponse_SERVING {
			return fmt.Errorf("health: server is %s", s)
		}
		return nil
	}
	resp, err := users.GetUserDetails(ctx, &userv1.GetUserDetailsRequest{
		UserId:    cfg.User,
		AuthToken: cfg.Token,
	})
	if err != nil {
		return err
	}
	return render.Response(stdout, cfg.Output, resp)
}
