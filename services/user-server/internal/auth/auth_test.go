package auth

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDevMode(t *testing.T) {
	t.Parallel()
	a, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !a.DevMode() {
		t.Fatal("no tokens is not development mode")
	}
	for tok, want := range map[string]bool{
		DevToken: true, "": false, "valid-tokem": false, "valid-toke": false, "valid-token ": false, "VALID-TOKEN": false,
	} {
		if got := a.Allow(tok); got != want {
			t.Errorf("Allow(%q) = %v, want %v", tok, got, want)
		}
	}
}

func TestConfiguredTokens(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", MaxTokenLen)
	a, err := New([]string{"alpha-token", long})
	if err != nil {
		t.Fatal(err)
	}
	if a.DevMode() {
		t.Fatal("configured tokens reported as development mode")
	}
	for tok, want := range map[string]bool{
		"alpha-token": true, long: true, DevToken: false, "alpha-toke": false, long + "k": false, long[1:]: false, "": false,
	} {
		if got := a.Allow(tok); got != want {
			t.Errorf("Allow(%.20q...) = %v, want %v", tok, got, want)
		}
	}
	var zero Authenticator
	if zero.Allow("alpha-token") {
		t.Error("zero Authenticator accepted a token")
	}
}

func TestNewRejectsBadTokens(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"", " padded", strings.Repeat("x", MaxTokenLen+1), "bad\xffvalue", "in ner token", "ctl\x1bvalue", DevToken, "Q", "Qz7", "zero\u200bwidth", "bidi\u202etoken"} {
		if _, err := New([]string{"ok-token", tok}); err == nil || !strings.Contains(err.Error(), "token 2") {
			t.Errorf("New(%.20q) error = %v", tok, err)
		} else if tok != "" && strings.Contains(err.Error(), tok) {
			t.Errorf("error echoes the token: %v", err)
		}
	}
}

func TestParseTokens(t *testing.T) {
	t.Parallel()
	got := ParseTokens(" a1 ,b2\n\nc3\r\n,,")
	if want := []string{"a1", "b2", "c3"}; !slices.Equal(got, want) {
		t.Fatalf("ParseTokens = %q, want %q", got, want)
	}
	if got := ParseTokens(" ,\n"); len(got) != 0 {
		t.Fatalf("ParseTokens = %q, want none", got)
	}
}

func TestLoadTokensFile(t *testing.T) {
	t.Parallel()
	write := func(content string) string {
		p := filepath.Join(t.TempDir(), "tokens")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := LoadTokensFile(t.Context(), write("# comment\n\n tok-one-1 \r\ntok-two-2\n"))
	if err != nil || !slices.Equal(got, []string{"tok-one-1", "tok-two-2"}) {
		t.Fatalf("LoadTokensFile = %q, %v", got, err)
	}
	// A byte order mark is not part of the first token.
	got, err = LoadTokensFile(t.Context(), write("\uFEFFtok-bom-1\n"))
	if err != nil || !slices.Equal(got, []string{"tok-bom-1"}) {
		t.Fatalf("LoadTokensFile with a BOM = %q, %v", got, err)
	}
	tooLong := strings.Repeat("s", MaxTokenLen+1)
	for content, want := range map[string]string{
		"":                                "no tokens",
		"# only a comment\n":              "no tokens",
		"ok-token\n" + tooLong + "\n":     ":2: token longer than 512",
		"ok-token\nsecret\xffvalue\n":     ":2: token not valid UTF-8",
		"secret-tok1   # for service A\n": ":1: token holds white space (comments go on lines of their own",
		"# demo\nvalid-token\n":           ":2: token is the public demo token",
		"tok-one-1\n\uFEFFtok-bom-2\n":    ":2: token holds an invisible format character",
		"tok-one-1\ntok\u200btwo-2\n":     ":2: token holds an invisible format character",
		"tok-one-1\nk\n":                  ":2: token shorter than 8 bytes",
	} {
		p := write(content)
		_, err := LoadTokensFile(t.Context(), p)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("LoadTokensFile(%.20q) = %v, want error with %s and %q", content, err, p, want)
		} else if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), tooLong) {
			t.Errorf("error echoes a token: %v", err)
		}
	}
	if _, err := LoadTokensFile(t.Context(), filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := LoadTokensFile(t.Context(), "/dev/zero"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("/dev/zero: %v", err)
	}
}

// TestReloadFile: a good file replaces the tokens in force; a bad one
// (here: the public demo token as a configured token) leaves them, and its
// error does not echo the token.
func TestReloadFile(t *testing.T) {
	t.Parallel()
	old, err := New([]string{"old-token"})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReloadable(old)
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("new-token\nnewer-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := r.ReloadFile(t.Context(), path); err != nil || n != 2 {
		t.Fatalf("ReloadFile = %d, %v; want 2 tokens", n, err)
	}
	if r.Allow("old-token") || !r.Allow("new-token") {
		t.Fatal("the reloaded tokens are not in force")
	}
	if err := os.WriteFile(path, []byte(DevToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReloadFile(t.Context(), path); err == nil || strings.Contains(err.Error(), DevToken) {
		t.Fatalf("ReloadFile of a file holding the demo token = %v; want an error without the token", err)
	}
	if !r.Allow("new-token") || r.Allow(DevToken) {
		t.Fatal("a failed reload changed the tokens in force")
	}
}
