package breaking

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acme/user-service/tools/internal/testrepo"
)

// The gate's tests edit a fixture contract of their own
// (testdata/proto/user/v1/user.proto, copied over proto/ in each scratch
// repository), so a change to the real contract never breaks them.
// TestRealContractAgainstRelease runs the gate on the real contract.
const (
	protoFile = "proto/user/v1/user.proto"
	fixture   = "testdata/proto"
)

// edit rewrites the schema: every old string must occur, so an edit that
// silently stops applying (after a schema change) fails the test instead of
// passing as "safe".
type edit struct {
	old, new string
}

func TestBreakingGate(t *testing.T) {
	t.Parallel()
	root := testrepo.Root(t)
	tests := []struct {
		name  string
		edits []edit
		// rules buf must name; none means the change must pass the gate.
		rules []string
	}{
		{
			name:  "delete a field",
			edits: []edit{{"  string email = 2;\n", ""}},
			rules: []string{"FIELD_NO_DELETE"},
		},
		{
			name:  "change a field number",
			edits: []edit{{"string name = 1;", "string name = 4;"}},
			rules: []string{"FIELD_NO_DELETE"},
		},
		{
			name:  "change a field type",
			edits: []edit{{"string status = 3;", "int32 status = 3;"}},
			rules: []string{"FIELD_SAME_TYPE"},
		},
		{
			name:  "rename a field",
			edits: []edit{{"string name = 1;", "string full_name = 1;"}},
			rules: []string{"FIELD_SAME_NAME", "FIELD_SAME_JSON_NAME"},
		},
		{
			name: "delete the rpc",
			edits: []edit{{
				"  rpc GetUserDetails(GetUserDetailsRequest) returns (GetUserDetailsResponse) {\n    option idempotency_level = NO_SIDE_EFFECTS;\n  }\n",
				"",
			}},
			rules: []string{"RPC_NO_DELETE"},
		},
		{
			name:  "rename a message",
			edits: []edit{{"GetUserDetailsResponse", "UserDetails"}},
			rules: []string{"MESSAGE_NO_DELETE", "RPC_SAME_RESPONSE_TYPE"},
		},
		{
			name:  "change the package",
			edits: []edit{{"package user.v1;", "package user.v2;"}},
			rules: []string{"FILE_SAME_PACKAGE"},
		},
		{
			name:  "add a field",
			edits: []edit{{"  string status = 3;\n", "  string status = 3;\n\n  // The user's phone number.\n  string phone = 4;\n"}},
		},
		{
			name: "add an rpc",
			edits: []edit{
				{"service UserService {\n", "service UserService {\n  // CountUsers returns how many users exist.\n  rpc CountUsers(CountUsersRequest) returns (CountUsersResponse) {}\n\n"},
				{"// GetUserDetailsResponse is", "// CountUsersRequest is empty.\nmessage CountUsersRequest {}\n\n// CountUsersResponse carries the count.\nmessage CountUsersResponse {\n  // The number of users.\n  int64 count = 1;\n}\n\n// GetUserDetailsResponse is"},
			},
		},
		{
			name:  "edit a comment",
			edits: []edit{{"// The id of the user to look up", "// The identifier of the user to look up"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, root)
			// A pull request: a branch off main carrying the edit. The
			// default baseline (where HEAD left main) must judge it.
			testrepo.Git(t, repo, "checkout", "-q", "-b", "change")
			applyEdits(t, repo, tt.edits)
			testrepo.Git(t, repo, "commit", "-q", "-am", tt.name)

			out, err := testrepo.Make(t, repo, nil, "breaking")
			checkGate(t, out, err, tt.rules)
		})
	}
}

