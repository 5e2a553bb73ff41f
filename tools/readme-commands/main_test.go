package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acme/user-service/tools/internal/testrepo"
)

const reference = "Response:\nName: John Doe\nEmail: john123@example.com\nStatus: Success\n"

func TestParse(t *testing.T) {
	t.Parallel()
	text := "# Title\n\n<!-- checked: readme-commands -->\n\n```sh\n" +
		"make demo   # the demo\n\n# a comment line\ngo run ./x \\\n  --flag   # fails on purpose (exit 4)\n```\n\n" +
		"Unchecked:\n\n```sh\nrm -rf /\n```\n\n" +
		"<!-- checked: readme-output -->\n~~~~\nResponse:\n```\n~~~~\n\n" +
		"<!-- checked: http-curl -->\n```sh\ncurl x\n```\n\n" +
		"- in a list:\n\n  <!-- checked: readme-commands needs=user-server from=root -->\n  ```\n  npm ci\n  ```\n"
	blocks, err := parse("R.md", text)
	if err != nil {
		t.Fatal(err)
	}
	want := []block{
		{file: "R.md", line: 5, kind: kindCommands, commands: []command{
			{line: 6, text: "make demo   # the demo"},
			{line: 9, text: "go run ./x \\\n  --flag   # fails on purpose (exit 4)", exit: 4},
		}},
		{file: "R.md", line: 20, kind: kindOutput, output: "Response:\n```\n"},
		{file: "R.md", line: 33, kind: kindCommands, needs: "user-server", fromRoot: true, commands: []command{{line: 34, text: "npm ci"}}},
	}
	if len(blocks) != len(want) {
		t.Fatalf("parse() = %+v, want %+v", blocks, want)
	}
	for i := range want {
		got, w := blocks[i], want[i]
		if got.file != w.file || got.line != w.line || got.kind != w.kind || got.needs != w.needs || got.fromRoot != w.fromRoot ||
			got.output != w.output || !slices.Equal(got.commands, w.commands) {
			t.Errorf("block %d = %+v, want %+v", i, got, w)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, text, want string }{
		{"no marked block", "```sh\nmake demo\n```\n", "R.md: no block marked <!-- checked: readme-commands -->"},
		{"text between marker and fence", "<!-- checked: readme-commands -->\nRun:\n```sh\nx\n```\n", "R.md:1: marker not followed by a fenced block"},
		{"marker at the end", "<!-- checked: readme-commands -->\n", "R.md:1: marker not followed by a fenced block"},
		{"two markers", "<!-- checked: readme-commands -->\n<!-- checked: readme-output -->\n```\nx\n```\n", "R.md:1: marker not followed"},
		{"unknown kind", "<!-- checked: readme-comands -->\n```\nx\n```\n", `R.md:1: unknown marker kind "readme-comands"`},
		{"unknown attribute", "<!-- checked: readme-commands needs=postgres -->\n```\nx\n```\n", `R.md:1: unknown attribute "needs=postgres"`},
		{"attribute on output", "<!-- checked: readme-output needs=user-server -->\n```\nx\n```\n", `unknown attribute "needs=user-server" for readme-output`},
		{"malformed", "<!-- checked: readme-commands, please -->\n```\nx\n```\n", "R.md:1: malformed marker"},
		{"unclosed fence", "<!-- checked: readme-commands -->\n```\nx\n", "R.md:2: fenced block never closed"},
		{"no command", "<!-- checked: readme-commands -->\n```\n# only a comment\n```\n", "R.md:2: checked block holds no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse("R.md", tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parse() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// The READMEs CI checks keep their markers around the commands CI relies
// on: a README rewrite that dropped one would leave the commands unchecked
// while the check still passed.
func TestRepositoryREADMEs(t *testing.T) {
	t.Parallel()
	read := func(name string) []block {
		t.Helper()
		data, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := parse(name, string(data))
		if err != nil {
			t.Fatal(err)
		}
		return blocks
	}
	// The quick start: make demo and make test, then the output make demo
	// prints.
	root := read("README.md")
	i := slices.IndexFunc(root, func(b block) bool { return hasCommand(b, "make demo") && hasCommand(b, "make test") })
	if i < 0 {
		t.Fatalf("README.md: no checked block runs make demo and make test: %+v", root)
	}
	if i+1 >= len(root) || root[i+1].kind != kindOutput || root[i+1].output != reference {
		t.Errorf("README.md: the block after the quick start (%+v) is not the checked reference output", root[i+1:])
	}
	// The Node client's: npm ci in its directory, and a call against a
	// running server.
	node := read("services/user-client-node/README.md")
	if !slices.ContainsFunc(node, func(b block) bool {
		return b.needs == "user-server" && hasCommand(b, "npm ci") && hasCommand(b, "npm start")
	}) {
		t.Errorf("services/user-client-node/README.md: no checked block (needs=user-server) runs npm ci and npm start: %+v", node)
	}
}

func hasCommand(b block, prefix string) bool {
	return slices.ContainsFunc(b.commands, func(c command) bool { return strings.HasPrefix(c.text, prefix) })
}

func commands(lines ...string) string {
	return "<!-- checked: readme-commands -->\n```sh\n" + strings.Join(lines, "\n") + "\n```\n"
}

func output(lines ...string) string {
	return "<!-- checked: readme-output -->\n```\n" + strings.Join(lines, "\n") + "\n```\n"
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		env   []string
		// wantErr: "" for success; wantOut: what stdout must hold.
		wantErr, wantOut, notOut string
	}{
		{
			name: "commands share a shell, from the README's directory, in file order",
			files: map[string]string{
				"A.md":      commands("x=1", "cd sub", "export Y=2"),
				"docs/B.md": commands("echo \"b:$(basename \"$PWD\"):${x:-unset}\"") + output("b:docs:unset"),
				"C.md":      commands("mkdir -p sub && cd sub && echo \"c:$(basename \"$PWD\")\""),
			},
			args:    []string{"C.md", "A.md", "docs/B.md", "C.md"},
			wantOut: "c:sub\nb:docs:unset\nc:sub\n",
		},
		{
			name:    "a failing command stops the check",
			files:   map[string]string{"A.md": commands("echo one", "false   # no exit annotation", "echo never")},
			args:    []string{"A.md"},
			wantErr: "A.md:4: false   # no exit annotation: exit status 1",
			notOut:  "never",
		},
		{
			name:    "a failure inside a pipeline",
			files:   map[string]string{"A.md": commands("false | cat")},
			args:    []string{"A.md"},
			wantErr: "A.md:3: false | cat: exit status 1",
		},
		{
			name:  "the exit status a comment promises",
			files: map[string]string{"A.md": commands("bash -c 'exit 4'   # fails (exit 4)", "echo after")},
			args:  []string{"A.md"}, wantOut: "after\n",
		},
		{
			name:    "a command that succeeds where the README says it fails",
			files:   map[string]string{"A.md": commands("true   # (exit 4)")},
			args:    []string{"A.md"},
			wantErr: "A.md:3: true   # (exit 4): exit status 125",
		},
		{
			name:    "output the commands did not print",
			files:   map[string]string{"A.md": commands("echo Response:", "echo Name: Jane") + "\nprints:\n\n" + output("Response:", "Name: John Doe")},
			args:    []string{"A.md"},
			wantErr: "A.md:10: the commands of A.md:2 did not print this block",
		},
		{
			name:    "output with no commands before it",
			files:   map[string]string{"A.md": output("x") + commands("true")},
			args:    []string{"A.md"},
			wantErr: "A.md:2: output block with no checked commands before it",
		},
		{
			name:    "the commands run as typed: no make variables, the demo on a free port",
			files:   map[string]string{"A.md": commands("echo \"[${MAKEFLAGS-unset}][${MAKELEVEL-unset}][$DEMO_ADDR]\"")},
			args:    []string{"A.md"},
			env:     []string{"MAKEFLAGS=-s", "MAKELEVEL=2"},
			wantOut: "[unset][unset][127.0.0.1:0]\n",
		},
		{
			name:    "a caller's DEMO_ADDR stays",
			files:   map[string]string{"A.md": commands("echo \"$DEMO_ADDR\"")},
			args:    []string{"A.md"},
			env:     []string{"DEMO_ADDR=127.0.0.1:7"},
			wantOut: "127.0.0.1:7\n",
		},
		{name: "no README", args: nil, wantErr: "usage: readme-commands"},
		{name: "a missing README", args: []string{"NOPE.md"}, wantErr: "NOPE.md: no such file"},
		{name: "a README with no marker", files: map[string]string{"A.md": "```sh\ntrue\n```\n"}, args: []string{"A.md"}, wantErr: "A.md: no block marked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			testrepo.WriteFiles(t, dir, tt.files)
			if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), append([]string{"-C", dir}, tt.args...), append(os.Environ(), tt.env...), &stdout, &stderr)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("run: %v\n%s%s", err, stdout.String(), stderr.String())
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("run error = %v, want one containing %q\n%s%s", err, tt.wantErr, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout %q does not hold %q", stdout.String(), tt.wantOut)
			}
			if tt.notOut != "" && strings.Contains(stdout.String(), tt.notOut) {
				t.Errorf("stdout %q holds %q", stdout.String(), tt.notOut)
			}
		})
	}
}

