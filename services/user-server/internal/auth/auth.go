// Package auth decides whether a request's auth token is accepted.
//
// A candidate is compared with every configured token, byte by byte over the
// configured token's full length, without early exit: the time taken depends
// only on the configured tokens' lengths, never on the candidate's content or
// length, so timing reveals neither how much of a token matched nor how long
// the tokens are relative to the guess. (Hashing first would do the same but
// costs about 250 ns per RPC.) Tokens are secrets: nothing in this package
// logs, prints or returns them in errors.
package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/acme/user-service/services/user-server/internal/cfgfile"
)

// DevToken is the walkthrough's demo token, the only token accepted in
// development mode.
const DevToken = "valid-token"

// MaxFileSize caps a tokens file: thousands of the longest tokens.
const MaxFileSize = 1 << 20

// MinTokenLen refuses tokens short enough to guess (a one-character token
// falls to 95 tries).
const MinTokenLen = 8

// MaxTokenLen matches the auth_token max_len rule of the request: a longer
// token could never be accepted.
const MaxTokenLen = 512

// Authenticator accepts a fixed set of tokens. The zero value accepts nothing.
type Authenticator struct {
	tokens [][]byte
	dev    bool
}

// New returns an Authenticator for the given tokens, or a development-mode
// Authenticator accepting only DevToken when tokens is empty.
func New(tokens []string) (*Authenticator, error) {
	if len(tokens) == 0 {
		return &Authenticator{tokens: [][]byte{[]byte(DevToken)}, dev: true}, nil
	}
	a := &Authenticator{tokens: make([][]byte, 0, len(tokens))}
	for i, t := range tokens {
		if err := checkToken(t); err != nil {
			return nil, fmt.Errorf("token %d: %w", i+1, err)
		}
		a.tokens = append(a.tokens, []byte(t))
	}
	return a, nil
}

// DevMode reports whether no tokens were configured, so only DevToken is
// accepted.
func (a *Authenticator) DevMode() bool { return a.dev }

// Allow reports whether token is one of the accepted tokens. Its running time
// depends only on the configured tokens (see the package comment).
func (a *Authenticator) Allow(token string) bool {
	var match int
	for _, t := range a.tokens {
		match |= equal(t, token)
	}
	return match == 1
}

// equal returns 1 if candidate equals secret, else 0, reading every byte of
// secret whatever candidate holds.
func equal(secret []byte, candidate string) int {
	// Non-zero when the lengths differ; lengths are at most MaxTokenLen for
	// secrets, and a longer candidate keeps high bits set.
	diff := uint64(len(secret)) ^ uint64(len(candidate))
	for i, s := range secret {
		var c byte
		if i < len(candidate) { // depends on the caller's own input only
			c = candidate[i]
		}
		diff |= uint64(s ^ c)
	}
	// Fold to one bit without a data-dependent branch.
	diff |= diff >> 32
	return subtle.ConstantTimeEq(int32(uint32(diff)), 0)
}

func checkToken(t string) error {
	if t == "" {
		return errors.New("empty")
	}
	if len(t) < MinTokenLen {
		return fmt.Errorf("shorter than %d bytes", MinTokenLen)
	}
	if len(t) > MaxTokenLen {
		return fmt.Errorf("longer than %d bytes", MaxTokenLen)
	}
	if !utf8.ValidString(t) {
		return errors.New("not valid UTF-8")
	}
	if strings.TrimSpace(t) != t {
		return errors.New("has leading or trailing white space")
	}
	if strings.IndexFunc(t, unicode.IsSpace) >= 0 {
		// Most likely "token # comment": taking the whole line as the
		// token would silently accept a token nobody holds.
		return errors.New("holds white space (comments go on lines of their own, starting with '#')")
	}
	if strings.IndexFunc(t, unicode.IsControl) >= 0 {
		return errors.New("holds a control character")
	}
	if strings.IndexFunc(t, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) >= 0 {
		// A byte order mark, zero-width space or bidi control: invisible
		// in an editor, so the token nobody can type back.
		return errors.New("holds an invisible format character (such as U+FEFF or U+200B)")
	}
	if t == DevToken {
		// Everyone knows it: configuring it would publish the server.
		return errors.New("is the public demo token, accepted only in development mode (no tokens configured)")
	}
	return nil
}

// ParseTokens splits the value of USER_SERVER_AUTH_TOKENS: tokens separated
// by commas or newlines; surrounding white space and empty items are
// ignored.
func ParseTokens(v string) []string {
	fields := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' })
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// LoadTokensFile reads one token per line. Blank lines and lines starting
// with '#' are ignored, and so is a UTF-8 byte order mark; a file without any
// token is an error, so a misconfigured deployment never falls back to
// development mode. Errors name the file and line, never the token. Only a
// regular file of at most MaxFileSize bytes is read, and the read stops when
// ctx is done.
func LoadTokensFile(ctx context.Context, path string) ([]string, error) {
	data, err := cfgfile.Read(ctx, path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("auth tokens file: %w", err)
	}
	// Editors on some systems start UTF-8 files with a BOM; it is never
	// part of a token.
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	var tokens []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if err := checkToken(t); err != nil {
			return nil, fmt.Errorf("auth tokens file %s:%d: token %w", path, line, err)
		}
		tokens = append(tokens, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("auth tokens file %s: %w", path, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("auth tokens file %s: no tokens", path)
	}
	return tokens, nil
}
