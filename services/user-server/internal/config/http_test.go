package config

import (
	"slices"
	"strings"
	"testing"
)

func TestHTTPFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		origins []string
		err     string
	}{
		{args: nil},
		{args: []string{"--http-listen", "127.0.0.1:0"}},
		{args: []string{"--http-listen", "127.0.0.1:0", "--http-cors-origins", "https://a.example.com, http://localhost:8080/"}, origins: []string{"https://a.example.com", "http://localhost:8080"}},
		{args: []string{"--http-listen", "nope"}, err: "--http-listen"},
		{args: []string{"--http-listen", "127.0.0.1:0", "--http-cors-origins", "*"}, err: "is not an origin"},
		{args: []string{"--http-listen", "127.0.0.1:0", "--http-cors-origins", "https://a.example.com/path"}, err: "is not an origin"},
		{args: []string{"--http-cors-origins", "https://a.example.com"}, err: "needs --http-listen"},
	} {
		c, err := Parse(tc.args, func(string) string { return "" }, nil)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: err %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
		} else if !slices.Equal(c.HTTP.CORSOrigins, tc.origins) {
			t.Errorf("%v: origins %q, want %q", tc.args, c.HTTP.CORSOrigins, tc.origins)
		}
	}
}