// needs=user-server: the block runs against a user-server built from the
// repository and started with none of the caller's USER_SERVER_* settings,
// which is gone once the check returns.
func TestRunNeedsUserServer(t *testing.T) {
	t.Parallel()
	root := testrepo.Root(t)
	dir := t.TempDir()
	testrepo.WriteFiles(t, dir, map[string]string{"R.md": "<!-- checked: readme-commands needs=user-server -->\n```sh\n" +
		"echo \"addr=$USER_CLIENT_ADDR\"\n" +
		"exec 3<>\"/dev/tcp/${USER_CLIENT_ADDR%:*}/${USER_CLIENT_ADDR##*:}\"   # something listens there\n```\n"})
	var stdout, stderr bytes.Buffer
	// A log format the server refuses: it must not reach the server.
	env := append(os.Environ(), "USER_SERVER_LOG_FORMAT=refused", "USER_CLIENT_ADDR=127.0.0.1:1")
	if err := run(t.Context(), []string{"-C", root, filepath.Join(dir, "R.md")}, env, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(stdout.String()), "addr=")
	if !ok || addr == "127.0.0.1:1" || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("the block was given USER_CLIENT_ADDR %q, want the started server's loopback address", stdout.String())
	}
	if conn, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		conn.Close()
		t.Errorf("user-server still listens on %s after the check", addr)
	}
}

