// The library against the real user-server binary, scripted fakes (retries,
// deadlines) and a server that never answers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer as createHttp2Server, type Http2Server, type IncomingHttpHeaders } from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { GetUserDetailsRequestSchema } from "@acme/user-proto/user/v1/user_pb.js";
import {
  check,
  Code,
  ConnectError,
  createUserServiceClient,
  exitCode,
  ExitCode,
  MAX_TIMEOUT_MS,
  parseAddresses,
  timeoutFor,
  tlsFromFiles,
  UsageError,
  type ClientOptions,
} from "../src/index.js";
import { closedAddr, startFake, startServer, testPKI, type Server } from "./harness.js";

const john = { name: "John Doe", email: "john123@example.com", status: "Success" };

// call makes one GetUserDetails call with a fresh client and returns the
// response or the error.
async function call(options: ClientOptions, init: { userId?: string; authToken?: string } = { userId: "john123" }): Promise<unknown> {
  const client = createUserServiceClient(options);
  try {
    const r = await client.getUserDetails(init);
    return { name: r.name, email: r.email, status: r.status };
  } catch (err) {
    return err;
  } finally {
    client.close();
  }
}

let server: Server;
before(async () => {
  server = await startServer();
});
after(async () => {
  assert.equal(await server.stop(), 0, "user-server exits 0 on SIGTERM");
});

test("the reference call: the client's token fills an empty authToken, a request's own wins", async () => {
  assert.deepEqual(await call({ address: server.addr, token: "valid-token" }), john);
  const wrong = await call({ address: server.addr, token: "valid-token" }, { userId: "john123", authToken: "wrong" });
  assert.ok(wrong instanceof ConnectError);
  assert.equal(wrong.code, Code.Unauthenticated);
  assert.equal(exitCode(wrong), ExitCode.Unauthenticated);
  const nobody = await call({ address: server.addr, token: "valid-token" }, { userId: "nobody" });
  assert.equal(exitCode(nobody), ExitCode.NotFound);
});

test("the local check answers exactly as the server does", async () => {
  for (const init of [
    { userId: "é".repeat(65), authToken: "t".repeat(513) },
    { userId: "a b", authToken: "valid-token" },
    { userId: "john123", authToken: "" },
    { userId: "", authToken: "" },
  ]) {
    // Sent without the local check, so the server is the one rejecting it.
    const remote = await call({ address: server.addr, validate: false }, init);
    const local = check(GetUserDetailsRequestSchema, create(GetUserDetailsRequestSchema, init));
    assert.ok(remote instanceof ConnectError && local instanceof ConnectError, String(remote));
    assert.equal(local.code, remote.code);
    assert.equal(local.rawMessage, remote.rawMessage);
    const lines = (e: ConnectError) =>
      e.findDetails(ViolationsSchema).flatMap((vs) =>
        vs.violations.map((v) => `${(v.field?.elements ?? []).map((x) => x.fieldName).join(".")}: ${v.message} [${v.ruleId}]`),
      );
    assert.deepEqual(lines(local), lines(remote));
    assert.equal(lines(remote).length > 0, remote.code === Code.InvalidArgument);
    assert.equal(exitCode(local), exitCode(remote));
  }
});

test("invalid requests fail locally and never reach the server", async () => {
  const own = await startServer();
  try {
    const bad = await call({ address: own.addr, token: "valid-token" }, { userId: "a b\t." });
    assert.equal(exitCode(bad), ExitCode.InvalidArgument);
    const missing = await call({ address: own.addr }, { userId: "john123" });
    assert.equal(exitCode(missing), ExitCode.Unauthenticated);
    // One valid call, so the log provably records calls that do arrive.
    assert.deepEqual(await call({ address: own.addr, token: "valid-token" }), john);
  } finally {
    assert.equal(await own.stop(), 0);
  }
  const calls = readFileSync(own.logFile, "utf8")
    .split("\n")
    .filter((l) => l.includes("GetUserDetails"));
  assert.equal(calls.length, 1, `the server logged exactly the one valid call:\n${calls.join("\n")}`);
});

test("a timeout beyond the wire's 8 digits is capped, and user-server accepts it", async () => {
  assert.equal(timeoutFor(28 * 3_600_000), MAX_TIMEOUT_MS);
  assert.equal(timeoutFor(0.000001), 1);
  assert.equal(timeoutFor(1.5), 2);
  for (const bad of [0, -1, Number.NaN]) assert.throws(() => timeoutFor(bad), UsageError);
  // grpc-go answers a longer grpc-timeout with HTTP 400 (Internal), and a
  // timer beyond 2^31-1 ms would overflow.
  for (const hours of [28, 600, 2_562_047]) {
    assert.deepEqual(await call({ address: server.addr, token: "valid-token", timeoutMs: hours * 3_600_000 }), john, `${hours}h`);
  }
});

test("what is sent: grpc-timeout of at most 8 digits", async () => {
  const seen: IncomingHttpHeaders[] = [];
  const raw: Http2Server = createHttp2Server();
  raw.on("stream", (stream, headers) => {
    seen.push(headers);
    stream.on("error", () => {});
    stream.resume();
    stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "5", "grpc-message": "x" }, { endStream: true });
  });
  await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
  try {
    const addr = `127.0.0.1:${(raw.address() as AddressInfo).port}`;
    await call({ address: addr, token: "t", timeoutMs: 600 * 3_600_000 });
    await call({ address: addr, token: "t", timeoutMs: 250 });
    assert.deepEqual(seen.map((h) => h["grpc-timeout"]), [`${MAX_TIMEOUT_MS}m`, "250m"]);
  } finally {
    await new Promise<void>((resolve) => raw.close(() => resolve()));
  }
});

