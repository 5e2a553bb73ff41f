// The client against the real user-server binary (and, for a held call, a
// server that never answers), in process through run() and as a process.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer as createHttp2Server, type Http2Server } from "node:http2";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { ConnectError, Code } from "@connectrpc/connect";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { GetUserDetailsRequestSchema } from "../../../gen/es/user/v1/user_pb.js";
import { Channel } from "../src/client.js";
import { exitCode } from "../src/exitcode.js";
import * as render from "../src/render.js";
import { run } from "../src/run.js";
import { check } from "../src/validation.js";
import { startServer, testPKI, type Result, type Server } from "./harness.js";

const reference = "Response:\nName: John Doe\nEmail: john123@example.com\nStatus: Success\n";

async function runClient(args: string[], env: Record<string, string> = {}): Promise<Result> {
  let stdout = "";
  let stderr = "";
  const code = await run(args, {
    getenv: (k) => env[k],
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    signal: new AbortController().signal,
  });
  return { code, stdout, stderr };
}

let server: Server;
before(async () => {
  server = await startServer();
});
after(async () => {
  assert.equal(await server.stop(), 0, "user-server exits 0 on SIGTERM");
});

test("reference run, as a process, byte for byte", async () => {
  const main = fileURLToPath(new URL("../src/main.js", import.meta.url));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("USER_CLIENT_")));
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
    execFile(process.execPath, [main, "--addr", server.addr], { env }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr }),
    ),
  );
  assert.equal(stdout, reference);
  assert.equal(stderr, "");
});

test("reference run in process, text and JSON, address from the environment", async () => {
  assert.deepEqual(await runClient([], { USER_CLIENT_ADDR: server.addr }), { code: 0, stdout: reference, stderr: "" });
  const json = await runClient(["--output", "json"], { USER_CLIENT_ADDR: server.addr });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), { name: "John Doe", email: "john123@example.com", status: "Success" });
});

test("wrong token: Unauthenticated, exit 3, token never printed", async () => {
  const r = await runClient(["--addr", server.addr, "--token", "wrong-secret-token"]);
  assert.deepEqual(r, { code: 3, stdout: "", stderr: "error: Unauthenticated: missing or invalid auth token\n" });
});

test("unknown user: NotFound, exit 4", async () => {
  const r = await runClient(["--addr", server.addr, "--user", "nobody"]);
  assert.deepEqual(r, { code: 4, stdout: "", stderr: "error: NotFound: user not found\n" });
});

test("server's InvalidArgument: every violation decoded from the status details, as the local check prints them", async () => {
  // Sent without the local check, straight through the channel, so the
  // server is the one rejecting it.
  const req = create(GetUserDetailsRequestSchema, { userId: "é".repeat(65), authToken: "t".repeat(513) });
  const channel = new Channel([server.addr], undefined);
  const err = await channel.getUserDetails(req, 5000, new AbortController().signal).then(
    () => assert.fail("the server accepted an invalid request"),
    (e: unknown) => e,
  );
  channel.close();
  assert.ok(err instanceof ConnectError);
  assert.equal(err.code, Code.InvalidArgument);
  const details = err.findDetails(ViolationsSchema);
  assert.equal(details.length, 1, "one buf.validate.Violations detail");
  const want =
    "error: InvalidArgument: invalid request: user_id: must be at most 64 characters; " +
    "user_id: does not match regex pattern `^[A-Za-z0-9._-]+$`; auth_token: must be at most 512 characters\n" +
    "  user_id: must be at most 64 characters [string.max_len]\n" +
    "  user_id: does not match regex pattern `^[A-Za-z0-9._-]+$` [string.pattern]\n" +
    "  auth_token: must be at most 512 characters [string.max_len]\n";
  assert.equal(render.error(err, (s) => s), want);
  // The local check gives the very same lines and exit code.
  const local = check(req);
  assert.equal(render.error(local, (s) => s), want);
  assert.equal(exitCode(local), exitCode(err));
  assert.equal(exitCode(err), 5);
});

test("missing token: the local check answers as the server does", async () => {
  const req = create(GetUserDetailsRequestSchema, { userId: "john123", authToken: "" });
  const channel = new Channel([server.addr], undefined);
  const err = await channel.getUserDetails(req, 5000, new AbortController().signal).catch((e: unknown) => e);
  channel.close();
  const local = check(req);
  assert.equal(render.error(local, (s) => s), render.error(err, (s) => s));
  assert.equal(exitCode(local), 3);
  assert.equal(exitCode(err), 3);
});

