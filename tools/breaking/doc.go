// Package breaking holds the tests of the repository's breaking-change gate
// (`make breaking` and `make breaking-release`). It has no code of its own:
// the gate is buf, configured in buf.yaml and driven by the Makefile.
package breaking
