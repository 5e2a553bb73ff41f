package gates

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/acme/user-service/tools/internal/testrepo"
)

// The seeded defects append to the contract rather than edit it, so a
// change to the real contract cannot stop them applying.
const (
	undocumentedMessage = "\nmessage GateProbeUndocumented {}\n"
	camelCaseField      = "\n// GateProbe is documented.\nmessage GateProbe {\n  // Documented.\n  string camelCase = 1;\n}\n"
	misIndented         = "\n// GateProbe is documented.\nmessage GateProbe {\n      // Documented.\n      string snake_case = 1;\n}\n"
	wellFormedMessage   = "\n// GateProbe is documented.\nmessage GateProbe {\n  // Documented.\n  string snake_case = 1;\n}\n"
)

// contract returns the path of the contract's first proto file and of
// what protoc-gen-go generates from it (paths=source_relative), relative to
// the repository root.
func contract(t *testing.T, repo string) (proto, pbGo string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repo, "proto", "*", "*", "*.proto"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no proto file under proto/*/*/ (%v)", err)
	}
	slices.Sort(files)
	proto, err = filepath.Rel(repo, files[0])
	if err != nil {
		t.Fatal(err)
	}
	proto = filepath.ToSlash(proto)
	pbGo = "gen/go/" + strings.TrimSuffix(strings.TrimPrefix(proto, "proto/"), ".proto") + ".pb.go"
	return proto, pbGo
}

func appendTo(t *testing.T, repo, rel, text string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(repo, rel), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkFails asserts that the gate failed and said each of want.
func checkFails(t *testing.T, gate, out string, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s passed on the seeded defect:\n%s", gate, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s output does not say %q:\n%s", gate, w, out)
		}
	}
}

// `make lint`: buf lint (STANDARD+COMMENTS), buf format, go vet, gofmt,
// go mod tidy -diff on every module, actionlint.
func TestLint(t *testing.T) {
	t.Parallel()
	root := testrepo.Root(t)
	tests := []struct {
		name string
		// seed plants the defect and returns what the output must say.
		seed func(t *testing.T, repo string) []string
	}{
		{
			name: "untouched copy",
			seed: func(*testing.T, string) []string { return nil },
		},
		{
			name: "message without a doc comment",
			seed: func(t *testing.T, repo string) []string {
				proto, _ := contract(t, repo)
				appendTo(t, repo, proto, undocumentedMessage)
				return []string{proto + ":", `Message "GateProbeUndocumented" should have a non-empty comment`}
			},
		},
		{
			name: "camelCase field",
			seed: func(t *testing.T, repo string) []string {
				proto, _ := contract(t, repo)
				appendTo(t, repo, proto, camelCaseField)
				return []string{proto + ":", `Field name "camelCase" should be lower_snake_case`}
			},
		},
		{
			name: "mis-indented proto",
			seed: func(t *testing.T, repo string) []string {
				proto, _ := contract(t, repo)
				appendTo(t, repo, proto, misIndented)
				return []string{"+++ " + proto, "-      string snake_case = 1;", "run 'make format'"}
			},
		},
		{
			name: "unused requirement",
			seed: func(t *testing.T, repo string) []string {
				mod := unusedRequirement(t, repo, "services/user-client")
				return []string{"services/user-client: go.mod is not tidy", "-require " + mod}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := testrepo.New(t, root)
			want := tt.seed(t, repo)
			// Offline: make test's go-mod-deps fetched what go mod tidy needs.
			out, err := testrepo.Make(t, repo, []string{"GOPROXY=off"}, "lint")
			if want == nil {
				if err != nil {
					t.Fatalf("make lint failed on the untouched copy: %v\n%s", err, out)
				}
				return
			}
			checkFails(t, "make lint", out, err, want)
		})
	}
}

