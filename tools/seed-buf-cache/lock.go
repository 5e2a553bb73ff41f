package main

import (
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

type bufLock struct {
	Version string    `yaml:"version"`
	Deps    []lockDep `yaml:"deps"`
}

type lockDep struct {
	Name   string `yaml:"name"`
	Commit string `yaml:"commit"`
	Digest string `yaml:"digest"`
}

// registry, owner and module of a dependency name "registry/owner/module".
func (d lockDep) parts() (registry, owner, module string) {
	p := strings.Split(d.Name, "/")
	return p[0], p[1], p[2]
}

func readLock(path string) (bufLock, error) {
	var lock bufLock
	data, err := os.ReadFile(path)
	if err != nil {
		return lock, fmt.Errorf("read lock file: %w", err)
	}
	if err := yaml.Unmarshal(data, &lock); err != nil {
		return lock, fmt.Errorf("%s: %w", path, err)
	}
	if lock.Version != "v2" {
		return lock, fmt.Errorf("%s: version %q is not supported (want v2)", path, lock.Version)
	}
	for i, d := range lock.Deps {
		if len(strings.Split(d.Name, "/")) != 3 {
			return lock, fmt.Errorf("%s: deps[%d]: name %q is not registry/owner/module", path, i, d.Name)
		}
		if len(d.Commit) != 32 || strings.Trim(d.Commit, "0123456789abcdef") != "" {
			return lock, fmt.Errorf("%s: deps[%d] (%s): commit %q is not a 32-digit hex id", path, i, d.Name, d.Commit)
		}
		if !strings.HasPrefix(d.Digest, "b5:") {
			return lock, fmt.Errorf("%s: deps[%d] (%s): digest %q is not a b5 digest", path, i, d.Name, d.Digest)
		}
	}
	return lock, nil
}
