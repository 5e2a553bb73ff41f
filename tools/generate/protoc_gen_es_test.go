package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// typescriptLoaded matches the line NODE_DEBUG=module logs when node loads
// the TypeScript compiler's module file.
var typescriptLoaded = regexp.MustCompile(`load "[^"]*/typescript/lib/typescript\.js"`)

// TestProtocGenEsEntry holds tools/protoc-gen-es (what buf.gen.yaml runs)
// to the package's own bin, for every target protoc-gen-es has: the same
// files byte for byte, and the TypeScript compiler never loaded (the bin
// loads it, so the check can tell).
func TestProtocGenEsEntry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		target, wantFile string
	}{
		{target: "ts", wantFile: "gen/es/user/v1/user_pb.ts"},
		{target: "js", wantFile: "gen/es/user/v1/user_pb.js"},
		{target: "dts", wantFile: "gen/es/user/v1/user_pb.d.ts"},
	}
	for _, tt := range tests {
		t.Run("target="+tt.target, func(t *testing.T) {
			t.Parallel()
			dir, bufBin := scratch(t)
			if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", "protoc-gen-es")); err != nil {
				t.Fatalf("protoc-gen-es is not installed: run `make deps-node` first (%v)", err)
			}
			bin, binLog := generateWith(t, dir, bufBin, tt.target, "node_modules/.bin/protoc-gen-es")
			entry, entryLog := generateWith(t, dir, bufBin, tt.target, "tools/protoc-gen-es/protoc-gen-es.cjs")
			if _, ok := bin[tt.wantFile]; !ok {
				t.Fatalf("the package's bin generated %q, want %s among them", slices.Sorted(maps.Keys(bin)), tt.wantFile)
			}
			if !maps.Equal(bin, entry) {
				t.Errorf("the entry's output differs from the package bin's: files %q, want %q (or their content differs)",
					slices.Sorted(maps.Keys(entry)), slices.Sorted(maps.Keys(bin)))
			}
			if !typescriptLoaded.MatchString(binLog) {
				t.Fatalf("no TypeScript load logged for the package's bin: NODE_DEBUG=module's format changed?\n%s", binLog)
			}
			if typescriptLoaded.MatchString(entryLog) {
				t.Errorf("the entry loaded the TypeScript compiler")
			}
		})
	}
}

// generateWith runs buf generate in dir with protoc-gen-es started as
// `node script` (the options of buf.gen.yaml but the target) into a new
// directory, and returns the files generated and node's module log.
func generateWith(t *testing.T, dir, bufBin, target, script string) (files map[string]string, moduleLog string) {
	t.Helper()
	template, err := json.Marshal(map[string]any{
		"version": "v2",
		"plugins": []map[string]any{{
			"local": []string{"node", script},
			"out":   "gen/es",
			"opt":   []string{"target=" + target, "import_extension=js", "rewrite_imports=./buf/validate/**/*_pb.js:@bufbuild/protovalidate/gen"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.CommandContext(t.Context(), bufBin, "generate", "--template", string(template), "-o", out)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_DEBUG=module")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("buf generate with %s: %v\n%s", script, err, stderr.String())
	}
	files = snapshot(t, out)
	for rel := range files {
		if rel[len(rel)-1] == '/' {
			delete(files, rel)
		}
	}
	return files, stderr.String()
}