// unusedRequirement adds to the module in dir a requirement it does not
// use: a module its go.sum already lists (so builds still work offline)
// that its go.mod does not require. It returns "path version".
func unusedRequirement(t *testing.T, repo, dir string) string {
	t.Helper()
	goMod, err := os.ReadFile(filepath.Join(repo, dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goSum, err := os.ReadFile(filepath.Join(repo, dir, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(goSum)) {
		f := strings.Fields(line)
		if len(f) != 3 || strings.HasSuffix(f[1], "/go.mod") || strings.Contains(string(goMod), f[0]+" ") {
			continue
		}
		mod := f[0] + " " + f[1]
		appendTo(t, repo, dir+"/go.mod", "\nrequire "+mod+" // indirect\n")
		return mod
	}
	t.Fatalf("%s/go.sum lists no module that go.mod does not require: update this test", dir)
	return ""
}

// `make check-generated`: gen/ must be exactly what buf generates from the
// committed proto/, and docs/flags.md what the binaries' --help prints
// (tools/flagdoc). Both paths go through one check, so the uncommitted
// case shown for gen/ holds for docs/flags.md too.
func TestCheckGenerated(t *testing.T) {
	t.Parallel()
	root := testrepo.Root(t)
	const (
		outOfDate = "gen/ is out of date with proto/: run 'make generate' and commit the result"
		reference = "docs/flags.md"
		// A flag's usage as config.go defines it, and an edit of it.
		flagsOutOfDate = "docs/flags.md is out of date with the binaries' flags: run 'make generate' and commit the result"
		usageFile      = "services/user-server/internal/config/config.go"
		usage          = "`host:port` to listen on;"
		edited         = "`host:port` to listen on (gate probe);"
	)
	tests := []struct {
		name string
		seed func(t *testing.T, repo string) []string
		// notWant: what the output must not say.
		notWant string
	}{
		{
			name: "untouched copy",
			seed: func(*testing.T, string) []string { return nil },
		},
		{
			name: "hand-edited generated file",
			seed: func(t *testing.T, repo string) []string {
				_, pbGo := contract(t, repo)
				appendTo(t, repo, pbGo, "\n// edited by hand\n")
				testrepo.Git(t, repo, "commit", "-q", "-am", "hand edit")
				return []string{pbGo, outOfDate}
			},
		},
		{
			name: "proto edit committed without regenerating",
			seed: func(t *testing.T, repo string) []string {
				proto, pbGo := contract(t, repo)
				appendTo(t, repo, proto, wellFormedMessage)
				testrepo.Git(t, repo, "commit", "-q", "-am", "proto only")
				return []string{pbGo, outOfDate}
			},
		},
		{
			name: "regenerated but not committed",
			seed: func(t *testing.T, repo string) []string {
				proto, pbGo := contract(t, repo)
				appendTo(t, repo, proto, wellFormedMessage)
				testrepo.Git(t, repo, "commit", "-q", "-am", "proto only")
				if out, err := testrepo.Make(t, repo, nil, "generate"); err != nil {
					t.Fatalf("make generate: %v\n%s", err, out)
				}
				return []string{pbGo, "commit gen/"}
			},
			notWant: "run 'make generate'",
		},
		{
			// The OpenAPI document: a route edited without regenerating.
			name: "REST route edited without regenerating the OpenAPI document",
			seed: func(t *testing.T, repo string) []string {
				testrepo.Edit(t, repo, "proto/user/v1/user.proto", `get: "/v1/users/{user_id}"`, `get: "/v1/people/{user_id}"`)
				testrepo.Git(t, repo, "commit", "-q", "-am", "route only")
				return []string{"gen/openapi/openapi.yaml", outOfDate}
			},
		},
		{
			name: "stale flag reference committed",
			seed: func(t *testing.T, repo string) []string {
				appendTo(t, repo, reference, "\n| `--gate-probe` | a flag no binary has |\n")
				testrepo.Git(t, repo, "commit", "-q", "-am", "hand edit")
				return []string{reference, flagsOutOfDate}
			},
		},
		{
			name: "flag changed without regenerating the reference",
			seed: func(t *testing.T, repo string) []string {
				testrepo.Edit(t, repo, usageFile, usage, edited)
				testrepo.Git(t, repo, "commit", "-q", "-am", "usage only")
				return []string{reference, flagsOutOfDate}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := testrepo.New(t, root)
			want := tt.seed(t, repo)
			out, err := testrepo.Make(t, repo, nil, "check-generated")
			if want == nil {
				if err != nil {
					t.Fatalf("make check-generated failed on the untouched copy: %v\n%s", err, out)
				}
				return
			}
			checkFails(t, "make check-generated", out, err, want)
			if tt.notWant != "" && strings.Contains(out, tt.notWant) {
				t.Errorf("output says %q:\n%s", tt.notWant, out)
			}
		})
	}
}

// `make check-versions`: a workspace that changes what a service links.
// The seeded drift replaces, in go.work, the genproto rpc module the
// services link with a local copy of it (one file changed): the services'
// own dependency, from the module cache their builds have already filled,
// so the test needs no other module version and no network (GOPROXY=off).
// The caller's GOWORK=off must not hide it. The check's own tests seed
// version drifts on a workspace of their own.
func TestCheckVersions(t *testing.T) {
	t.Parallel()
	root := testrepo.Root(t)
	const rpc = "google.golang.org/genproto/googleapis/rpc"
	env := []string{"GOWORK=off", "GOPROXY=off", "GOFLAGS=-mod=readonly"}
	for _, drift := range []bool{false, true} {
		name := "untouched copy"
		if drift {
			name = "local replace in go.work"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			repo := testrepo.Copy(t, root)
			if drift {
				src := moduleDir(t, filepath.Join(repo, "services/user-client"), env, rpc)
				if err := os.CopyFS(filepath.Join(repo, "drift/rpc"), os.DirFS(src)); err != nil {
					t.Fatal(err)
				}
				appendTo(t, repo, "drift/rpc/go.mod", "\n// Changed: the workspace's copy is not the released module.\n")
				appendTo(t, repo, "go.work", "\nreplace "+rpc+" => ./drift/rpc\n")
			}
			out, err := testrepo.Make(t, repo, env, "check-versions")
			if !drift {
				if err != nil {
					t.Fatalf("make check-versions failed on the untouched copy: %v\n%s", err, out)
				}
				return
			}
			checkFails(t, "make check-versions", out, err, []string{
				"services/user-client: workspace and standalone builds link different modules",
				rpc + ": local in the workspace, v",
			})
		})
	}
}

// moduleDir returns the directory of module path in the build of the module
// in dir (standalone), from the module cache.
func moduleDir(t *testing.T, dir string, env []string, path string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "list", "-m", "-f", "{{.Dir}}", path)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m %s in %s: %v", path, dir, err)
	}
	d := strings.TrimSpace(string(out))
	if d == "" {
		t.Fatalf("go list -m %s: the module is not in the module cache (run go test work first)", path)
	}
	return d
}

