package redact

import "testing"

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"quoted", []string{"s3cr3t-tok"}, `unexpected argument "s3cr3t-tok"`, `unexpected argument "[REDACTED]"`},
		{"flag value", []string{"s3cr3t-tok"}, `invalid value "s3cr3t-tok" for flag -count: parse error`, `invalid value "[REDACTED]" for flag -count: parse error`},
		{"whole text", []string{"abc"}, "abc", Mask},
		{"after =", []string{"abc"}, "token=abc; next", "token=[REDACTED]; next"},
		{"every occurrence", []string{"abc"}, "abc abc", "[REDACTED] [REDACTED]"},
		{"short secret inside words", []string{"e"}, "error: NotFound: user not found", "error: NotFound: user not found"},
		{"short secret alone", []string{"e"}, `error: token "e" rejected`, `error: token "[REDACTED]" rejected`},
		{"inside a word", []string{"tok"}, "tokens", "tokens"},
		{"longest first", []string{"ab", "abcd"}, "abcd ab", "[REDACTED] [REDACTED]"},
		// Masking "tok" first would leave "my " of the longer secret.
		{"a secret holding another", []string{"tok", "my tok"}, "x my tok", "x [REDACTED]"},
		// Overlapping secrets of one length: the one given first wins.
		{"ties in the order given", []string{"a b", "b c"}, "a b c", "[REDACTED] c"},
		{"ties in the order given, swapped", []string{"b c", "a b"}, "a b c", "a [REDACTED]"},
		{"quoted form", []string{`p4ss"w0rd`}, `unexpected argument "p4ss\"w0rd"`, `unexpected argument "[REDACTED]"`},
		{"quoted form of a tab", []string{"a\tb"}, `got "a\tb"`, `got "[REDACTED]"`},
		{"next to punctuation", []string{"abc"}, "x.abc/abc. abc-abc_abc!", "x.[REDACTED]/[REDACTED]. [REDACTED]-[REDACTED]_[REDACTED]!"},
		{"glued to letters or digits", []string{"abc"}, "xabc abc9 abcé éabc", "xabc abc9 abcé éabc"},
		// The byte before "abc" in "à" is 0xa0, which as a rune would be a
		// space: whole runes decide.
		{"after a multi-byte letter", []string{"abc"}, "àabc", "àabc"},
		{"none", nil, "abc", "abc"},
		{"empty secret ignored", []string{""}, "abc", "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := New(tt.secrets...).Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