test("invalid requests fail locally and never reach the server", async () => {
  const own = await startServer();
  try {
    const bad = await runClient(["--addr", own.addr, "--user", "a b\t.", "--token", "x".repeat(513)]);
    assert.deepEqual(bad, {
      code: 5,
      stdout: "",
      stderr:
        "error: InvalidArgument: invalid request: user_id: does not match regex pattern `^[A-Za-z0-9._-]+$`; " +
        "auth_token: must be at most 512 characters\n" +
        "  user_id: does not match regex pattern `^[A-Za-z0-9._-]+$` [string.pattern]\n" +
        "  auth_token: must be at most 512 characters [string.max_len]\n",
    });
    const missing = await runClient(["--addr", own.addr, "--token="]);
    assert.deepEqual(missing, { code: 3, stdout: "", stderr: "error: Unauthenticated: missing or invalid auth token\n" });
    // One valid call, so the log provably records calls that do arrive.
    assert.equal((await runClient(["--addr", own.addr])).code, 0);
  } finally {
    assert.equal(await own.stop(), 0);
  }
  const calls = readFileSync(own.logFile, "utf8")
    .split("\n")
    .filter((l) => l.includes("GetUserDetails"));
  assert.equal(calls.length, 1, `the server logged exactly the one valid call:\n${calls.join("\n")}`);
});

test("server down: Unavailable, exit 6", async () => {
  // A port that was free a moment ago and has nothing listening now.
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const r = await runClient(["--addr", `127.0.0.1:${port}`, "--timeout", "10s"]);
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stderr, /^error: Unavailable: .*ECONNREFUSED.*\n$/);
});

test("a call the server holds past the deadline: DeadlineExceeded, exit 6", async () => {
  // user-server has no way to stall a call, so this server answers the first
  // call at once (NotFound, which also opens the connection) and holds the
  // second: it accepts the stream and never answers. The deadline expires
  // while the request is at the server, not before it is sent.
  let streams = 0;
  const held: Http2Server = createHttp2Server();
  held.on("stream", (stream) => {
    streams++;
    stream.on("error", () => {});
    stream.resume();
    if (streams === 1) {
      stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "5", "grpc-message": "first" }, { endStream: true });
    }
  });
  await new Promise<void>((resolve) => held.listen(0, "127.0.0.1", resolve));
  const channel = new Channel([`127.0.0.1:${(held.address() as AddressInfo).port}`], undefined);
  try {
    const req = create(GetUserDetailsRequestSchema, { userId: "john123", authToken: "valid-token" });
    const signal = new AbortController().signal;
    const first = await channel.getUserDetails(req, 10_000, signal).catch((e: unknown) => e);
    assert.equal(exitCode(first), 4, String(first));
    const err = await channel.getUserDetails(req, 1000, signal).catch((e: unknown) => e);
    assert.equal(streams, 2, "the held call reached the server");
    assert.match(render.error(err, (s) => s), /^error: DeadlineExceeded: /);
    assert.equal(exitCode(err), 6);
  } finally {
    channel.close();
    await new Promise<void>((resolve) => held.close(() => resolve()));
  }
});

test("TLS with a test certificate", async () => {
  const pki = testPKI();
  const tls = await startServer(["--tls-cert", pki.cert, "--tls-key", pki.key]);
  try {
    assert.deepEqual(await runClient(["--addr", tls.addr, "--ca", pki.ca]), { code: 0, stdout: reference, stderr: "" });
    const port = tls.addr.split(":")[1] ?? "";
    assert.deepEqual(
      await runClient(["--addr", `localhost:${port}`, "--ca", pki.ca, "--server-name", "localhost"]),
      { code: 0, stdout: reference, stderr: "" },
    );
    // Not trusted without the CA (system roots): refused before any call.
    const untrusted = await runClient(["--addr", tls.addr, "--tls", "--timeout", "10s"]);
    assert.equal(untrusted.code, 6, untrusted.stderr);
    assert.match(untrusted.stderr, /^error: Unavailable: connection error: /);
  } finally {
    assert.equal(await tls.stop(), 0);
  }
});