test("UNAVAILABLE is retried, 4 attempts in all by default, and not when retries are off", async () => {
  const fake = await startFake({ error: { code: "unavailable", message: "going away" } });
  try {
    const err = await call({ address: fake.addr, token: "t", timeoutMs: 30_000 });
    assert.equal(exitCode(err), ExitCode.Unavailable);
    assert.equal(fake.calls(), 4);
    await call({ address: fake.addr, token: "t", retry: false });
    assert.equal(fake.calls(), 5);
    await call({ address: fake.addr, token: "t", retry: { maxAttempts: 2 } });
    assert.equal(fake.calls(), 7);
  } finally {
    await fake.close();
  }
  // Other codes are not retried.
  const notFound = await startFake({ error: { code: "not_found", message: "no" } });
  try {
    await call({ address: notFound.addr, token: "t" });
    assert.equal(notFound.calls(), 1);
  } finally {
    await notFound.close();
  }
});

test("round-robin over an address list", async () => {
  const a = await startFake({ response: { name: "A", email: "", status: "" } });
  const b = await startFake({ response: { name: "B", email: "", status: "" } });
  const client = createUserServiceClient({ address: `${a.addr},${b.addr}`, token: "t" });
  try {
    const names = [];
    for (let i = 0; i < 4; i++) names.push((await client.getUserDetails({ userId: "x" })).name);
    assert.deepEqual(names, ["A", "B", "A", "B"]);
  } finally {
    client.close();
    await a.close();
    await b.close();
  }
});

test("server down: Unavailable, exit 6", async () => {
  const err = await call({ address: await closedAddr(), token: "t", timeoutMs: 10_000 });
  assert.ok(err instanceof ConnectError);
  assert.equal(exitCode(err), ExitCode.Unavailable);
  assert.match(err.rawMessage, /ECONNREFUSED/);
});

test("a call the server holds past the deadline: DeadlineExceeded, exit 6; an aborted call: Canceled", async () => {
  let streams = 0;
  const held: Http2Server = createHttp2Server();
  held.on("stream", (stream) => {
    streams++;
    stream.on("error", () => {});
    stream.resume();
  });
  await new Promise<void>((resolve) => held.listen(0, "127.0.0.1", resolve));
  const client = createUserServiceClient({ address: `127.0.0.1:${(held.address() as AddressInfo).port}`, token: "t" });
  try {
    const err = await client.getUserDetails({ userId: "x" }, { timeoutMs: 300 }).catch((e: unknown) => e);
    assert.equal(streams, 1, "the held call reached the server");
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.DeadlineExceeded);
    assert.equal(exitCode(err), ExitCode.Unavailable);
    const ac = new AbortController();
    const pending = client.getUserDetails({ userId: "x" }, { signal: ac.signal }).catch((e: unknown) => e);
    setTimeout(() => ac.abort(), 100);
    const aborted = await pending;
    assert.ok(aborted instanceof ConnectError);
    assert.equal(aborted.code, Code.Canceled);
    assert.equal(exitCode(aborted), ExitCode.Other);
  } finally {
    client.close();
    await new Promise<void>((resolve) => held.close(() => resolve()));
  }
});

test("TLS with a test certificate", async () => {
  const pki = testPKI();
  const tls = await startServer(["--tls-cert", pki.cert, "--tls-key", pki.key]);
  try {
    assert.deepEqual(await call({ address: tls.addr, token: "valid-token", tls: await tlsFromFiles({ caFile: pki.ca }) }), john);
    const port = tls.addr.split(":")[1] ?? "";
    const byName = { address: `localhost:${port}`, token: "valid-token", tls: await tlsFromFiles({ caFile: pki.ca, serverName: "localhost" }) };
    assert.deepEqual(await call(byName), john);
    // Not trusted without the CA (system roots): refused before any call.
    const untrusted = await call({ address: tls.addr, token: "valid-token", tls: true, timeoutMs: 10_000 });
    assert.equal(exitCode(untrusted), ExitCode.Unavailable);
    assert.match((untrusted as ConnectError).rawMessage, /^connection error: /);
    await assert.rejects(tlsFromFiles({ caFile: "/nonexistent/ca.pem" }), /^Error: read CA file: /);
  } finally {
    assert.equal(await tls.stop(), 0);
  }
});

test("bad options are UsageErrors (exit 2)", () => {
  for (const address of ["", "::1:50051", "fe80::1", "a:1,::1:2", "unix:///x", "a:1,b"]) {
    assert.throws(() => createUserServiceClient({ address }), UsageError, address);
  }
  assert.deepEqual(parseAddresses(" dns:///a:1 "), ["a:1"]);
  assert.deepEqual(parseAddresses("[::1]:1, b:2"), ["[::1]:1", "b:2"]);
  assert.throws(() => createUserServiceClient({ address: "a:1", timeoutMs: 0 }), UsageError);
  assert.throws(() => createUserServiceClient({ address: "a:1", tls: { cert: "x" } }), UsageError);
  assert.equal(exitCode(new UsageError("x")), 2);
});

test("exit codes, by outcome", () => {
  const cases: [unknown, number][] = [
    [undefined, 0],
    [new UsageError("x"), 2],
    [new ConnectError("x", Code.Unauthenticated), 3],
    [new ConnectError("x", Code.NotFound), 4],
    [new ConnectError("x", Code.InvalidArgument), 5],
    [new ConnectError("x", Code.Unavailable), 6],
    [new ConnectError("x", Code.DeadlineExceeded), 6],
    [new ConnectError("x", Code.PermissionDenied), 1],
    [new ConnectError("x", Code.Internal), 1],
    [new Error("x"), 1],
  ];
  for (const [err, want] of cases) assert.equal(exitCode(err), want, String(err));
});
