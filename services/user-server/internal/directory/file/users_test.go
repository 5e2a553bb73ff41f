package file

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acme/user-service/services/user-server/internal/directory"
)

func TestDefault(t *testing.T) {
	t.Parallel()
	s := Default()
	u, ok := s.Get("john123")
	if !ok || u != (directory.User{ID: "john123", Name: "John Doe", Email: "john123@example.com"}) {
		t.Fatalf("Get(john123) = %v, %v", u, ok)
	}
	if _, ok := s.Get("John123"); ok {
		t.Error("lookup is not case-sensitive")
	}
	if s.Len() != 1 {
		t.Errorf("Len = %d", s.Len())
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.json")
	data := `{"users": [
  {"id": "a.b_c-1", "name": "Ann", "email": "ann@example.com"},
  {"id": "bob", "name": "Bob Ø", "email": "bob@example.org"}
]}`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := s.Get("bob"); !ok || u.Name != "Bob Ø" {
		t.Fatalf("Get(bob) = %v, %v", u, ok)
	}
	if _, ok := s.Get("john123"); ok {
		t.Error("a users file replaces the default directory")
	}
	if _, err := Load(t.Context(), filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseAcceptsLimits(t *testing.T) {
	t.Parallel()
	// 254 bytes, 64 before the @, labels of 63
	email := strings.Repeat("x", 64) + "@" + strings.Repeat("d", 63) + "." + strings.Repeat("d", 63) + "." + strings.Repeat("d", 61)
	name := "Zoë " + strings.Repeat("n", 252) // 256 characters, not bytes
	s, err := Parse("f.json", []byte(`{"users": [{"id": "a", "name": "`+name+`", "email": "`+email+`"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := s.Get("a"); u.Email != email || u.Name != name {
		t.Fatalf("Get = %+v", u)
	}
}

func TestLoadRefusesOddFiles(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/dev/zero", t.TempDir()} {
		if _, err := Load(t.Context(), path); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Load(%s) = %v, want a not-a-regular-file error", path, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	const ok1 = `{"id": "a", "name": "A", "email": "a@example.com"}`
	tests := []struct{ name, data, want string }{
		{"empty file", ``, "f.json:1:1: invalid JSON: unexpected end of input"},
		{"not an object", `[]`, "f.json:1:1: expected a JSON object"},
		{"syntax error", "{\"users\": [\n" + ok1 + ",\n{\"id\": \"b\" \"name\": \"B\"}]}", "f.json:3:"},
		{"users not an array", `{"users": {}}`, `f.json:1:11: expected "users" to be an array`},
		{"unknown key", `{"people": []}`, `f.json:1:2: unexpected key people`},
		{"repeated users key", `{"users": [` + ok1 + `], "users": []}`, `unexpected key users`},
		{"unknown field", `{"users": [{"id": "a", "name": "A", "email": "a@example.com", "role": "x"}]}`, `users[0]: invalid JSON: json: unknown field "role"`},
		{"wrong type", `{"users": [{"id": 7, "name": "A", "email": "a@example.com"}]}`, `users[0]: invalid JSON`},
		{"no users", `{"users": []}`, "f.json: no users"},
		{"missing id", `{"users": [{"name": "A", "email": "a@example.com"}]}`, "f.json:1:12: users[0]: id is required"},
		{"bad id", `{"users": [{"id": "a b", "name": "A", "email": "a@example.com"}]}`, `users[0]: id "a b" must match`},
		{"long id", `{"users": [{"id": "` + strings.Repeat("x", 65) + `", "name": "A", "email": "a@example.com"}]}`, "longer than 64"},
		{"missing name", `{"users": [{"id": "a", "email": "a@example.com"}]}`, `users[0]: user "a": name is required`},
		{"missing email", `{"users": [{"id": "a", "name": "A"}]}`, `user "a": email is required`},
		{"bad email", `{"users": [{"id": "a", "name": "A", "email": "not an email"}]}`, `email "not an email" is not a plain address`},
		{"email with display name", `{"users": [{"id": "a", "name": "A", "email": "A <a@example.com>"}]}`, "not a plain address"},
		{"escape sequence in name", `{"users": [{"id": "a", "name": "\u001b]0;pwned\u0007\u001b[2J\nStatus: Success\r", "email": "a@example.com"}]}`, `user "a": name "\x1b]0;pwned\a\x1b[2J\nStatus: Success\r" holds a control character`},
		{"C1 control in name", `{"users": [{"id": "a", "name": "A\u009b2J", "email": "a@example.com"}]}`, "holds a control character"},
		{"DEL in name", `{"users": [{"id": "a", "name": "A\u007f", "email": "a@example.com"}]}`, "holds a control character"},
		{"email too long", `{"users": [{"id": "a", "name": "A", "email": "` + strings.Repeat("x", 243) + `@example.com"}]}`, `user "a": email is longer than 254 bytes`},
		{"duplicate id", "{\"users\": [\n  " + ok1 + ",\n  " + ok1 + "\n]}", `f.json:3:3: users[1]: duplicate id "a" (first in users[0])`},
		{"trailing data", `{"users": [` + ok1 + `]} {}`, "f.json:1:65: unexpected data after the object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse("f.json", []byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse = %v, %v; want error containing %q", s, err, tt.want)
			}
		})
	}
}

// TestEmailCases: the loader keeps the contract's email rule, on its
// shared cases (see directory.CheckEmail).
func TestEmailCases(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../testdata/email_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Valid, Invalid []string }
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	parse := func(email string) error {
		data, _ := json.Marshal(map[string]any{"users": []directory.User{{ID: "a", Name: "A", Email: email}}})
		_, err := Parse("f.json", data)
		return err
	}
	for _, s := range c.Valid {
		if err := parse(s); err != nil {
			t.Errorf("email %q: %v, want accepted", s, err)
		}
	}
	for _, s := range c.Invalid {
		if err := parse(s); err == nil {
			t.Errorf("email %q accepted, want refused", s)
		}
	}
}
