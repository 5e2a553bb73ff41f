package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/config"
	"github.com/acme/user-service/services/user-server/internal/directory"
)

// followReloads reloads on every value from hup until ctx is done.
func followReloads(ctx context.Context, hup <-chan os.Signal, dir directory.Directory, cfg config.Config, tokens *auth.Reloadable, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reload(ctx, dir, cfg, tokens, log)
		}
	}
}

// reload re-reads the directory's users file, if it has one, and
// --auth-tokens-file on SIGHUP. Each is swapped in whole and atomically, so
// an RPC sees the old set or the new one; a file that fails to load leaves
// the old one in force. Tokens from the environment cannot change in a
// running process.
func reload(ctx context.Context, dir directory.Directory, cfg config.Config, tokens *auth.Reloadable, log *slog.Logger) {
	did := false
	if replaced, err := dir.Reload(ctx); err != nil {
		did = true
		log.Error("reload: keeping the users in force", slog.String("error", err.Error()))
	} else if replaced {
		did = true
		n, _ := dir.Count(ctx) // the users just read: counted in memory
		log.Info("reload: users replaced", slog.String("file", cfg.UsersFile), slog.Int("users", n))
	}
	if cfg.AuthTokensFile != "" {
		did = true
		if n, err := tokens.ReloadFile(ctx, cfg.AuthTokensFile); err != nil {
			// The error names the file and line, never a token.
			log.Error("reload: keeping the auth tokens in force", slog.String("error", err.Error()))
		} else {
			log.Info("reload: auth tokens replaced", slog.String("file", cfg.AuthTokensFile), slog.Int("tokens", n))
		}
	}
	if !did {
		log.Info("reload: nothing to reload (SIGHUP re-reads --users and --auth-tokens-file)")
	}
}
