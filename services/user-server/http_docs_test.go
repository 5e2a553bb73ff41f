package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// docAddr is the HTTP address docs/http.md's commands use; the test serves
// on a free port and substitutes it.
const docAddr = "127.0.0.1:8080"

// docCommand is a command docs/http.md marks with <!-- checked: http-curl -->
// and the output marked <!-- checked: http-curl-output --> after it.
type docCommand struct {
	cmd, out string
}

// docCommands reads the marked blocks of a Markdown file: each marker is
// followed by a fenced block.
func docCommands(t *testing.T, path string) []docCommand {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []docCommand
	lines := strings.Split(string(b), "\n")
	block := func(i int) (string, int) {
		for i < len(lines) && !strings.HasPrefix(lines[i], "```") {
			i++
		}
		start := i + 1
		for i = start; i < len(lines) && lines[i] != "```"; i++ {
		}
		if i >= len(lines) {
			t.Fatalf("%s: unterminated block at line %d", path, start)
		}
		return strings.Join(lines[start:i], "\n"), i
	}
	for i := 0; i < len(lines); i++ {
		switch strings.TrimSpace(lines[i]) {
		case "<!-- checked: http-curl -->":
			var c string
			c, i = block(i + 1)
			cmds = append(cmds, docCommand{cmd: c})
		case "<!-- checked: http-curl-output -->":
			if len(cmds) == 0 || cmds[len(cmds)-1].out != "" {
				t.Fatalf("%s:%d: an output block with no command before it", path, i+1)
			}
			cmds[len(cmds)-1].out, i = block(i + 1)
		}
	}
	return cmds
}

// TestDocsCurl runs the curl commands of docs/http.md and the README, as
// written, against the real binary in development mode and compares their
// output (as JSON).
func TestDocsCurl(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is needed to check docs/http.md's commands (Debian: apt-get install curl)")
	}
	var cmds []docCommand
	for _, doc := range []string{filepath.Join("docs", "http.md"), "README.md"} {
		c := docCommands(t, filepath.Join("..", "..", doc))
		if len(c) < 2 {
			t.Fatalf("%s marks %d curl commands, want the Connect and REST lookups at least", doc, len(c))
		}
		cmds = append(cmds, c...)
	}
	srv := startHTTPBinaryEnv(t, nil)
	addr := strings.TrimPrefix(srv.url, "http://")
	for _, c := range cmds {
		if c.out == "" {
			t.Errorf("%s: no output block", c.cmd)
			continue
		}
		if !strings.HasPrefix(c.cmd, "curl ") || !strings.Contains(c.cmd, docAddr) {
			t.Errorf("%s: not a curl command to %s", c.cmd, docAddr)
			continue
		}
		cmd := exec.CommandContext(t.Context(), "sh", "-c", strings.ReplaceAll(c.cmd, docAddr, addr))
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(curl)+":"+os.Getenv("PATH"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("%s: %v\n%s", c.cmd, err, stderr.String())
			continue
		}
		var got, want any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Errorf("%s: output %q is not JSON: %v", c.cmd, out, err)
			continue
		}
		if err := json.Unmarshal([]byte(c.out), &want); err != nil {
			t.Fatalf("output block %q is not JSON: %v", c.out, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", c.cmd, out, c.out)
		}
	}
}
