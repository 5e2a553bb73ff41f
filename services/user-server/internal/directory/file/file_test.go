package file

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/acme/user-service/services/user-server/internal/directory"
)

func TestReplace(t *testing.T) {
	t.Parallel()
	d := Embedded()
	if u, err := d.Lookup(t.Context(), "john123"); err != nil || u.Name != "John Doe" {
		t.Fatalf("john123 = %+v, %v", u, err)
	}
	next, err := Parse("next.json", []byte(`{"users": [{"id": "ann", "name": "Ann", "email": "ann@example.com"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	d.Replace(next)
	if _, err := d.Lookup(t.Context(), "john123"); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("john123 after Replace: %v, want ErrNotFound", err)
	}
	if u, err := d.Lookup(t.Context(), "ann"); err != nil || u.Email != "ann@example.com" {
		t.Fatalf("ann = %+v, %v", u, err)
	}
	if n, err := d.Count(t.Context()); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1", n, err)
	}
}

// TestReload: the embedded users have nothing to reload; a file is re-read
// whole, and a file that fails to load leaves the users in force.
func TestReload(t *testing.T) {
	t.Parallel()
	if ok, err := Embedded().Reload(t.Context()); ok || err != nil {
		t.Errorf("embedded Reload = %v, %v; want nothing to reload", ok, err)
	}
	path := filepath.Join(t.TempDir(), "users.json")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"users": [{"id": "ann", "name": "Ann", "email": "ann@example.com"}]}`)
	users, err := Load(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	d := New(path, users)
	write(`{"users": [{"id": "bob", "name": "Bob", "email": "bob@example.com"}]}`)
	if ok, err := d.Reload(t.Context()); !ok || err != nil {
		t.Fatalf("Reload = %v, %v", ok, err)
	}
	if _, err := d.Lookup(t.Context(), "bob"); err != nil {
		t.Fatalf("bob after Reload: %v", err)
	}
	write(`{"users": []}`)
	if ok, err := d.Reload(t.Context()); ok || err == nil {
		t.Fatalf("Reload of an empty file = %v, %v; want an error", ok, err)
	}
	if _, err := d.Lookup(t.Context(), "bob"); err != nil {
		t.Fatalf("bob after a failed Reload: %v", err)
	}
}

// TestAlwaysUp: memory never goes away and has no cache to count.
func TestAlwaysUp(t *testing.T) {
	t.Parallel()
	d := Embedded()
	var got []bool
	d.Watch(func(up bool) { got = append(got, up) })
	if len(got) != 1 || !got[0] {
		t.Errorf("Watch reported %v, want [true]", got)
	}
	if st := d.Stats(); !st.Up || st.Cache != nil {
		t.Errorf("Stats = %+v, want up without a cache", st)
	}
	if a := d.LogAttr(); a.Key != "users" || a.Value.Int64() != 1 {
		t.Errorf("LogAttr = %v, want users=1", a)
	}
	d.Close()
}
