#!/usr/bin/env bash
# Records HEAD as a schema release: `make release-schema VERSION=vX.Y.Z`.
#
# Run it on main, with a clean work tree, once the change is merged: the
# release is the baseline `make breaking-release` judges main against. It
# refuses a VERSION that is not vMAJOR.MINOR.PATCH, is not greater than the
# recorded release, or is already released (tag schema/VERSION); checks the
# schema against the previous release; writes and commits SCHEMA_RELEASE; and
# tags the released commit schema/VERSION (annotated), so a clone can fetch
# the baseline by name.
set -euo pipefail

version=${1:-}
base_branch=${BREAKING_BASE_BRANCH:-main}
die() {
  echo "release-schema: $*" >&2
  exit 1
}

[[ -n $version ]] || die "usage: make release-schema VERSION=vX.Y.Z"
[[ $version =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]] ||
  die "VERSION $version is not vMAJOR.MINOR.PATCH (e.g. v1.2.0)"
branch=$(git symbolic-ref -q --short HEAD || true)
[[ $branch == "$base_branch" ]] ||
  die "run it on $base_branch (HEAD is on ${branch:-a detached commit}): a release records a commit of $base_branch"
[[ -z $(git status --porcelain) ]] || die "the work tree is not clean: commit or stash first"
tag=schema/$version
if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
  die "tag $tag already exists: $version is already released"
fi

if [[ -f SCHEMA_RELEASE ]]; then
  recorded=$(awk '$1 == "version:" {print $2}' SCHEMA_RELEASE)
  [[ $recorded != "$version" ]] || die "SCHEMA_RELEASE already records $version"
  if [[ -n $recorded ]]; then
    newest=$(printf '%s\n%s\n' "$recorded" "$version" | sort -V | tail -n 1)
    [[ $newest == "$version" ]] || die "VERSION $version is not greater than the recorded release $recorded"
  fi
  "${MAKE:-make}" --no-print-directory breaking-release
fi

commit=$(git rev-parse HEAD)
printf '%s\n' \
  '# The last released state of the user.v1 schema. CI on main runs' \
  '# `make breaking-release`, which compares the schema against this commit,' \
  '# so a breaking edit anywhere since the release fails, not only in the' \
  '# newest commit. Written by `make release-schema VERSION=...`; do not edit.' \
  "version: $version" \
  "commit: $commit" >SCHEMA_RELEASE
git add SCHEMA_RELEASE
git commit -q -m "Release schema $version" -- SCHEMA_RELEASE
git tag -a "$tag" -m "Schema release $version" "$commit"
echo "recorded $commit as schema $version, tagged $tag; publish both: git push origin $base_branch $tag"