// The defect the check exists for: npm ci in services/user-client-node (its
// README once said so; it now says to run it at the root), then make
// generate at the root. On a copy of this
// repository with its own node_modules (npm ci must not touch the
// repository's), once as it is and once with the Makefile's node_modules
// check reduced to what it was before tools/node-deps, a stamp file that
// the workspace's npm ci leaves in place.
func TestSubdirectoryNpmCiThenMakeGenerate(t *testing.T) {
	t.Parallel()
	root := testrepo.Root(t)
	for _, seeded := range []bool{false, true} {
		name := "this Makefile"
		if seeded {
			name = "a stamp file"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			repo := testrepo.New(t, root)
			if err := os.Remove(filepath.Join(repo, "node_modules")); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if seeded {
				testrepo.Edit(t, repo, "Makefile", "NODE_DEPS_CHECK := node tools/node-deps/node-deps.mjs",
					"NODE_DEPS_CHECK := stamp() { test -e node_modules/.package-lock.json; }; stamp")
			}
			testrepo.WriteFiles(t, repo, map[string]string{
				// npm ci there stops in the root's prepare, with a message
				// saying to run it at the root (exit 1), after npm has removed
				// what that workspace does not use.
				"services/user-client-node/CHECK.md": commands("npm ci   # refused (exit 1)"),
				"CHECK.md":                           commands("make generate"),
			})
			// npm_config_offline: the packages come from npm's cache, which
			// installing the repository's own (make node-deps) filled.
			env := append(os.Environ(), "npm_config_offline=true", "npm_config_audit=false", "npm_config_fund=false")
			// One buffer for stdout and stderr, written by exec's copying
			// goroutines at once.
			var out lockedBuffer
			err := run(t.Context(), []string{"-C", repo, "services/user-client-node/CHECK.md", "CHECK.md"}, env, &out, &out)
			if strings.Contains(out.String(), "ENOTCACHED") {
				t.Fatalf("npm's cache lacks the lock's packages (run make node-deps after emptying node_modules):\n%s", out.String())
			}
			if seeded {
				if err == nil || !strings.Contains(err.Error(), "CHECK.md:3: make generate") ||
					!strings.Contains(out.String(), "Cannot find module '@bufbuild/") {
					t.Fatalf("the check did not fail at make generate for want of the root's packages: %v\n%s", err, out.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			if st := testrepo.Git(t, repo, "status", "--porcelain", "--", "gen"); st != "" {
				t.Errorf("make generate changed gen/:\n%s", st)
			}
		})
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
