//go:build tools

// Package tools pins gremlins, the mutation-testing tool behind
// `make mutation`. It is a module of its own, outside go.work and apart from
// the top-level tools module, so that its dependencies move nothing that
// buf or the other pinned tools link.
package tools

import _ "github.com/go-gremlins/gremlins/cmd/gremlins"
