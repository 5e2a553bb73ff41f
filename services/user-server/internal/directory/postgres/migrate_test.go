package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/acme/user-service/services/user-server/internal/directory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestReadMigrations: files come back in version order (not name order),
// and a set the runner could apply wrongly is refused, naming the files.
func TestReadMigrations(t *testing.T) {
	t.Parallel()
	files := func(names ...string) fstest.MapFS {
		fsys := fstest.MapFS{}
		for _, n := range names {
			fsys["migrations/"+n] = &fstest.MapFile{Data: []byte("-- " + n)}
		}
		return fsys
	}
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []int  // versions, in order
		wantErr string // or the error
	}{
		// Name order is 10, 2, 9: only the numbers give 2, 9, 10.
		{"version order", files("9_c.sql", "10_d.sql", "0002_b.sql"), []int{2, 9, 10}, ""},
		{"one", files("0001_users.sql"), []int{1}, ""},
		{"shared version", files("0001_a.sql", "1_b.sql", "0002_c.sql"), nil,
			"migrations 0001_a.sql and 1_b.sql share version 1"},
		{"version zero", files("0000_a.sql"), nil, "migration 0000_a.sql: name must be NNNN_description.sql"},
		{"negative version", files("-1_a.sql"), nil, "migration -1_a.sql: name must be"},
		{"no number", files("users.sql"), nil, "migration users.sql: name must be"},
		{"not a number", files("v1_a.sql"), nil, "migration v1_a.sql: name must be"},
		{"no directory", fstest.MapFS{}, nil, "migrations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ms, err := readMigrations(tt.fsys)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readMigrations() = %v, %v; want an error containing %q", ms, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.version)
				if m.sql != "-- "+m.name {
					t.Errorf("migration %s holds %q", m.name, m.sql)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("versions %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEmailRuleMatchesContract: the table's email constraint spells the
// contract's pattern and keeps its shared cases (see directory.CheckEmail).
func TestEmailRuleMatchesContract(t *testing.T) {
	t.Parallel()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var last string // the newest migration that sets the constraint
	for _, m := range ms {
		if strings.Contains(m.sql, "CONSTRAINT users_email_valid") {
			last = m.sql
		}
	}
	if want := "'" + strings.ReplaceAll(directory.EmailPattern, "'", "''") + "'"; !strings.Contains(last, want) {
		t.Fatalf("the newest users_email_valid does not spell directory.EmailPattern as %s", want)
	}
	if !strings.Contains(last, fmt.Sprintf("octet_length(email) <= %d", directory.MaxEmailLen)) ||
		!strings.Contains(last, fmt.Sprintf("octet_length(split_part(email, '@', 1)) <= %d", directory.MaxEmailLocalLen)) {
		t.Fatal("the newest users_email_valid does not bound the address as directory.MaxEmailLen and MaxEmailLocalLen")
	}

	b, err := os.ReadFile("../testdata/email_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Valid, Invalid []string }
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), migrated(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	insert := func(i int, email string) error {
		_, err := conn.Exec(t.Context(), "INSERT INTO users (id, name, email) VALUES ($1, 'E', $2)", fmt.Sprint("e", i), email)
		return err
	}
	for i, s := range c.Valid {
		if err := insert(i, s); err != nil {
			t.Errorf("email %q: %v, want accepted", s, err)
		}
	}
	for i, s := range c.Invalid {
		var pe *pgconn.PgError
		if err := insert(len(c.Valid)+i, s); !errors.As(err, &pe) || pe.ConstraintName != "users_email_valid" {
			t.Errorf("email %q: %v, want refused by users_email_valid", s, err)
		}
	}
}
