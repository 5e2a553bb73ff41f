package file

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/acme/user-service/services/user-server/internal/cfgfile"
	"github.com/acme/user-service/services/user-server/internal/directory"
)

// Users is an immutable, validated set of users, safe for concurrent use.
type Users struct {
	byID map[string]directory.User
}

//go:embed users.json
var defaultUsers []byte

// Default returns the embedded users (the walkthrough's john123).
func Default() *Users {
	s, err := Parse("embedded users.json", defaultUsers)
	if err != nil {
		// The embedded file is part of the binary and covered by tests.
		panic(err)
	}
	return s
}

// MaxFileSize caps a users file: about 40,000 entries of the longest
// allowed fields, far more than an in-memory directory is meant for. A
// larger file (or /dev/zero) is refused before it is read.
const MaxFileSize = 64 << 20

// Load reads a directory from a JSON file; errors name the file, the line
// and entry, and the problem. Only a regular file of at most MaxFileSize
// bytes is read, and the read stops when ctx is done.
func Load(ctx context.Context, path string) (*Users, error) {
	data, err := cfgfile.Read(ctx, path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	return Parse(path, data)
}

// Get returns the user with the given id.
func (s *Users) Get(id string) (directory.User, bool) {
	u, ok := s.byID[id]
	return u, ok
}

// Len returns the number of users.
func (s *Users) Len() int { return len(s.byID) }

// All returns every user, in no particular order.
func (s *Users) All() []directory.User {
	out := make([]directory.User, 0, len(s.byID))
	for _, u := range s.byID {
		out = append(out, u)
	}
	return out
}

// The id rules match user.v1.GetUserDetailsRequest.user_id, so every entry
// can actually be requested.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

const (
	maxIDLen   = 64
	maxNameLen = 256
	// maxEmailLen is the longest address SMTP can carry (RFC 5321's 256-octet
	// path, minus the angle brackets).
	maxEmailLen = 254
)

// Parse decodes a directory of the form {"users": [{"id", "name", "email"}, ...]}.
// name is used in error messages.
func Parse(name string, data []byte) (*Users, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	fail := func(off int64, format string, args ...any) error {
		line, col := position(data, off)
		return fmt.Errorf("%s:%d:%d: %s", name, line, col, fmt.Sprintf(format, args...))
	}
	// decodeErr locates a decoding error; prefix names the entry, if any.
	decodeErr := func(prefix string, err error) error {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if errors.As(err, &syn) {
			return fail(syn.Offset, "%sinvalid JSON: %v", prefix, syn)
		}
		if errors.As(err, &typ) {
			return fail(typ.Offset, "%sinvalid JSON: %v", prefix, typ)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fail(int64(len(data)), "%sinvalid JSON: unexpected end of input", prefix)
		}
		return fail(dec.InputOffset(), "%sinvalid JSON: %v", prefix, err)
	}
	expectDelim := func(want json.Delim, what string) error {
		off := skipSpace(data, dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return decodeErr("", err)
		}
		if d, ok := tok.(json.Delim); !ok || d != want {
			return fail(off, "expected %s", what)
		}
		return nil
	}

	if err := expectDelim('{', `a JSON object {"users": [...]}`); err != nil {
		return nil, err
	}
	s := &Users{byID: make(map[string]directory.User)}
	seenUsers := false
	for dec.More() {
		off := skipSpace(data, dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return nil, decodeErr("", err)
		}
		if key, _ := tok.(string); key != "users" || seenUsers {
			return nil, fail(off, "unexpected key %v (want a single \"users\")", tok)
		}
		seenUsers = true
		if err := expectDelim('[', `"users" to be an array`); err != nil {
			return nil, err
		}
		firstAt := make(map[string]int)
		for i := 0; dec.More(); i++ {
			off := skipSpace(data, dec.InputOffset())
			var u directory.User
			if err := dec.Decode(&u); err != nil {
				return nil, decodeErr(fmt.Sprintf("users[%d]: ", i), err)
			}
			if err := validate(u); err != nil {
				return nil, fail(off, "users[%d]: %v", i, err)
			}
			if j, dup := firstAt[u.ID]; dup {
				return nil, fail(off, "users[%d]: duplicate id %q (first in users[%d])", i, u.ID, j)
			}
			firstAt[u.ID] = i
			s.byID[u.ID] = u
		}
		if err := expectDelim(']', "end of the users array"); err != nil {
			return nil, err
		}
	}
	if err := expectDelim('}', "end of the object"); err != nil {
		return nil, err
	}
	if off := dec.InputOffset(); len(bytes.TrimSpace(data[off:])) > 0 {
		return nil, fail(skipSpace(data, off), "unexpected data after the object")
	}
	if len(s.byID) == 0 {
		return nil, fmt.Errorf("%s: no users", name)
	}
	return s, nil
}

func validate(u directory.User) error {
	if u.ID == "" {
		return errors.New("id is required")
	}
	if len(u.ID) > maxIDLen {
		return fmt.Errorf("id %.16q... is longer than %d characters", u.ID, maxIDLen)
	}
	if !idPattern.MatchString(u.ID) {
		return fmt.Errorf("id %q must match %s", u.ID, idPattern)
	}
	if u.Name == "" {
		return fmt.Errorf("user %q: name is required", u.ID)
	}
	if !utf8.ValidString(u.Name) || utf8.RuneCountInString(u.Name) > maxNameLen {
		return fmt.Errorf("user %q: name must be valid UTF-8 of at most %d characters", u.ID, maxNameLen)
	}
	if hasControl(u.Name) {
		// Clients print names; control characters could drive their terminal.
		return fmt.Errorf("user %q: name %q holds a control character", u.ID, u.Name)
	}
	if u.Email == "" {
		return fmt.Errorf("user %q: email is required", u.ID)
	}
	if len(u.Email) > maxEmailLen {
		return fmt.Errorf("user %q: email is longer than %d bytes", u.ID, maxEmailLen)
	}
	if hasControl(u.Email) {
		return fmt.Errorf("user %q: email %q holds a control character", u.ID, u.Email)
	}
	if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email || a.Name != "" {
		return fmt.Errorf("user %q: email %q is not a plain address like name@example.com", u.ID, u.Email)
	}
	return nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

func skipSpace(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

// position converts a byte offset into a 1-based line and column.
func position(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}
