package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// fetchFiles downloads src's Go module through the go command (and so
// through GOPROXY and the Go checksum database) and returns the files of the
// buf module, keyed by their path inside the buf module.
func fetchFiles(ctx context.Context, goBin string, src source) (map[string][]byte, error) {
	dir, err := goModDownload(ctx, goBin, src.goModule+"@"+src.goVersion)
	if err != nil {
		return nil, err
	}
	protoRoot := filepath.Join(dir, filepath.FromSlash(src.protoDir))
	files, err := readTree(protoRoot, func(path string) bool { return strings.HasSuffix(path, ".proto") })
	if err != nil {
		return nil, fmt.Errorf("read %s@%s/%s: %w", src.goModule, src.goVersion, src.protoDir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s@%s has no .proto files under %s", src.goModule, src.goVersion, src.protoDir)
	}
	for _, name := range src.extra {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read %s@%s: %w", src.goModule, src.goVersion, err)
		}
		files[name] = data
	}
	return files, nil
}

func goModDownload(ctx context.Context, goBin, modVersion string) (string, error) {
	cmd := exec.CommandContext(ctx, goBin, "mod", "download", "-json", modVersion)
	// Outside any module or workspace, so only the named module is fetched.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var res struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil && runErr == nil {
		return "", fmt.Errorf("go mod download %s: %w", modVersion, err)
	}
	if res.Error != "" {
		return "", fmt.Errorf("go mod download %s: %s", modVersion, res.Error)
	}
	if runErr != nil {
		return "", fmt.Errorf("go mod download %s: %w: %s", modVersion, runErr, strings.TrimSpace(stderr.String()))
	}
	return res.Dir, nil
}
