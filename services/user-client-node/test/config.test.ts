// Flags and environment, as the Go user-client reads them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HelpRequested, parse, parseDuration, formatDuration, UsageError } from "../src/config.js";
import { exitCode } from "../src/exitcode.js";
import * as render from "../src/render.js";

const none = () => undefined;

test("defaults", () => {
  assert.deepEqual(parse([], none), {
    addrs: ["127.0.0.1:50051"], user: "john123", token: "valid-token", timeoutMs: 5000, tls: false,
    caFile: "", certFile: "", keyFile: "", serverName: "", output: "text", count: 1,
  });
});

test("environment fallbacks, and flags win", () => {
  const env: Record<string, string> = {
    USER_CLIENT_ADDR: "10.0.0.1:1, 10.0.0.2:2", USER_CLIENT_USER: "jane", USER_CLIENT_TOKEN: "tok",
    USER_CLIENT_TIMEOUT: "1m2.5s", USER_CLIENT_TLS: "true", USER_CLIENT_CA: "ca.pem", USER_CLIENT_CERT: "c.pem",
    USER_CLIENT_KEY: "k.pem", USER_CLIENT_SERVER_NAME: "srv.test", USER_CLIENT_OUTPUT: "json", USER_CLIENT_COUNT: "3",
  };
  assert.deepEqual(parse([], (k) => env[k]), {
    addrs: ["10.0.0.1:1", "10.0.0.2:2"], user: "jane", token: "tok", timeoutMs: 62_500, tls: true,
    caFile: "ca.pem", certFile: "c.pem", keyFile: "k.pem", serverName: "srv.test", output: "json", count: 3,
  });
  const c = parse(["-user", "john123", "--token=", "--count=1"], (k) => env[k]);
  assert.equal(c.user, "john123");
  assert.equal(c.token, "");
  assert.equal(c.count, 1);
  assert.equal(c.timeoutMs, 62_500);
});

test("TLS implied by --ca, --cert/--key, --server-name", () => {
  for (const args of [["--ca", "ca.pem"], ["--cert", "c", "--key", "k"], ["--server-name", "x"]]) {
    assert.equal(parse(args, none).tls, true, args.join(" "));
  }
});

test("usage errors: exit 2, one line, never the token", () => {
  for (const args of [
    ["--addr", ""], ["--addr", "a:1,"], ["--addr", "a:1,b"], ["--addr", "unix:///x"], ["--timeout", "-1s"],
    ["--timeout", "5"], ["--output", "yaml"], ["--count", "-2"], ["--key", "k"], ["extra"], ["--nope"], ["--addr"],
    ["--tls=maybe"],
  ]) {
    assert.throws(() => parse(args, none), UsageError, args.join(" "));
  }
  assert.throws(() => parse(["-h"], none), HelpRequested);
  assert.throws(() => parse(["--help"], none), HelpRequested);
  let err: unknown;
  try {
    parse([], (k) => (k === "USER_CLIENT_COUNT" ? "x" : undefined));
  } catch (e) {
    err = e;
  }
  assert.equal(render.error(err, (s) => s), 'error: usage: invalid USER_CLIENT_COUNT="x": parse error (see --help)\n');
  assert.equal(exitCode(err), 2);
});

test("Go durations", () => {
  assert.equal(parseDuration("5s"), 5000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("1h1m1.5s"), 3_661_500);
  assert.equal(parseDuration("0"), 0);
  assert.throws(() => parseDuration("5"));
  assert.throws(() => parseDuration(""));
  assert.equal(formatDuration(-1000), "-1s");
  assert.equal(formatDuration(90_000), "1m30s");
  assert.equal(formatDuration(5000), "5s");
  assert.equal(formatDuration(0), "0s");
});