// `make release-schema`: only a new, greater vX.Y.Z, only on main, only
// from a clean tree; it records HEAD and tags it schema/VERSION.
func TestReleaseSchema(t *testing.T) {
	t.Parallel()
	repo := testrepo.New(t, testrepo.Root(t))
	// The copy's history does not hold the real release commit: record
	// this repository's first commit as v1.9.0.
	released := strings.TrimSpace(testrepo.Git(t, repo, "rev-parse", "HEAD"))
	writeFile(t, repo, "SCHEMA_RELEASE", "version: v1.9.0\ncommit: "+released+"\n")
	testrepo.Git(t, repo, "commit", "-q", "-am", "record v1.9.0")
	testrepo.Git(t, repo, "tag", "-a", "schema/v2.0.0", "-m", "a release SCHEMA_RELEASE does not know of")

	refusals := []struct {
		version, want string
		setup         func(t *testing.T)
	}{
		{version: "", want: "usage: make release-schema VERSION=vX.Y.Z"},
		{version: "1.10.0", want: "VERSION 1.10.0 is not vMAJOR.MINOR.PATCH"},
		{version: "v1.10", want: "VERSION v1.10 is not vMAJOR.MINOR.PATCH"},
		{version: "v1.10.0-rc.1", want: "is not vMAJOR.MINOR.PATCH"},
		{version: "v1.9.0", want: "SCHEMA_RELEASE already records v1.9.0"},
		{version: "v1.8.12", want: "VERSION v1.8.12 is not greater than the recorded release v1.9.0"},
		{version: "v2.0.0", want: "tag schema/v2.0.0 already exists"},
		{version: "v1.10.0", want: "the work tree is not clean", setup: func(t *testing.T) {
			appendTo(t, repo, "README.md", "\nuncommitted\n")
		}},
		{version: "v1.10.0", want: "run it on main (HEAD is on feature)", setup: func(t *testing.T) {
			testrepo.Git(t, repo, "checkout", "-q", "-b", "feature")
		}},
	}
	// In order, on one repository: each refusal must leave it as it was.
	head := testrepo.Git(t, repo, "rev-parse", "HEAD")
	for _, r := range refusals {
		if r.setup != nil {
			r.setup(t)
		}
		out, err := testrepo.Make(t, repo, nil, "release-schema", "VERSION="+r.version)
		checkFails(t, "make release-schema VERSION="+r.version, out, err, []string{r.want})
		if got := testrepo.Git(t, repo, "rev-parse", "HEAD"); got != head {
			t.Fatalf("a refused release committed:\n%s", out)
		}
		testrepo.Git(t, repo, "checkout", "-q", "-f", "main")
	}

	// v1.10.0 is greater than v1.9.0 (versions compare numerically).
	out, err := testrepo.Make(t, repo, nil, "release-schema", "VERSION=v1.10.0")
	if err != nil {
		t.Fatalf("make release-schema VERSION=v1.10.0: %v\n%s", err, out)
	}
	recorded := strings.TrimSpace(head)
	data, err := os.ReadFile(filepath.Join(repo, "SCHEMA_RELEASE"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "version: v1.10.0\ncommit: "+recorded+"\n") {
		t.Errorf("SCHEMA_RELEASE does not record v1.10.0 at %s:\n%s", recorded, data)
	}
	if typ := strings.TrimSpace(testrepo.Git(t, repo, "cat-file", "-t", "schema/v1.10.0")); typ != "tag" {
		t.Errorf("schema/v1.10.0 is a %s, want an annotated tag", typ)
	}
	if got := strings.TrimSpace(testrepo.Git(t, repo, "rev-parse", "schema/v1.10.0^{commit}")); got != recorded {
		t.Errorf("schema/v1.10.0 points at %s, want the released commit %s", got, recorded)
	}
	if msg := testrepo.Git(t, repo, "log", "-1", "--format=%s"); strings.TrimSpace(msg) != "Release schema v1.10.0" {
		t.Errorf("last commit %q, want the release commit", msg)
	}
	// And the same version cannot be released twice.
	out, err = testrepo.Make(t, repo, nil, "release-schema", "VERSION=v1.10.0")
	checkFails(t, "a second make release-schema VERSION=v1.10.0", out, err, []string{"already"})
}

func writeFile(t *testing.T, repo, rel, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(repo, rel), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
