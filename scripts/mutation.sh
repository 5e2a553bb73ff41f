#!/usr/bin/env bash
# Mutation testing with gremlins (make mutation): plants small bugs in each
# module's code one at a time and runs the tests; a mutant the tests do not
# notice (LIVED) or that no test runs (NOT COVERED) is a missing test or
# dead code.
#
#   scripts/mutation.sh [MODULE...]    default: user-server, user-client, tools
#
# GREMLINS (default bin/gremlins) is the pinned binary; MUTATION_WORKERS
# (default 1) the parallel test runs. MUTATION_DIFF=COMMIT tests only the
# mutants on lines changed since COMMIT (gremlins --diff): a quick re-check
# of a change after a whole run at COMMIT. The reports go to out/mutation/.
# Exits non-zero unless every module reaches MUTATION_EFFICACY (default 100)
# and MUTATION_COVERAGE (default 95) percent.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"

gremlins="${GREMLINS:-$root/bin/gremlins}"
workers="${MUTATION_WORKERS:-1}"
efficacy="${MUTATION_EFFICACY:-100}"
mcover="${MUTATION_COVERAGE:-95}"
diff=()
if [[ -n "${MUTATION_DIFF:-}" ]]; then
	diff=(--diff "$MUTATION_DIFF")
	# gremlins matches git diff's paths against the module's own, so the
	# diff must name files relative to the module, not the repository.
	export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=diff.relative GIT_CONFIG_VALUE_0=true
fi
out="$root/out/mutation"
mkdir -p "$out"

# gremlins runs each mutant's tests in a copy of the module under $TMPDIR
# (TMPDIR/gremlins-*/wd-*). The services find gen/go and testkit through
# `replace ... => ../../gen/go` (and ../../testkit), i.e. TMPDIR/gen/go:
# give them both. The directory is outside the repository, since the tools
# module's copy is the whole repository.
tmp="$(mktemp -d "${TMPDIR:-/tmp}/user-service-mutation.XXXXXX")"
# gremlins kills the test process of a mutant that times out, so its
# cleanup never runs: the PostgreSQL servers of user-server's tests (data
# under $tmp) would outlive the run. Stop them (fast shutdown) first.
cleanup() {
	local pid
	for pid in $(pgrep -f -- "-D $tmp/" || true); do
		kill -INT "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
ln -s "$root/gen" "$tmp/gen"
ln -s "$root/testkit" "$tmp/testkit"
# user-server's PostgreSQL tests (testkit/pgtest) put their clusters under
# TMPDIR and, as root, run the server as the postgres user, who must be able
# to reach them: mktemp's 0700 would fail every one of them.
chmod 0711 "$tmp"

# Real-binary end-to-end tests build and start separate processes: their
# coverage cannot count and they would only slow every mutant down.
skip_e2e='-skip=^(TestE2E|TestBinary)'
# Every mutant relinks the module's test binaries: vet (make lint's job)
# and DWARF only slow that down (15 s -> 12 s a mutant in user-server).
fast='-vet=off -ldflags=-w'
# The tests of tools/breaking and tools/gates, and readme-commands' own
# gate test (see below).
gate_tests='TestBreaking.*|TestRealContractAgainstRelease|TestLint|TestCheckGenerated|TestCheckVersions|TestReleaseSchema|TestSubdirectoryNpmCiThenMakeGenerate'

failed=0
# mutate NAME DIR [GREMLINS FLAGS...]: one module, from DIR.
mutate() {
	local name="$1" dir="$2" status=ok
	shift 2
	echo "== $name"
	# The thresholds are checked here: gremlins' own --threshold-* flags
	# fail a run that exactly meets them, so 100% efficacy could never pass.
	if ! (cd "$dir" && TMPDIR="$tmp" "$gremlins" unleash --workers "$workers" --timeout-coefficient 5 \
		--output "$out/$name.json" "${diff[@]}" "$@" "$PWD") >"$out/$name.log" 2>&1; then
		status="FAILED (gremlins)"
	fi
	grep -E '(LIVED|NOT COVERED|TIMED OUT|NOT VIABLE) ' "$out/$name.log" | sed 's/^ */    /' || true
	grep -E '^(Killed|Test efficacy|Mutator coverage|ERROR)' "$out/$name.log" | sed 's/^/  /' || true
	local e c
	e="$(awk '/^Test efficacy:/ {sub("%", "", $3); print $3}' "$out/$name.log")"
	c="$(awk '/^Mutator coverage:/ {sub("%", "", $3); print $3}' "$out/$name.log")"
	if [[ "$status" == ok ]] && ! awk -v e="$e" -v c="$c" -v te="$efficacy" -v tc="$mcover" \
		'BEGIN { exit !(e != "" && c != "" && e + 0 >= te + 0 && c + 0 >= tc + 0) }'; then
		status="FAILED (want efficacy >= $efficacy%, mutator coverage >= $mcover%)"
	fi
	[[ "$status" == ok ]] || failed=$((failed + 1))
	echo "  $status (log: out/mutation/$name.log)"
}

modules=("$@")
[[ ${#modules[@]} -gt 0 ]] || modules=(user-server user-client tools)
for m in "${modules[@]}"; do
	case "$m" in
	user-server | user-client)
		# Integration mode with coverage over every package: the tests of
		# `run` cover the internal packages too, so each mutant runs the
		# module's whole in-process suite. Standalone build (GOWORK=off):
		# `make check-versions` proves it links what the workspace links.
		# Not mutated: main.go (signal handling and os.Exit around run,
		# exercised by the end-to-end tests) and the packages only tests
		# import, code of the tests themselves: user-server's
		# internal/rawh2 (a raw HTTP/2 client),
		# internal/telemetry/otlptest (an OTLP collector) and
		# internal/testwait (the tests' bound on a wait). The test kit the
		# modules share (testkit/) is a module of its own, never mutated.
		# USER_SERVER_TEST_WAIT: a mutant that breaks what a test waits
		# for fails that test after 15 s, instead of holding the package
		# until gremlins' timeout (5 times the whole suite's run).
		USER_SERVER_TEST_WAIT=15s GOWORK=off GOFLAGS="$skip_e2e $fast" mutate "$m" "services/$m" --integration --coverpkg ./... \
			--exclude-files '^main\.go$' \
			--exclude-files '^internal/rawh2/' \
			--exclude-files '^internal/telemetry/otlptest/' --exclude-files '^internal/testwait/' ;;
	tools)
		# The tools module is outside go.work: with the workspace on, go
		# test refuses its packages (why a plain gremlins run's coverage
		# step fails). Integration mode here too: outside it, gremlins
		# tests a mutant of a `package main` in a subdirectory by testing
		# the module's root package, which fails to build, and counts
		# that as a kill. Skipped: the tests of tools/breaking and
		# tools/gates, packages without code of their own: they run make
		# and buf on scratch copies of the repository (minutes for every
		# mutant), and nothing they run in other processes counts.
		# Not mutated either: the commands' main.go, only main (signal
		# handling and os.Exit around run, which the tests call), and
		# internal/testrepo, the tests' scratch-copy helper.
		GOWORK=off GOFLAGS="-skip=^($gate_tests)\$ $fast" mutate tools tools --integration \
			--exclude-files '(^|/)main\.go$' --exclude-files '^internal/testrepo/' ;;
	*)
		echo "unknown module $m (want user-server, user-client or tools)" >&2
		exit 2 ;;
	esac
done
[[ "$failed" -eq 0 ]]