// On main, CI compares against the recorded release, so a breaking edit in
// an earlier commit of a multi-commit change is still caught.
func TestBreakingReleaseCatchesOlderCommits(t *testing.T) {
	t.Parallel()
	repo := newRepo(t, testrepo.Root(t))
	release := strings.TrimSpace(testrepo.Git(t, repo, "rev-parse", "HEAD"))
	writeRelease(t, repo, release)
	testrepo.Git(t, repo, "commit", "-q", "-am", "record release")

	out, err := testrepo.Make(t, repo, nil, "breaking-release")
	checkGate(t, out, err, nil)

	applyEdits(t, repo, []edit{{"  string email = 2;\n", ""}})
	testrepo.Git(t, repo, "commit", "-q", "-am", "breaking: drop email")
	applyEdits(t, repo, []edit{{"// The id of the user to look up", "// The identifier of the user to look up"}})
	testrepo.Git(t, repo, "commit", "-q", "-am", "harmless comment edit")

	// The newest commit alone is harmless...
	out, err = testrepo.Make(t, repo, nil, "breaking", "BUF_BREAKING_AGAINST=.git#ref=HEAD~1")
	checkGate(t, out, err, nil)
	// ...but against the release the deleted field is found.
	out, err = testrepo.Make(t, repo, nil, "breaking-release")
	checkGate(t, out, err, []string{"FIELD_NO_DELETE"})
}

func TestBreakingReleaseNeedsTheReleaseCommit(t *testing.T) {
	t.Parallel()
	repo := newRepo(t, testrepo.Root(t))
	writeRelease(t, repo, "0123456789abcdef0123456789abcdef01234567")
	out, err := testrepo.Make(t, repo, nil, "breaking-release")
	if err == nil {
		t.Fatalf("breaking-release passed with a release commit missing from the clone:\n%s", out)
	}
	if !strings.Contains(out, "is not in this clone") {
		t.Errorf("output does not explain the missing release commit:\n%s", out)
	}
}

func checkGate(t *testing.T, out string, err error, rules []string) {
	t.Helper()
	if len(rules) == 0 {
		if err != nil {
			t.Fatalf("gate failed on a safe change: %v\n%s", err, out)
		}
		return
	}
	if err == nil {
		t.Fatalf("gate passed a breaking change (want %v):\n%s", rules, out)
	}
	for _, r := range rules {
		if !strings.Contains(out, r) {
			t.Errorf("gate output does not name %s:\n%s", r, out)
		}
	}
}

// newRepo makes a scratch git repository from the working tree, with the
// fixture contract in place of proto/, committed on branch main.
func newRepo(t *testing.T, root string) string {
	t.Helper()
	repo := testrepo.Copy(t, root)
	if err := os.RemoveAll(filepath.Join(repo, "proto")); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(repo, "proto"), os.DirFS(fixture)); err != nil {
		t.Fatal(err)
	}
	testrepo.Git(t, repo, "init", "-q", "-b", "main")
	testrepo.Git(t, repo, "add", "-A")
	testrepo.Git(t, repo, "commit", "-q", "-m", "baseline")
	return repo
}

