package directory

import (
	"encoding/json"
	"os"
	"testing"
)

// EmailCases are the shared cases of the email rule (testdata/email_cases.json).
type EmailCases struct {
	Valid   []string `json:"valid"`
	Invalid []string `json:"invalid"`
}

func TestCheckEmail(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/email_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var c EmailCases
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for _, s := range c.Valid {
		if err := CheckEmail(s); err != nil {
			t.Errorf("CheckEmail(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range c.Invalid {
		if err := CheckEmail(s); err == nil {
			t.Errorf("CheckEmail(%q) = nil, want an error", s)
		}
	}
}
