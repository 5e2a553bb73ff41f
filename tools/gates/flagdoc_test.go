package gates

import (
	"strings"
	"testing"

	"github.com/acme/user-service/tools/internal/testrepo"
)

// `make check-generated`, its second half: docs/flags.md must be exactly
// what the binaries' --help prints (tools/flagdoc). The untouched copy is
// TestCheckGenerated's.
func TestCheckGeneratedFlagReference(t *testing.T) {
	t.Parallel()
	root := testrepo.Root(t)
	const (
		reference = "docs/flags.md"
		outOfDate = "docs/flags.md is out of date with the binaries' flags: run 'make generate' and commit the result"
		// A flag's usage as config.go defines it, and an edit of it.
		usageFile = "services/user-server/internal/config/config.go"
		usage     = "`host:port` to listen on;"
		edited    = "`host:port` to listen on (gate probe);"
	)
	tests := []struct {
		name    string
		seed    func(t *testing.T, repo string) []string
		notWant string
	}{
		{
			name: "stale reference committed",
			seed: func(t *testing.T, repo string) []string {
				appendTo(t, repo, reference, "\n| `--gate-probe` | a flag no binary has |\n")
				testrepo.Git(t, repo, "commit", "-q", "-am", "hand edit")
				return []string{reference, "-| `--gate-probe` |", outOfDate}
			},
		},
		{
			name: "flag changed without regenerating",
			seed: func(t *testing.T, repo string) []string {
				testrepo.Edit(t, repo, usageFile, usage, edited)
				testrepo.Git(t, repo, "commit", "-q", "-am", "usage only")
				return []string{reference, "+    \thost:port to listen on (gate probe);", outOfDate}
			},
		},
		{
			name: "regenerated but not committed",
			seed: func(t *testing.T, repo string) []string {
				testrepo.Edit(t, repo, usageFile, usage, edited)
				testrepo.Git(t, repo, "commit", "-q", "-am", "usage only")
				if out, err := testrepo.Make(t, repo, nil, "generate"); err != nil {
					t.Fatalf("make generate: %v\n%s", err, out)
				}
				return []string{reference, "commit docs/flags.md"}
			},
			notWant: "run 'make generate'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := testrepo.New(t, root)
			want := tt.seed(t, repo)
			out, err := testrepo.Make(t, repo, nil, "check-generated")
			checkFails(t, "make check-generated", out, err, want)
			if tt.notWant != "" && strings.Contains(out, tt.notWant) {
				t.Errorf("output says %q:\n%s", tt.notWant, out)
			}
		})
	}
}
