#!/usr/bin/env bash
# Flake hunt: run `make test` RUNS times in a row while busy loops hold every
# core, so that any timing assumption in a test shows up as a failure.
#
#   scripts/test-stress.sh [RUNS]     (or: make test-stress RUNS=5)
#
# BUSY_LOOPS (default: the number of cores) busy loops are started, and
# exactly those processes are killed at the end, whatever happens (trap on
# exit). Each run's output goes to out/test-stress/run-N.log. Prints the
# number of runs and failures; exits non-zero if any run failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs="${1:-5}"
busy="${BUSY_LOOPS:-$(nproc)}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]] || ! [[ "$busy" =~ ^[0-9]+$ ]]; then
	echo "usage: $0 RUNS (a positive number); BUSY_LOOPS must be a number" >&2
	exit 2
fi
logs="out/test-stress"
mkdir -p "$logs"

pids=()
stop_busy() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	pids=()
}
trap stop_busy EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 "$busy"); do
	# A subshell spinning in bash builtins: no child processes to leak.
	( while :; do :; done ) &
	pids+=("$!")
done
echo "test-stress: $busy busy loops (PIDs ${pids[*]}), $runs runs of make test"

failed=0
for i in $(seq 1 "$runs"); do
	start=$SECONDS
	if make test >"$logs/run-$i.log" 2>&1; then
		echo "run $i/$runs: ok ($((SECONDS - start))s)"
	else
		failed=$((failed + 1))
		echo "run $i/$runs: FAILED ($((SECONDS - start))s), log: $logs/run-$i.log"
		grep -E -e '(--- FAIL|^FAIL|^panic:|^make: \*\*\*)' "$logs/run-$i.log" | head -20 | sed 's/^/    /' || true
	fi
done
echo "test-stress: $runs runs, $failed failed"
[[ "$failed" -eq 0 ]]
