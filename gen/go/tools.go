//go:build tools

// protoc-gen-go is pinned here, not in the top-level tools.go: the generator
// must be exactly the google.golang.org/protobuf version that the generated
// code links against, and buf (in the top-level tools module) forces a newer
// development pseudo-version of that module. `make tools` builds
// bin/protoc-gen-go from this module's build list.
package gen

import _ "google.golang.org/protobuf/cmd/protoc-gen-go"
