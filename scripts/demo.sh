#!/usr/bin/env bash
# The reference run: build both services, start user-server with no flags,
# wait until it is healthy, run user-client with no flags, then the Node
# client (services/user-client-node) with no flags, stop the server.
# Nothing is left running, whatever happens; exits non-zero on any failure.
#
#   scripts/demo.sh            (or: make demo; make demo-node runs the Node client only)
#
# DEMO_CLIENTS lists the clients to run, "go node" by default. The Node
# client must be built first (make build-node, which make demo does).
#
# The server listens on its default address, 127.0.0.1:50051, which must be
# free. DEMO_ADDR=HOST:PORT moves it (port 0: a free port, as the README
# check, tools/readme-commands, runs it); the clients are then given the
# address the server reports. Nothing else differs from the reference run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The reference run uses the defaults only: ignore any configuration in the
# caller's environment.
unset "${!USER_CLIENT_@}" "${!USER_SERVER_@}"

listen="${DEMO_ADDR:-}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/user-service-demo.XXXXXX")"
server_pid=""

cleanup() {
	local status=$?
	if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		# The server drains in-flight calls on SIGTERM; give it a bounded
		# time, then make sure it is gone.
		for _ in $(seq 1 100); do
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$server_pid" 2>/dev/null; then
			echo "demo: user-server did not stop on SIGTERM; killing it" >&2
			kill -KILL "$server_pid" 2>/dev/null || true
			status=1
		fi
		wait "$server_pid" 2>/dev/null || true
	fi
	if [[ $status -ne 0 && -s "$tmp/server.log" ]]; then
		echo "demo: user-server log:" >&2
		sed 's/^/  /' "$tmp/server.log" >&2
	fi
	rm -rf "$tmp"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "demo: building user-server and user-client" >&2
# Built from each module's directory: works with the workspace on or off.
(cd services/user-server && go build -o "$tmp/user-server" .)
(cd services/user-client && go build -o "$tmp/user-client" .)

server_args=() client_args=()
[[ -z "$listen" ]] || server_args=(--listen "$listen")

echo "demo: starting user-server" >&2
"$tmp/user-server" "${server_args[@]}" >"$tmp/server.log" 2>&1 &
server_pid=$!

# Wait for SERVING, bounded: about 10s. With DEMO_ADDR the clients go to
# the address the server prints once it accepts connections.
healthy=""
for _ in $(seq 1 50); do
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "demo: user-server exited during start-up (is ${listen:-127.0.0.1:50051} in use?)" >&2
		exit 1
	fi
	if [[ -n "$listen" && ${#client_args[@]} -eq 0 ]]; then
		addr=$(sed -n 's/^listening on //p' "$tmp/server.log")
		[[ -z "$addr" ]] || client_args=(--addr "$addr")
	fi
	if [[ -z "$listen" || ${#client_args[@]} -gt 0 ]] &&
		"$tmp/user-client" "${client_args[@]}" --health --timeout 1s >/dev/null 2>&1; then
		healthy=1
		break
	fi
	sleep 0.2
done
if [[ -z "$healthy" ]]; then
	echo "demo: user-server did not become healthy" >&2
	"$tmp/user-client" "${client_args[@]}" --health --timeout 1s >&2 || true
	exit 1
fi

for client in ${DEMO_CLIENTS:-go node}; do
	case $client in
	go)
		echo "demo: running user-client" >&2
		"$tmp/user-client" "${client_args[@]}"
		;;
	node)
		echo "demo: running user-client-node" >&2
		[[ -f services/user-client-node/dist/bin/user-client-node.mjs ]] ||
			{ echo "demo: the Node client is not built: run make build-node (make demo does)" >&2; exit 1; }
		node services/user-client-node/dist/bin/user-client-node.mjs "${client_args[@]}"
		;;
	*)
		echo "demo: unknown client $client in DEMO_CLIENTS" >&2
		exit 2
		;;
	esac
done

# Stop the server here so that a failed shutdown fails the demo.
kill -TERM "$server_pid"
if ! wait "$server_pid"; then
	server_pid=""
	echo "demo: user-server did not shut down cleanly" >&2
	exit 1
fi
server_pid=""
echo "demo: done" >&2
