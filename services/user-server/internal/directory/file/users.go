package file

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
)

// Parse decodes a directory of the form {"users": [{"id", "name", "email"}, ...]}.
// name is used in error messages.
func Parse(name string, data []byte) (*Users, error) {
	s := &Users{byID: make(map[string]directory.User)}
	firstAt := make(map[string]int)
	err := Scan(context.Background(), name, bytes.NewReader(data), func(e Entry) error {
		if j, dup := firstAt[e.User.ID]; dup {
			return fmt.Errorf("duplicate id %q (first in users[%d])", e.User.ID, j)
		}
		firstAt[e.User.ID] = e.Index
		s.byID[e.User.ID] = e.User
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Entry is one valid user of a file being scanned, and where it starts.
type Entry struct {
	User      directory.User
	Index     int // in the users array, from 0
	Line, Col int // 1-based
}

// Where locates the entry for an error message: FILE:LINE:COL: users[i].
func (e Entry) Where(name string) string {
	return fmt.Sprintf("%s:%d:%d: users[%d]", name, e.Line, e.Col, e.Index)
}

// Scan decodes a users file from r one entry at a time, validating each,
// and calls f with it: memory does not depend on the file's size (Scan
// knows nothing of ids seen before; callers that must refuse duplicates
// check them). An error of f stops the scan and is returned with the
// entry's FILE:LINE:COL. name is used in error messages. Scan stops when
// ctx is done.
func Scan(ctx context.Context, name string, r io.Reader, f func(Entry) error) error {
	pr := &posReader{r: r, ctx: ctx, lastNL: -1}
	dec := json.NewDecoder(pr)
	dec.DisallowUnknownFields()
	fail := func(off int64, format string, args ...any) error {
		line, col := pr.position(off)
		return fmt.Errorf("%s:%d:%d: %s", name, line, col, fmt.Sprintf(format, args...))
	}
	// decodeErr locates a decoding error; prefix names the entry, if any.
	decodeErr := func(prefix string, err error) error {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case pr.err != nil && errors.Is(err, pr.err):
			return fmt.Errorf("%s: %w", name, err)
		case errors.As(err, &syn):
			return fail(syn.Offset, "%sinvalid JSON: %v", prefix, syn)
		case errors.As(err, &typ):
			return fail(typ.Offset, "%sinvalid JSON: %v", prefix, typ)
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return fail(pr.total, "%sinvalid JSON: unexpected end of input", prefix)
		}
		return fail(dec.InputOffset(), "%sinvalid JSON: %v", prefix, err)
	}
	// next returns the offset of the next token.
	next := func() int64 { return pr.skipSpace(dec.InputOffset()) }
	expectDelim := func(want json.Delim, what string) error {
		off := next()
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
		return err
	}
	seenUsers, n := false, 0
	for dec.More() {
		off := next()
		tok, err := dec.Token()
		if err != nil {
			return decodeErr("", err)
		}
		if key, _ := tok.(string); key != "users" || seenUsers {
			return fail(off, "unexpected key %v (want a single \"users\")", tok)
		}
		seenUsers = true
		if err := expectDelim('[', `"users" to be an array`); err != nil {
			return err
		}
		for ; dec.More(); n++ {
			off := next()
			line, col := pr.position(off)
			e := Entry{Index: n, Line: line, Col: col}
			if err := dec.Decode(&e.User); err != nil {
				return decodeErr(fmt.Sprintf("users[%d]: ", n), err)
			}
			if err := validate(e.User); err != nil {
				return fmt.Errorf("%s: %w", e.Where(name), err)
			}
			if err := f(e); err != nil {
				return fmt.Errorf("%s: %w", e.Where(name), err)
			}
		}
		if err := expectDelim(']', "end of the users array"); err != nil {
			return err
		}
	}
	if err := expectDelim('}', "end of the object"); err != nil {
		return err
	}
	// Anything but white space after the object is an error.
	off := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if pr.err != nil && errors.Is(err, pr.err) {
			return fmt.Errorf("%s: %w", name, err)
		}
		return fail(pr.skipSpace(off), "unexpected data after the object")
	}
	if n == 0 {
		return fmt.Errorf("%s: no users", name)
	}
	return nil
}

// posReader is the scanner's input: it turns the decoder's byte offsets
// into lines and columns, keeping only the bytes read since the last
// offset asked for (offsets asked for never go backwards but by a little).
type posReader struct {
	r   io.Reader
	ctx context.Context
	err error // a read error other than io.EOF, to tell it from bad JSON

	pending []byte // the bytes from offset base on, read but not passed
	base    int64
	total   int64 // bytes read
	lines   int   // newlines before base
	lastNL  int64 // offset of the last newline before base, or -1
}

func (p *posReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		p.err = context.Cause(p.ctx)
		return 0, p.err
	}
	n, err := p.r.Read(b)
	p.pending = append(p.pending, b[:n]...)
	p.total += int64(n)
	if err != nil && err != io.EOF {
		p.err = err
	}
	return n, err
}

// position returns the 1-based line and column of offset off.
func (p *posReader) position(off int64) (line, col int) {
	off = min(max(off, p.base), p.total)
	passed := p.pending[:off-p.base]
	if i := bytes.LastIndexByte(passed, '\n'); i >= 0 {
		p.lines += bytes.Count(passed, []byte("\n"))
		p.lastNL = p.base + int64(i)
	}
	// Copy down, so that the buffer does not grow with the file.
	p.pending = append(p.pending[:0], p.pending[off-p.base:]...)
	p.base = off
	return p.lines + 1, int(off - p.lastNL)
}

// skipSpace returns the offset of the first byte at or after off that is
// neither white space nor a separator, among the bytes read so far.
func (p *posReader) skipSpace(off int64) int64 {
	for off >= p.base && off < p.total {
		switch p.pending[off-p.base] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
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
	if err := directory.CheckEmail(u.Email); err != nil {
		return fmt.Errorf("user %q: %w", u.ID, err)
	}
	return nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}
