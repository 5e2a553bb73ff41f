package breaking

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const protoFile = "proto/user/v1/user.proto"

// edit rewrites the schema: every old string must occur, so an edit that
// silently stops applying (after a schema change) fails the test instead of
// passing as "safe".
type edit struct {
	old, new string
}

func TestBreakingGate(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
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
			git(t, repo, "checkout", "-q", "-b", "change")
			applyEdits(t, repo, tt.edits)
			git(t, repo, "commit", "-q", "-am", tt.name)

			out, err := runMake(t, repo, "breaking")
			checkGate(t, out, err, tt.rules)
		})
	}
}

// On main, CI compares against the recorded release, so a breaking edit in
// an earlier commit of a multi-commit change is still caught.
func TestBreakingReleaseCatchesOlderCommits(t *testing.T) {
	t.Parallel()
	repo := newRepo(t, repoRoot(t))
	release := strings.TrimSpace(git(t, repo, "rev-parse", "HEAD"))
	writeRelease(t, repo, release)
	git(t, repo, "commit", "-q", "-am", "record release")

	out, err := runMake(t, repo, "breaking-release")
	checkGate(t, out, err, nil)

	applyEdits(t, repo, []edit{{"  string email = 2;\n", ""}})
	git(t, repo, "commit", "-q", "-am", "breaking: drop email")
	applyEdits(t, repo, []edit{{"// The id of the user to look up", "// The identifier of the user to look up"}})
	git(t, repo, "commit", "-q", "-am", "harmless comment edit")

	// The newest commit alone is harmless...
	out, err = runMake(t, repo, "breaking", "BUF_BREAKING_AGAINST=.git#ref=HEAD~1")
	checkGate(t, out, err, nil)
	// ...but against the release the deleted field is found.
	out, err = runMake(t, repo, "breaking-release")
	checkGate(t, out, err, []string{"FIELD_NO_DELETE"})
}

func TestBreakingReleaseNeedsTheReleaseCommit(t *testing.T) {
	t.Parallel()
	repo := newRepo(t, repoRoot(t))
	writeRelease(t, repo, "0123456789abcdef0123456789abcdef01234567")
	out, err := runMake(t, repo, "breaking-release")
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

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "buf")); err != nil {
		t.Fatalf("bin/buf is missing: run `make tools deps` first (%v)", err)
	}
	return root
}

// newRepo makes a git repository from the working tree (tracked and
// untracked, not ignored, files; modification times kept so make sees the
// tools in bin/ as up to date) with one commit on main.
func newRepo(t *testing.T, root string) string {
	t.Helper()
	repo := t.TempDir()
	files := strings.Split(strings.TrimSpace(git(t, root, "ls-files", "-co", "--exclude-standard", "-z")), "\x00")
	for _, f := range files {
		if f == "" {
			continue
		}
		src := filepath.Join(root, f)
		info, err := os.Stat(src)
		if os.IsNotExist(err) { // deleted in the working tree
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(repo, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dst, info.ModTime(), info.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "bin"), filepath.Join(repo, "bin")); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-q", "-m", "baseline")
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
	git(t, repo, "add", "SCHEMA_RELEASE")
}

func runMake(t *testing.T, repo string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "make", append([]string{"-s"}, args...)...)
	cmd.Dir = repo
	// No origin in the test repository: the default baseline is local main.
	cmd.Env = append(os.Environ(), "MAKEFLAGS=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
