package main

import (
	"strings"
	"testing"

	"github.com/acme/user-service/services/user-client/internal/exitcode"
)

// TestRunTokenNeverInUsageErrors: the token is redacted from usage errors
// even when parsing failed before the token was known, and redaction leaves
// unrelated text intact however short the token.
func TestRunTokenNeverInUsageErrors(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-tok"
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // the whole stderr
	}{
		{"empty --user swallows --token", []string{"--user", "--token", secret}, nil,
			`error: usage: unexpected argument "[REDACTED]" (see --help)` + "\n"},
		{"token reused as another flag's value", []string{"--token=" + secret, "--count=" + secret}, nil,
			`error: usage: invalid value "[REDACTED]" for flag -count: parse error (see --help)` + "\n"},
		{"single-dash form", []string{"-token", secret, "--timeout", secret}, nil,
			`error: usage: invalid value "[REDACTED]" for flag -timeout: parse error (see --help)` + "\n"},
		{"token from the environment", []string{"--count", secret}, map[string]string{"USER_CLIENT_TOKEN": secret},
			`error: usage: invalid value "[REDACTED]" for flag -count: parse error (see --help)` + "\n"},
		// Nothing follows --token: nothing to redact (and no index past the end).
		{"--token without a value", []string{"--user", "john123", "--token"}, nil,
			`error: usage: flag needs an argument: -token (see --help)` + "\n"},
		{"short token does not garble", []string{"--token", "e", "--output", "yaml"}, nil,
			`error: usage: --output must be "text" or "json", got "yaml" (see --help)` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t.Context(), tt.env, tt.args...)
			if r.code != exitcode.Usage || r.stderr != tt.want || r.stdout != "" {
				t.Errorf("code %d, stderr %q; want %d, %q", r.code, r.stderr, exitcode.Usage, tt.want)
			}
			if strings.Contains(r.stderr, secret) {
				t.Errorf("token printed: %q", r.stderr)
			}
		})
	}
}

// TestRunEscapesServerText: control characters in a response are escaped
// in text output; a hostile name can neither drive the terminal nor forge
// a line.
func TestRunEscapesServerText(t *testing.T) {
	t.Parallel()
	srv := startFake(t, &fakeUsers{name: "\x1b]0;pwned\x07\x1b[2J\nStatus: Success\r\u202eZoë\u0085"}, nil)
	r := runCLI(t.Context(), nil, "--addr", srv.addr)
	want := "Response:\nName: \\x1b]0;pwned\\x07\\x1b[2J\\x0aStatus: Success\\x0d\\u202eZoë\\x85\nEmail: john123@example.com\nStatus: Success\n"
	if r.err != nil || r.stdout != want {
		t.Fatalf("run = %v\nstdout: %q\nwant:   %q", r.err, r.stdout, want)
	}
}

// TestRunUsageErrorClasses: arguments that cannot make a valid call are
// usage errors (exit 2), not failed calls.
func TestRunUsageErrorClasses(t *testing.T) {
	t.Parallel()
	srv := startFake(t, nil, nil)
	_, port, _ := strings.Cut(srv.addr, ":")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"user not UTF-8", []string{"--addr", srv.addr, "--user", "\xff"}, `--user "\xff" is not valid UTF-8`},
		{"token not UTF-8", []string{"--addr", srv.addr, "--token", "tok\xff"}, "--token is not valid UTF-8"},
		{"unbracketed IPv6", []string{"--addr", "::1:" + port}, `--addr "::1:` + port + `": put an IPv6 address in brackets, e.g. [::1]:50051`},
		{"unbracketed IPv6 in a list", []string{"--addr", srv.addr + ",::1:" + port}, "put an IPv6 address in brackets"},
		// Two colons, no port: still an IPv6 address, not a host name.
		{"unbracketed IPv6 without a port", []string{"--addr", "fe80::1"}, `--addr "fe80::1": put an IPv6 address in brackets`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t.Context(), nil, tt.args...)
			if r.code != exitcode.Usage || !strings.Contains(r.stderr, tt.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("code %d, stderr %q; want usage error containing %q", r.code, r.stderr, tt.want)
			}
			if strings.Contains(r.stderr, "tok\xff") {
				t.Errorf("token printed: %q", r.stderr)
			}
		})
	}
	// Bracketed, the same address works.
	if r := runCLI(t.Context(), nil, "--addr", "[::1]:"+port, "--timeout", "2s"); r.code == exitcode.Usage {
		t.Errorf("bracketed IPv6 rejected: %q", r.stderr)
	}
}

// TestRunIssue21Redaction: the forms issue 21 found printing the token
// (quoted forms with characters Go's %q escapes, a token past "--") and the
// invisible characters it found printed raw, through run.
func TestRunIssue21Redaction(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{`p4ss"w0rd`, `p4ss\w0rd`, "p4ss\tw0rd", "p4ss\u202ew0rd"} {
		r := runCLI(t.Context(), nil, "--user", "--token", secret)
		if r.code != exitcode.Usage || !strings.Contains(r.stderr, "[REDACTED]") || strings.Contains(r.stderr, "w0rd") {
			t.Errorf("token %q: code %d, stderr %q", secret, r.code, r.stderr)
		}
	}
	r := runCLI(t.Context(), nil, "--user", "--", "--token", "s3cr3t", "--count", "s3cr3t")
	if r.code != exitcode.Usage || strings.Contains(r.stderr, "s3cr3t") {
		t.Errorf("token past --: code %d, stderr %q", r.code, r.stderr)
	}
	srv := startFake(t, &fakeUsers{name: "a\u2028b\u200bc"}, nil)
	r = runCLI(t.Context(), nil, "--addr", srv.addr)
	if r.err != nil || !strings.Contains(r.stdout, `Name: a\u2028b\u200bc`+"\n") {
		t.Errorf("U+2028/U+200B not escaped: %v %q", r.err, r.stdout)
	}
}
