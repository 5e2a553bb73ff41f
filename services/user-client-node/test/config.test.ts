// Flags and environment, as the Go user-client reads them. Messages and
// edge cases of the flag syntax are in the shared table
// (cli-cases.test.ts); these check the resulting configuration.
import { test } from "node:test";
import assert from "node:assert/strict";
import { exitCode, UsageError } from "@acme/user-client";
import { HelpRequested, parse, tokenArgs } from "../src/config.js";
import { formatDuration, parseDuration, parseInt64 } from "../src/gostrconv.js";
import * as render from "../src/render.js";

const none = () => undefined;

test("defaults", () => {
  assert.deepEqual(parse([], none), {
    addrs: ["127.0.0.1:50051"], user: "john123", token: "valid-token", timeout: 5_000_000_000n, tls: false,
    caFile: "", certFile: "", keyFile: "", serverName: "", output: "text", count: 1n,
  });
});

test("environment fallbacks, and flags win", () => {
  const env: Record<string, string> = {
    USER_CLIENT_ADDR: "10.0.0.1:1, 10.0.0.2:2", USER_CLIENT_USER: "jane", USER_CLIENT_TOKEN: "tok",
    USER_CLIENT_TIMEOUT: "1m2.5s", USER_CLIENT_TLS: "true", USER_CLIENT_CA: "ca.pem", USER_CLIENT_CERT: "c.pem",
    USER_CLIENT_KEY: "k.pem", USER_CLIENT_SERVER_NAME: "srv.test", USER_CLIENT_OUTPUT: "json", USER_CLIENT_COUNT: "3",
    // The Go client's; this one has no such flags and ignores them.
    USER_CLIENT_OTLP_ENDPOINT: "127.0.0.1:4317", USER_CLIENT_HEALTH_SERVICE: "x",
  };
  assert.deepEqual(parse([], (k) => env[k]), {
    addrs: ["10.0.0.1:1", "10.0.0.2:2"], user: "jane", token: "tok", timeout: 62_500_000_000n, tls: true,
    caFile: "ca.pem", certFile: "c.pem", keyFile: "k.pem", serverName: "srv.test", output: "json", count: 3n,
  });
  const c = parse(["-user", "john123", "--token=", "--count=1"], (k) => env[k]);
  assert.equal(c.user, "john123");
  assert.equal(c.token, "");
  assert.equal(c.count, 1n);
  assert.equal(c.timeout, 62_500_000_000n);
});

test("TLS implied by --ca, --cert/--key, --server-name", () => {
  for (const args of [["--ca", "ca.pem"], ["--cert", "c", "--key", "k"], ["--server-name", "x"]]) {
    assert.equal(parse(args, none).tls, true, args.join(" "));
  }
});

test("help, and the Go client's flags this one lacks", () => {
  assert.throws(() => parse(["-h"], none), HelpRequested);
  assert.throws(() => parse(["--help"], none), HelpRequested);
  for (const f of ["--health", "--health-service=x", "--otlp-endpoint=127.0.0.1:4317"]) {
    let err: unknown;
    try {
      parse([f], none);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof UsageError, f);
    assert.match(render.error(err, (s) => s), /^error: usage: flag -[a-z-]+ is the Go client's \(user-client\); user-client-node does not have it \(see --help\)\n$/);
    assert.equal(exitCode(err), 2);
  }
});

test("tokenArgs finds --token values without parsing, past --", () => {
  assert.deepEqual(tokenArgs(["--token", "a", "-token=b", "---token", "c"]), ["a", "b", "c"]);
  assert.deepEqual(tokenArgs(["--user", "--", "--token", "s"]), ["s"]);
  assert.deepEqual(tokenArgs(["--user", "x", "--token"]), []);
  assert.deepEqual(tokenArgs(["token", "x", "--tokens", "y"]), []);
});

test("Go's integers", () => {
  assert.equal(parseInt64("0x_1F"), 31n);
  assert.equal(parseInt64("0o17"), 15n);
  assert.equal(parseInt64("017"), 15n);
  assert.equal(parseInt64("0B101"), 5n);
  assert.equal(parseInt64("1_000"), 1000n);
  assert.equal(parseInt64("+9223372036854775807"), 9223372036854775807n);
  assert.equal(parseInt64("-0x8000000000000000"), -9223372036854775808n);
  assert.throws(() => parseInt64("0x8000000000000000"), /value out of range/);
  assert.throws(() => parseInt64("0_x1"), /parse error/);
});

test("Go's durations", () => {
  assert.equal(parseDuration("5s"), 5_000_000_000n);
  assert.equal(parseDuration("250ms"), 250_000_000n);
  assert.equal(parseDuration("1h1m1.5s"), 3_661_500_000_000n);
  assert.equal(parseDuration("1.5µs"), 1500n);
  assert.equal(parseDuration("1.5μs"), 1500n);
  assert.equal(parseDuration(".5us"), 500n);
  assert.equal(parseDuration("5.s"), 5_000_000_000n);
  assert.equal(parseDuration("0.3333333333h"), 1_199_999_999_880n);
  assert.equal(parseDuration("9223372036854775807ns"), 9223372036854775807n);
  assert.throws(() => parseDuration("9223372036854775808ns"));
  assert.throws(() => parseDuration("5"));
  assert.throws(() => parseDuration("5sec"));
  assert.equal(formatDuration(-1_000_000_000n), "-1s");
  assert.equal(formatDuration(90_000_000_000n), "1m30s");
  assert.equal(formatDuration(5_000_000_000n), "5s");
  assert.equal(formatDuration(0n), "0s");
  assert.equal(formatDuration(1_500n), "1.5µs");
  assert.equal(formatDuration(3_600_000_000_001n), "1h0m0.000000001s");
});
