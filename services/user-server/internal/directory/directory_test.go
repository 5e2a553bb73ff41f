package directory

import (
	"errors"
	"testing"

	"github.com/acme/user-service/services/user-server/internal/userstore"
)

func TestMemoryReplace(t *testing.T) {
	t.Parallel()
	m := NewMemory(userstore.Default())
	if u, err := m.LookupContext(t.Context(), "john123"); err != nil || u.Name != "John Doe" {
		t.Fatalf("john123 = %+v, %v", u, err)
	}
	next, err := userstore.Parse("next.json", []byte(`{"users": [{"id": "ann", "name": "Ann", "email": "ann@example.com"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	m.Replace(next)
	if _, err := m.LookupContext(t.Context(), "john123"); !errors.Is(err, userstore.ErrNotFound) {
		t.Fatalf("john123 after Replace: %v, want ErrNotFound", err)
	}
	if u, err := m.LookupContext(t.Context(), "ann"); err != nil || u.Email != "ann@example.com" {
		t.Fatalf("ann = %+v, %v", u, err)
	}
	if m.Len() != 1 {
		t.Fatalf("Len = %d, want 1", m.Len())
	}
}
