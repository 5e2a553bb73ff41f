package main

import (
	"crypto/sha3"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// shake256 returns buf's content-addressed digest of data: SHAKE256 with a
// 64-byte output, written "shake256:<hex>".
func shake256(data []byte) string {
	h := sha3.NewSHAKE256()
	_, _ = h.Write(data)
	sum := make([]byte, 64)
	_, _ = h.Read(sum)
	return "shake256:" + hex.EncodeToString(sum)
}

// b5Digest computes buf's "b5" module digest for a module with no
// dependencies: the SHAKE256 of a manifest listing each file's digest and
// path, sorted by path, and then the SHAKE256 of that manifest's digest.
// (With dependencies, their b5 digests would follow, sorted, one per line.)
func b5Digest(files map[string][]byte) string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var manifest strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&manifest, "%s  %s\n", shake256(files[p]), p)
	}
	filesDigest := shake256([]byte(manifest.String()))
	return "b5:" + strings.TrimPrefix(shake256([]byte(filesDigest)), "shake256:")
}
