package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Defaults of Timeouts' zero fields for the migrate and import commands.
const (
	// DefaultConnectTimeout is the server's as well: connecting (dial,
	// TLS, authentication) to a database that answers in time.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultCommandStatementTimeout bounds one statement of migrate or
	// import: a million-row COPY or upsert takes seconds; a lock that
	// somebody holds must not make the command wait forever.
	DefaultCommandStatementTimeout = 10 * time.Minute
)

// Timeouts bound a command's connection to its database.
type Timeouts struct {
	// Connect bounds establishing the connection; a connect_timeout in
	// the URL wins. Zero means DefaultConnectTimeout.
	Connect time.Duration
	// Statement is the session's statement_timeout; zero means
	// DefaultCommandStatementTimeout; negative leaves the database's.
	Statement time.Duration
}

// connect opens one connection for a command, bounded by t.
func connect(ctx context.Context, url string, t Timeouts) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message masks the URL's password.
		return nil, fmt.Errorf("database URL: %w", err)
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = t.Connect
		if cc.ConnectTimeout <= 0 {
			cc.ConnectTimeout = DefaultConnectTimeout
		}
	}
	st := t.Statement
	if st == 0 {
		st = DefaultCommandStatementTimeout
	}
	if st > 0 {
		cc.RuntimeParams["statement_timeout"] = fmt.Sprint(st.Milliseconds())
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	return conn, nil
}

// closeConn closes a command's connection, bounded: a database that
// vanished may never answer the goodbye.
func closeConn(ctx context.Context, conn *pgx.Conn) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = conn.Close(cctx)
}
