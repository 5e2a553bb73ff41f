package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acme/user-service/tools/internal/testrepo"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// world is a scratch Go workspace whose only dependency, example.com/dep,
// comes from a GOPROXY=file:// directory the test writes, into a module
// cache of its own: the check's builds need nothing from the network or
// from the caller's module cache, and leave nothing in it.
//
//	proxy/          example.com/dep v1.0.0 and v1.1.0
//	go.work         use ./svc and ./other, then the seeded lines
//	svc/            the service: package main, requires dep v1.0.0
//	other/          another workspace module, requires dep at its version
//	fork/           a copy of dep for a directory replacement
type world struct {
	dir, svc, proxy, modCache string
	// sums maps a version of dep to what the check reports for it
	// ("v1.0.0 h1:..."); "local" maps to "local".
	sums map[string]string
}

const depPath = "example.com/dep"

func newWorld(t *testing.T, otherRequires, workExtra string) *world {
	t.Helper()
	dir := t.TempDir()
	w := &world{dir: dir, svc: filepath.Join(dir, "svc"), proxy: filepath.Join(dir, "proxy"),
		modCache: filepath.Join(dir, "modcache"), sums: map[string]string{"local": "local"}}
	goSum := map[string]string{}
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		h, modH := writeProxyModule(t, w.proxy, depPath, v, map[string]string{
			"dep.go": "// Package dep is the dependency whose version the workspace may change.\npackage dep\n\n// Version is this copy's version.\nconst Version = \"" + v + "\"\n",
		})
		w.sums[v] = v + " " + h
		goSum[v] = depPath + " " + v + " " + h + "\n" + depPath + " " + v + "/go.mod " + modH + "\n"
	}
	testrepo.WriteFiles(t, dir, map[string]string{
		"go.work": "go 1.22\n\nuse (\n\t./svc\n\t./other\n)\n\n" + workExtra,
		// What `go work sync` would record for a version only go.work names.
		"go.work.sum":  goSum["v1.1.0"],
		"svc/go.mod":   "module example.com/svc\n\ngo 1.22\n\nrequire " + depPath + " v1.0.0\n",
		"svc/go.sum":   goSum["v1.0.0"],
		"svc/main.go":  "package main\n\nimport \"" + depPath + "\"\n\nfunc main() { println(dep.Version) }\n",
		"other/go.mod": "module example.com/other\n\ngo 1.22\n\nrequire " + depPath + " " + otherRequires + "\n",
		"other/go.sum": goSum[otherRequires],
		"other/other.go": "// Package other is a second workspace module.\npackage other\n\nimport \"" + depPath + "\"\n\n" +
			"// Version is dep's.\nconst Version = dep.Version\n",
		"fork/go.mod": "module " + depPath + "\n\ngo 1.22\n",
		"fork/dep.go": "// Package dep, changed locally.\npackage dep\n\n// Version says this is the local copy.\nconst Version = \"fork\"\n",
	})
	return w
}

// env is the environment of the check's builds: the world's proxy and
// module cache only (no checksum database: the go.sum files hold every
// sum), this Go toolchain, and extra last (the last value of a variable
// wins).
func (w *world) env(extra ...string) []string {
	return append(os.Environ(), append([]string{
		"GOMODCACHE=" + w.modCache,
		"GOPROXY=file://" + filepath.ToSlash(w.proxy),
		"GOSUMDB=off", "GOPRIVATE=", "GONOPROXY=", "GONOSUMDB=", "GOINSECURE=",
		"GOTOOLCHAIN=local",
		// -modcacherw: t.TempDir can remove the module cache.
		"GOFLAGS=-mod=readonly -modcacherw -buildvcs=false",
	}, extra...)...)
}

// writeProxyModule writes path@version, holding files and a go.mod, in the
// layout of a GOPROXY=file:// directory, and returns the go.sum hashes of
// its zip and of its go.mod, computed as the go command computes them.
func writeProxyModule(t *testing.T, proxy, path, version string, files map[string]string) (zipHash, modHash string) {
	t.Helper()
	goMod := "module " + path + "\n\ngo 1.22\n"
	src := t.TempDir()
	testrepo.WriteFiles(t, src, files)
	testrepo.WriteFiles(t, src, map[string]string{"go.mod": goMod})
	escaped, err := module.EscapePath(path)
	if err != nil {
		t.Fatal(err)
	}
	vdir := filepath.Join(proxy, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	var zipBuf bytes.Buffer
	if err := modzip.CreateFromDir(&zipBuf, module.Version{Path: path, Version: version}, src); err != nil {
		t.Fatal(err)
	}
	info, err := json.Marshal(map[string]string{"Version": version, "Time": "2026-01-01T00:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	zipFile := filepath.Join(vdir, version+".zip")
	testrepo.WriteFiles(t, vdir, map[string]string{version + ".zip": zipBuf.String(), version + ".info": string(info), version + ".mod": goMod})
	list, err := os.OpenFile(filepath.Join(vdir, "list"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := list.WriteString(version + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := list.Close(); err != nil {
		t.Fatal(err)
	}
	if zipHash, err = dirhash.HashZip(zipFile, dirhash.Hash1); err != nil {
		t.Fatal(err)
	}
	modHash, err = dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(goMod)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return zipHash, modHash
}
