package main

// source says where the files of one buf.lock entry come from when the Buf
// Schema Registry is out of reach: a Go module served by the Go module proxy,
// at the release the BSR commit was made from.
type source struct {
	goModule  string // Go module path that ships the files
	goVersion string // its version (the BSR module's release tag)
	protoDir  string // directory in the Go module holding the module's .proto files
	extra     []string
	// createTime is recorded in buf's commit cache; buf only displays it.
	createTime string
}

// sources are the buf.lock entries this program can seed, by "name@commit".
// Adding a dependency (or moving to another release) means adding its entry
// here; the digest is still checked against buf.lock, so a wrong mapping
// cannot slip through.
var sources = map[string]source{
	"buf.build/bufbuild/protovalidate@50325440f8f24053b047484a6bf60b76": {
		goModule:   "github.com/bufbuild/protovalidate",
		goVersion:  "v1.2.0",
		protoDir:   "proto/protovalidate",
		extra:      []string{"LICENSE", "README.md"},
		createTime: "2026-01-01T00:00:00Z",
	},
}
