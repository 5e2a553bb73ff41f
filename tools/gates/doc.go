// Package gates holds the tests of the repository's CI gates other than
// the breaking-change gate (tools/breaking): each gate is shown failing on
// the defect it exists for, seeded in a scratch copy of the repository,
// with a message naming the file or module at fault, and passing on the
// untouched copy. It has no code of its own: the gates are Makefile targets.
package gates