func applyEdits(t *testing.T, repo string, edits []edit) {
	t.Helper()
	path := filepath.Join(repo, protoFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, e := range edits {
		if !strings.Contains(s, e.old) {
			t.Fatalf("%s no longer contains %q: update this test's edits", protoFile, e.old)
		}
		s = strings.ReplaceAll(s, e.old, e.new)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeRelease(t *testing.T, repo, commit string) {
	t.Helper()
	content := "version: v0.0.0-test\ncommit: " + commit + "\n"
	if err := os.WriteFile(filepath.Join(repo, "SCHEMA_RELEASE"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	testrepo.Git(t, repo, "add", "SCHEMA_RELEASE")
}

// The gate on the real contract: proto/ (the working tree, uncommitted
// edits included) against the release recorded in SCHEMA_RELEASE. The
// repository is only read.
func TestRealContractAgainstRelease(t *testing.T) {
	t.Parallel()
	out, err := testrepo.Make(t, testrepo.Root(t), nil, "breaking-release")
	checkGate(t, out, err, nil)
}

// Without a baseline the gate fails and says what to fetch; it never falls
// back to comparing HEAD with itself. Only BUF_BREAKING_AGAINST chooses
// another baseline.
func TestBreakingNeedsABaseline(t *testing.T) {
	t.Parallel()
	root := testrepo.Root(t)
	// A pull request deleting a field, on branch change off main.
	pr := newRepo(t, root)
	testrepo.Git(t, pr, "checkout", "-q", "-b", "change")
	applyEdits(t, pr, []edit{{"  string email = 2;\n", ""}})
	testrepo.Git(t, pr, "commit", "-q", "-am", "breaking: drop email")

	const fetchAdvice = "git fetch origin main:refs/remotes/origin/main"
	tests := []struct {
		name string
		// clone makes the repository to run the gate in.
		clone   func(t *testing.T) string
		env     []string
		wantErr bool
		// The output must contain each of want, and name each of rules
		// (buf's, once the gate found its baseline).
		want, rules []string
	}{
		{
			name: "full clone",
			clone: func(t *testing.T) string {
				return clone(t, pr, "-b", "change")
			},
			wantErr: true,
			rules:   []string{"FIELD_NO_DELETE"},
		},
		{
			name: "shallow single-branch clone",
			clone: func(t *testing.T) string {
				return clone(t, pr, "--depth", "1", "--single-branch", "-b", "change")
			},
			wantErr: true,
			want:    []string{"no baseline", fetchAdvice, "--unshallow"},
		},
		{
			name: "single-branch clone, base branch fetched as advised",
			clone: func(t *testing.T) string {
				c := clone(t, pr, "--depth", "1", "--single-branch", "-b", "change")
				testrepo.Git(t, c, "fetch", "-q", "--unshallow", "origin", "main:refs/remotes/origin/main")
				return c
			},
			wantErr: true,
			rules:   []string{"FIELD_NO_DELETE"},
		},
		{
			name: "shallow clone without the merge-base",
			clone: func(t *testing.T) string {
				c := clone(t, pr, "--depth", "1", "--single-branch", "-b", "change")
				testrepo.Git(t, c, "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
				return c
			},
			wantErr: true,
			want:    []string{"no baseline", "no common commit", "git fetch --unshallow origin"},
		},
		{
			name: "remote not named origin",
			clone: func(t *testing.T) string {
				return clone(t, pr, "-o", "upstream", "-b", "change")
			},
			wantErr: true,
			want:    []string{"no baseline", "remote not named origin"},
		},
		{
			name: "remote not named origin, named to the gate",
			clone: func(t *testing.T) string {
				return clone(t, pr, "-o", "upstream", "-b", "change")
			},
			env:     []string{"BREAKING_BASE_REMOTE=upstream"},
			wantErr: true,
			rules:   []string{"FIELD_NO_DELETE"},
		},
		{
			name: "explicit baseline in a clone without main",
			clone: func(t *testing.T) string {
				return clone(t, pr, "--depth", "1", "--single-branch", "-b", "change")
			},
			env:  []string{"BUF_BREAKING_AGAINST=.git#ref=HEAD"},
			want: []string{"--against '.git#ref=HEAD,subdir=proto'"}, // the contract module of the named baseline
		},
		{
			// On main the merge-base is HEAD: the gate judges the
			// uncommitted edits (here a deleted field).
			name: "on main, uncommitted breaking edit",
			clone: func(t *testing.T) string {
				c := clone(t, pr, "-b", "main")
				applyEdits(t, c, []edit{{"  string email = 2;\n", ""}})
				return c
			},
			wantErr: true,
			rules:   []string{"FIELD_NO_DELETE"},
		},
		{
			name: "on main, nothing changed",
			clone: func(t *testing.T) string {
				return clone(t, pr, "-b", "main")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := testrepo.Make(t, tt.clone(t), tt.env, "breaking")
			if tt.wantErr != (err != nil) {
				t.Fatalf("make breaking: error %v, want an error: %v\n%s", err, tt.wantErr, out)
			}
			for _, w := range append(tt.want, tt.rules...) {
				if !strings.Contains(out, w) {
					t.Errorf("output does not say %q:\n%s", w, out)
				}
			}
		})
	}
}

// clone clones repo (file://, so --depth applies) with the given git clone
// flags and links bin/ to the repository's tools.
func clone(t *testing.T, repo string, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	testrepo.Git(t, t.TempDir(), append(append([]string{"clone", "-q"}, args...), "file://"+repo, dir)...)
	if _, err := os.Lstat(filepath.Join(dir, "bin")); os.IsNotExist(err) {
		if err := os.Symlink(filepath.Join(testrepo.Root(t), "bin"), filepath.Join(dir, "bin")); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
