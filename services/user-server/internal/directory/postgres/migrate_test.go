package postgres

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
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
