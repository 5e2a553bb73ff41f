// Command check-vendored checks vendored files against their provenance
// record: for each DIR given, DIR/PROVENANCE lists every file copied from a
// registry package with its sha256. It fails when a listed file is missing
// or differs from its digest, or when DIR holds a file the record does not
// list (besides PROVENANCE itself), so a vendored file cannot be edited or
// added without saying where it came from.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "check-vendored: %v\n", err)
		os.Exit(1)
	}
}

func run(dirs []string, stdout io.Writer) error {
	if len(dirs) == 0 {
		return errors.New("usage: check-vendored DIR...")
	}
	var errs []error
	for _, dir := range dirs {
		n, err := check(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: %d files match %s\n", dir, n, filepath.Join(dir, recordName))
	}
	return errors.Join(errs...)
}

const recordName = "PROVENANCE"

// record is one "file:" line: the path under the vendored directory, its
// path in the source package and its sha256.
type record struct {
	path, source, sha256 string
}

// parse reads a PROVENANCE file: "key: value" lines, comments (#) and blank
// lines ignored; "source", "package" and "version" are required, and each
// "file:" line is "PATH SOURCE-PATH sha256:HEX".
func parse(data []byte) ([]record, error) {
	var files []record
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, value, ok := strings.Cut(text, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: want KEY: VALUE, got %q", line, text)
		}
		value = strings.TrimSpace(value)
		if key != "file" {
			seen[key] = value != ""
			continue
		}
		f := strings.Fields(value)
		if len(f) != 3 || !strings.HasPrefix(f[2], "sha256:") {
			return nil, fmt.Errorf("line %d: want file: PATH SOURCE-PATH sha256:HEX", line)
		}
		sum := strings.TrimPrefix(f[2], "sha256:")
		if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("line %d: %q is not a sha256", line, sum)
		}
		if !filepath.IsLocal(f[0]) {
			return nil, fmt.Errorf("line %d: %q is not a path inside the directory", line, f[0])
		}
		files = append(files, record{path: filepath.ToSlash(filepath.Clean(f[0])), source: f[1], sha256: sum})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, k := range []string{"source", "package", "version"} {
		if !seen[k] {
			return nil, fmt.Errorf("no %q line: a record names its source package and version", k)
		}
	}
	if len(files) == 0 {
		return nil, errors.New("no file: lines")
	}
	return files, nil
}

// check verifies dir against dir/PROVENANCE and returns how many files it
// checked.
func check(dir string) (int, error) {
	data, err := os.ReadFile(filepath.Join(dir, recordName))
	if err != nil {
		return 0, fmt.Errorf("%s: no provenance record: %w", dir, err)
	}
	files, err := parse(data)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", filepath.Join(dir, recordName), err)
	}
	var problems []string
	listed := map[string]bool{}
	for _, f := range files {
		listed[f.path] = true
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.path)))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: listed but unreadable: %v", f.path, err))
			continue
		}
		got := sha256.Sum256(b)
		if h := hex.EncodeToString(got[:]); h != f.sha256 {
			problems = append(problems, fmt.Sprintf("%s: sha256 %s, the record says %s (from %s): restore the package's file or update the record with its new source", f.path, h, f.sha256, f.source))
		}
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != recordName && !listed[rel] {
			problems = append(problems, fmt.Sprintf("%s: not in the provenance record", rel))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return 0, fmt.Errorf("%s differs from its provenance record:\n  %s", dir, strings.Join(problems, "\n  "))
	}
	return len(files), nil
}
