package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// pattern names generated files: those below dir whose name ends in suffix.
type pattern struct {
	dir, suffix string
}

// generated is every kind of file the plugins of buf.gen.yaml write. A
// plugin writing anything else is an error, so that this list (and with it
// the removal of stale files) stays complete.
var generated = []pattern{
	{"gen/go", ".pb.go"}, // protoc-gen-go, protoc-gen-go-grpc
	{"gen/es", "_pb.ts"}, // protoc-gen-es, target=ts
	{"gen/es", "_pb.js"}, // protoc-gen-es, target=js
	openAPI,              // protoc-gen-openapi (gnostic)
}

// openAPI is protoc-gen-openapi's output, which secureOpenAPI rewrites.
var openAPI = pattern{"gen/openapi", ".yaml"}

// provided are generated files dropped, not written: their Go package is
// published elsewhere and must be the only one registering their proto
// files in a binary. googleapis' google/api protos (the vendored workspace
// module third_party/googleapis) keep their go_package,
// google.golang.org/genproto/googleapis/api/annotations, which
// gen/go requires, as vanguard does; protoc-gen-go still writes them because
// they are targets of the workspace (TypeScript needs them generated).
var provided = []pattern{
	{"gen/go/google/api", ".pb.go"},
}

func isProvided(rel string) bool {
	return slices.ContainsFunc(provided, func(p pattern) bool { return p.match(rel) })
}

// buildDirs hold what is built from or installed beside the generated code
// (gen/es is an npm package: tsc compiles it into dist/), never generated
// files: stale-file removal skips them, and buf writing into one is an
// error (a proto package named like one would collide with it).
var buildDirs = []string{"gen/es/dist", "gen/es/node_modules"}

func inBuildDir(rel string) (string, bool) {
	for _, d := range buildDirs {
		if rel == d || strings.HasPrefix(rel, d+"/") {
			return d, true
		}
	}
	return "", false
}

func (p pattern) match(rel string) bool {
	return strings.HasPrefix(rel, p.dir+"/") && strings.HasSuffix(rel, p.suffix)
}

func isGenerated(rel string) bool {
	return slices.ContainsFunc(generated, func(p pattern) bool { return p.match(rel) })
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("generate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	bufBin := flags.String("buf", "buf", "the buf binary")
	root := flags.String("root", ".", "the repository root: buf.yaml, buf.gen.yaml and gen/")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() != 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(flags.Args(), " "))
	}
	tmp, err := os.MkdirTemp("", "generate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	buf := exec.CommandContext(ctx, *bufBin, "generate", "-o", tmp)
	buf.Dir = *root
	buf.Stdout, buf.Stderr = stdout, stderr
	if err := buf.Run(); err != nil {
		return fmt.Errorf("buf generate failed, gen/ is unchanged: %w", err)
	}
	all, err := listFiles(tmp, ".")
	if err != nil {
		return err
	}
	fresh := slices.DeleteFunc(all, isProvided)
	for _, rel := range fresh {
		if !isGenerated(rel) {
			return fmt.Errorf("buf generated %s, which no pattern in tools/generate covers: add one to its generated list (gen/ is unchanged)", rel)
		}
		if d, ok := inBuildDir(rel); ok {
			return fmt.Errorf("buf generated %s inside %s, which holds build outputs: rename the proto package (gen/ is unchanged)", rel, d)
		}
	}
	for _, rel := range fresh {
		if openAPI.match(rel) {
			if err := rewrite(filepath.Join(tmp, rel), secureOpenAPI); err != nil {
				return fmt.Errorf("%s: %w (gen/ is unchanged)", rel, err)
			}
		}
	}
	// The generated files now in gen/, with the directory of their pattern.
	existing := make(map[string]string)
	for _, p := range generated {
		files, err := listFiles(*root, p.dir)
		if err != nil {
			return err
		}
		for _, rel := range files {
			if _, built := inBuildDir(rel); p.match(rel) && !built {
				existing[rel] = p.dir
			}
		}
	}

	var written, removed int
	for _, rel := range fresh {
		changed, err := copyIfChanged(filepath.Join(tmp, rel), filepath.Join(*root, rel))
		if err != nil {
			return err
		}
		if changed {
			written++
		}
	}
	for _, rel := range slices.Sorted(maps.Keys(existing)) {
		if slices.Contains(fresh, rel) {
			continue
		}
		if err := removeWithEmptyParents(*root, rel, existing[rel]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s (buf no longer generates it)\n", rel)
		removed++
	}
	fmt.Fprintf(stdout, "generated %d files: %d written, %d unchanged, %d stale removed\n",
		len(fresh), written, len(fresh)-written, removed)
	return nil
}

// listFiles returns the regular files below root/dir as slash-separated
// paths relative to root; a missing dir has none.
func listFiles(root, dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == filepath.Join(root, dir) {
			return fs.SkipAll
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	return files, err
}

// copyIfChanged copies src to dst unless dst already has its content (so an
// unchanged file keeps its modification time), and reports whether it wrote.
func copyIfChanged(src, dst string) (bool, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return false, err
	}
	if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, err
	}
	return true, os.WriteFile(dst, data, 0o644)
}

// removeWithEmptyParents removes root/rel, then the directories it leaves
// empty (a renamed proto package's) below top.
func removeWithEmptyParents(root, rel, top string) error {
	if err := os.Remove(filepath.Join(root, rel)); err != nil {
		return err
	}
	for d := filepath.ToSlash(filepath.Dir(rel)); strings.HasPrefix(d, top+"/"); d = path.Dir(d) {
		if os.Remove(filepath.Join(root, d)) != nil { // not empty
			break
		}
	}
	return nil
}

// rewrite replaces the file at path with f of its content.
func rewrite(path string, f func([]byte) ([]byte, error)) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if data, err = f(data); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
