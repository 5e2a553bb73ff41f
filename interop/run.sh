#!/usr/bin/env bash
# Cross-language interop against the real Go user-server, run by
# `make interop` (which builds everything this needs and passes it in):
#
#   SERVER        the user-server binary
#   BUF           bin/buf, to export the Buf module and its locked deps
#   GRPCURL       bin/grpcurl
#   HEALTH_PROBE  bin/grpc-health-probe
#   OUT           scratch directory (wiped)
#
# It starts the server unconfigured (development mode, as `go run` does) on a
# free loopback port, checks grpc-health-probe, grpcurl (reflection list,
# describe, the reference call) and the Node.js client tests, then stops the
# server with SIGTERM and requires exit status 0. Nothing is left running.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
: "${SERVER:?} ${BUF:?} ${GRPCURL:?} ${HEALTH_PROBE:?} ${OUT:?}"

rm -rf "$OUT"
mkdir -p "$OUT"

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }

# The Node client resolves buf/validate/validate.proto from the same offline
# dependency the Buf pipeline builds with: buf's cache, seeded by `make deps`.
"$BUF" export "$root" -o "$OUT/protodeps"
test -f "$OUT/protodeps/buf/validate/validate.proto"

pid=
stop_server() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
trap stop_server EXIT

"$SERVER" --listen 127.0.0.1:0 --reflection --log-file "$OUT/server.log" >"$OUT/server.out" 2>&1 &
pid=$!
addr=
for _ in $(seq 100); do
  addr=$(sed -n 's/^listening on //p' "$OUT/server.out")
  [[ -n $addr ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$OUT/server.out" "$OUT/server.log" >&2 || true; echo "interop: server exited during start-up" >&2; exit 1; }
  sleep 0.1
done
[[ -n $addr ]] || { echo "interop: server printed no 'listening on' line" >&2; exit 1; }
echo "interop: user-server (development mode) listening on $addr"

# grpc-health-probe: SERVING.
if out=$("$HEALTH_PROBE" -addr="$addr" 2>&1) && [[ $out == "status: SERVING" ]]; then
  ok "grpc-health-probe: $out"
else
  not_ok "grpc-health-probe: $out"
fi

# grpcurl through server reflection (--reflection), which takes the token
# as "authorization: Bearer" metadata.
if out=$("$GRPCURL" -plaintext -reflect-header "authorization: Bearer valid-token" "$addr" list 2>&1) &&
  grep -qx 'user.v1.UserService' <<<"$out" && grep -qx 'grpc.health.v1.Health' <<<"$out"; then
  ok "grpcurl list: $(tr '\n' ' ' <<<"$out")"
else
  not_ok "grpcurl list: $out"
fi

if out=$("$GRPCURL" -plaintext -reflect-header "authorization: Bearer valid-token" "$addr" describe user.v1.UserService 2>&1) &&
  grep -q 'rpc GetUserDetails ( .user.v1.GetUserDetailsRequest ) returns ( .user.v1.GetUserDetailsResponse )' <<<"$out"; then
  ok "grpcurl describe user.v1.UserService"
else
  not_ok "grpcurl describe user.v1.UserService: $out"
fi

# Describing the request resolves its buf/validate import through reflection.
if out=$("$GRPCURL" -plaintext -reflect-header "authorization: Bearer valid-token" "$addr" describe user.v1.GetUserDetailsRequest 2>&1) &&
  grep -q 'string user_id = 1' <<<"$out" && grep -q 'string auth_token = 2' <<<"$out"; then
  ok "grpcurl describe user.v1.GetUserDetailsRequest"
else
  not_ok "grpcurl describe user.v1.GetUserDetailsRequest: $out"
fi

# The walkthrough's reference call. grpcurl's JSON spacing is not stable, so
# compare parsed JSON.
if out=$("$GRPCURL" -plaintext -reflect-header "authorization: Bearer valid-token" -d '{"user_id": "john123", "auth_token": "valid-token"}' "$addr" user.v1.UserService/GetUserDetails 2>&1) &&
  node -e 'require("node:assert/strict").deepEqual(JSON.parse(process.argv[1]), {name: "John Doe", email: "john123@example.com", status: "Success"})' "$out"; then
  ok "grpcurl reference call: $(tr -s ' \n' ' ' <<<"$out")"
else
  not_ok "grpcurl reference call: $out"
fi

# The Node.js client (its own test report follows).
if (cd "$root/interop/node" &&
  USER_SERVER_ADDR=$addr USER_SERVER_TOKEN=valid-token PROTO_DIR="$root/proto" PROTO_DEPS_DIR="$OUT/protodeps" \
    node --test --test-reporter=spec); then
  ok "node @grpc/grpc-js + @grpc/proto-loader tests"
else
  not_ok "node @grpc/grpc-js + @grpc/proto-loader tests"
fi

# Clean shutdown.
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
if [[ $status -eq 0 ]]; then
  ok "server exited 0 on SIGTERM"
else
  not_ok "server exited $status on SIGTERM"
  cat "$OUT/server.out" >&2
fi

echo "interop: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
