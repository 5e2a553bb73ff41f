// Package redact removes secrets (the auth token) from text before it is
// printed.
package redact

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mask replaces a redacted secret.
const Mask = "[REDACTED]"

// Redactor replaces whole occurrences of secrets. The zero value redacts
// nothing.
type Redactor struct{ secrets []string }

// New returns a Redactor for the non-empty secrets, each as given and in
// its quoted form (the text between the quotes of strconv.Quote, as usage
// errors print values with %q), longest first (so a secret containing
// another is masked whole), ties in the order given.
func New(secrets ...string) Redactor {
	var r Redactor
	for _, s := range secrets {
		if s == "" {
			continue
		}
		r.secrets = append(r.secrets, s)
		if q := strconv.Quote(s); q[1:len(q)-1] != s {
			r.secrets = append(r.secrets, q[1:len(q)-1])
		}
	}
	// Insertion sort: a handful of entries.
	for i := 1; i < len(r.secrets); i++ {
		for j := i; j > 0 && len(r.secrets[j]) > len(r.secrets[j-1]); j-- {
			r.secrets[j], r.secrets[j-1] = r.secrets[j-1], r.secrets[j]
		}
	}
	return r
}

// Redact masks every occurrence of a secret that stands on its own: at
// the start or end of s or next to anything but a letter, mark or digit
// (white space, punctuation, symbols, invisible characters). An occurrence
// inside a longer word is left alone, so a short secret such as "e" does
// not garble every "e" of unrelated text.
func (r Redactor) Redact(s string) string {
	for _, secret := range r.secrets {
		s = redactOne(s, secret)
	}
	return s
}

func redactOne(s, secret string) string {
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, secret)
		if i < 0 {
			break
		}
		end := i + len(secret)
		consumed := len(s) - len(rest) // offset of rest in s
		if standsAlone(s, consumed+i, consumed+end) {
			b.WriteString(rest[:i])
			b.WriteString(Mask)
		} else {
			b.WriteString(rest[:end])
		}
		rest = rest[end:]
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(rest)
	return b.String()
}

// standsAlone reports whether s[i:j] is delimited on both sides (by whole
// runes: a byte of a multi-byte character is not one).
func standsAlone(s string, i, j int) bool {
	if i > 0 {
		if r, _ := utf8.DecodeLastRuneInString(s[:i]); !isSeparator(r) {
			return false
		}
	}
	if j < len(s) {
		if r, _ := utf8.DecodeRuneInString(s[j:]); !isSeparator(r) {
			return false
		}
	}
	return true
}

func isSeparator(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsNumber(r)
}
