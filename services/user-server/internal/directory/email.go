package directory

import (
	"fmt"
	"regexp"
	"strings"
)

// The email rule of every user a directory holds: a plain ASCII address,
// local@domain, such as SMTP can carry and clients can print safely. It is
// one rule, kept in three places that tests hold to the same cases
// (testdata/email_cases.json): CheckEmail (the users file), and the users
// table's users_email_valid constraint (internal/directory/postgres's
// migrations), which spells EmailPattern and the length bounds in SQL.
//
//   - the local part is a dot-atom (RFC 5322 atext but the backquote, in
//     dot-separated runs): no quoting, comments, spaces, angle brackets or
//     commas;
//   - the domain is dot-separated LDH labels of 1 to 63 characters, not
//     starting or ending with '-' (internationalised domains in their
//     punycode form);
//   - at most MaxEmailLocalLen bytes before the '@', MaxEmailLen in all.
//
// Internationalised addresses (UTF-8 local parts, RFC 6531) are refused:
// the database's regular expressions cannot classify non-ASCII characters
// the same way as Go's, and one rule in both matters more.
const EmailPattern = `^[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`

const (
	// MaxEmailLen is the longest address SMTP can carry (RFC 5321's
	// 256-octet path, minus the angle brackets), in bytes.
	MaxEmailLen = 254
	// MaxEmailLocalLen bounds the part before the '@' (RFC 5321), in bytes.
	MaxEmailLocalLen = 64
)

var emailRE = regexp.MustCompile(EmailPattern)

// CheckEmail reports whether s keeps the email rule (see EmailPattern); the
// error says which part it breaks, quoting s.
func CheckEmail(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("email is required")
	case len(s) > MaxEmailLen:
		return fmt.Errorf("email is longer than %d bytes", MaxEmailLen)
	case !emailRE.MatchString(s):
		return fmt.Errorf("email %q is not a plain address like name@example.com", s)
	}
	if local, _, _ := strings.Cut(s, "@"); len(local) > MaxEmailLocalLen {
		return fmt.Errorf("email %q: the part before @ is longer than %d bytes", s, MaxEmailLocalLen)
	}
	return nil
}
