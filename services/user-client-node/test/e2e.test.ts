// The CLI against the real user-server binary, as a process (main.ts: the
// bytes of argv and the environment, the exit code) and through `npm
// start`, and in process through run().
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { repoFile, startServer, type Result, type Server } from "../../user-client-node-lib/test/harness.js";
import { run } from "../src/run.js";

const reference = "Response:\nName: John Doe\nEmail: john123@example.com\nStatus: Success\n";
const main = fileURLToPath(new URL("../src/main.js", import.meta.url));
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("USER_CLIENT_")));

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

// exec runs file with args and returns its exit code and output as bytes
// decoded leniently (the tests compare ASCII).
function exec(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return new Promise((resolve) =>
    execFile(file, args, { env: opts.env ?? cleanEnv, cwd: opts.cwd }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
}

let server: Server;
before(async () => {
  server = await startServer();
});
after(async () => {
  assert.equal(await server.stop(), 0, "user-server exits 0 on SIGTERM");
});

test("reference run, as a process, byte for byte", async () => {
  assert.deepEqual(await exec(process.execPath, [main, "--addr", server.addr]), { code: 0, stdout: reference, stderr: "" });
});

test("npm start prints only the client's output, and its exit code", async () => {
  // The repository's .npmrc (loglevel=silent) drops npm's banner and its
  // "command failed" lines; npm_config_loglevel from a calling npm would
  // override it, so the child does not inherit npm's settings.
  const env = Object.fromEntries(Object.entries(cleanEnv).filter(([k]) => !k.toLowerCase().startsWith("npm_")));
  const cwd = repoFile("services/user-client-node/package.json").replace(/package\.json$/, "");
  assert.deepEqual(await exec("npm", ["start", "--", "--addr", server.addr], { cwd, env }), { code: 0, stdout: reference, stderr: "" });
  assert.deepEqual(await exec("npm", ["start", "--", "--addr", server.addr, "--user", "nobody"], { cwd, env }), {
    code: 4,
    stdout: "",
    stderr: "error: NotFound: user not found\n",
  });
});

test("bytes that are not UTF-8 reach the client as bytes (/proc/self/cmdline, /proc/self/environ)", async () => {
  // execFile cannot pass such bytes: a shell makes them.
  const sh = (script: string, env: NodeJS.ProcessEnv = cleanEnv) => exec("/bin/sh", ["-c", script, "sh", process.execPath, main], { env });
  assert.deepEqual(await sh(`exec "$1" "$2" --user "$(printf 'john\\377')"`), {
    code: 2,
    stdout: "",
    stderr: 'error: usage: --user "john\\xff" is not valid UTF-8 (see --help)\n',
  });
  assert.deepEqual(await sh(`USER_CLIENT_TOKEN="$(printf 'tok\\377')" exec "$1" "$2"`), {
    code: 2,
    stdout: "",
    stderr: "error: usage: --token is not valid UTF-8 (see --help)\n",
  });
  assert.deepEqual(await sh(`exec "$1" "$2" "$(printf -- '--\\377')"`), {
    code: 2,
    stdout: "",
    stderr: "error: usage: flag provided but not defined: -\\xff (see --help)\n",
  });
});

test("in process: text and JSON, address from the environment", async () => {
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

test("invalid request: the server's lines and exit code, from the local check", async () => {
  const r = await runClient(["--addr", server.addr, "--user", "a b\t.", "--token", "x".repeat(513)]);
  assert.deepEqual(r, {
    code: 5,
    stdout: "",
    stderr:
      "error: InvalidArgument: invalid request: user_id: does not match regex pattern `^[A-Za-z0-9._-]+$`; " +
      "auth_token: must be at most 512 characters\n" +
      "  user_id: does not match regex pattern `^[A-Za-z0-9._-]+$` [string.pattern]\n" +
      "  auth_token: must be at most 512 characters [string.max_len]\n",
  });
});

test("--timeout beyond the wire's limit, against grpc-go", async () => {
  // grpc-go refuses a grpc-timeout of more than 8 digits (HTTP 400).
  for (const t of ["28h", "600h", "2562047h"]) {
    assert.deepEqual(await runClient(["--addr", server.addr, "--timeout", t]), { code: 0, stdout: reference, stderr: "" }, t);
  }
});

test("--help", async () => {
  const r = await runClient(["--help", "--token", "s3cret"]);
  assert.equal(r.code, 0);
  assert.equal(r.stderr, "");
  for (const s of ["--addr", "--user", "--token", "--timeout", "--tls", "--ca", "--cert", "--key", "--server-name", "--output", "--count", "USER_CLIENT_TOKEN", "0  success", "6  Unavailable"]) {
    assert.ok(r.stdout.includes(s), `--help does not mention ${s}`);
  }
  assert.ok(!r.stdout.includes("s3cret") && !r.stdout.includes("valid-token"));
});
