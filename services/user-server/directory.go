package main

import (
	"log/slog"

	"github.com/acme/user-service/services/user-server/internal/config"
	"github.com/acme/user-service/services/user-server/internal/directory"
	"github.com/acme/user-service/services/user-server/internal/directory/file"
	"github.com/acme/user-service/services/user-server/internal/directory/postgres"
)

// openDirectory opens the directory the configuration names: the table at
// --database-url, else users, already loaded from --users (or the embedded
// ones) so that a bad file stops the server before anything is opened.
// This is the one place that knows which kind of directory the server has.
func openDirectory(cfg config.Config, users *file.Users, log *slog.Logger) (directory.Directory, error) {
	if cfg.Database.URL == "" {
		return file.New(cfg.UsersFile, users), nil
	}
	dir, err := postgres.Open(postgres.Config{
		URL:              cfg.Database.URL,
		CacheSize:        cfg.Database.CacheSize,
		PoolSize:         int32(cfg.Database.PoolSize),
		StatementTimeout: cfg.Database.StatementTimeout,
		Logger:           log,
	})
	if err != nil {
		return nil, err
	}
	return dir, nil
}
