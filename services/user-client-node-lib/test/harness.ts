// Test helpers of the Node packages' tests (the library's and the CLI's,
// which compiles this file too): the real user-server binary
// (USER_SERVER_BIN, built by `make test-node`) on a free loopback port, a
// scripted fake server, closed ports and test certificates. No import of
// the library itself, so the CLI's tests load one copy of it.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttp2Server, type ServerHttp2Session } from "node:http2";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { UserService, type GetUserDetailsRequest } from "@acme/user-proto/user/v1/user_pb.js";

/** repoFile finds a file by its path from the repository root, whatever directory the compiled test runs from. */
export function repoFile(rel: string): string {
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, rel))) return join(d, rel);
  }
  throw new Error(`${rel} not found above ${fileURLToPath(import.meta.url)}`);
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "user-client-node-test-"));
}

export type Server = {
  addr: string;
  logFile: string;
  /** stop sends SIGTERM and resolves to the exit code (the server flushes its log first). */
  stop: () => Promise<number | null>;
};

/** startServer runs the real user-server with args on 127.0.0.1:0 and waits for its "listening on" line. */
export async function startServer(args: string[] = []): Promise<Server> {
  const bin = process.env["USER_SERVER_BIN"];
  if (!bin) throw new Error("USER_SERVER_BIN is not set: run the tests through `make test-node`");
  const logFile = join(tempDir(), "server.log");
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("USER_SERVER_")));
  const child: ChildProcess = spawn(bin, ["--listen", "127.0.0.1:0", "--log-file", logFile, ...args], {
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const addr = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (l) => {
      const m = /^listening on (.+)$/.exec(l);
      if (m?.[1]) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`user-server exited (${code}) before listening; log: ${logFile}`)));
  });
  return {
    addr,
    logFile,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

export type PKI = { dir: string; ca: string; cert: string; key: string };

/** testPKI makes a CA and a server certificate for 127.0.0.1 and localhost with openssl. */
export function testPKI(): PKI {
  const dir = tempDir();
  const f = (n: string) => join(dir, n);
  const ssl = (...a: string[]) => execFileSync("openssl", a, { stdio: ["ignore", "ignore", "pipe"] });
  ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
    "-subj", "/CN=user-service test CA", "-keyout", f("ca.key"), "-out", f("ca.pem"));
  ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-subj", "/CN=user-server", "-keyout", f("server.key"), "-out", f("server.csr"));
  writeFileSync(f("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  ssl("x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial",
    "-days", "1", "-extfile", f("ext.cnf"), "-out", f("server.pem"));
  readFileSync(f("server.pem"));
  return { dir, ca: f("ca.pem"), cert: f("server.pem"), key: f("server.key") };
}

/** Output of one run of the client, in process. */
export type Result = { code: number; stdout: string; stderr: string };

/** closedAddr returns a loopback address nothing listens on (a port that was free a moment ago). */
export async function closedAddr(): Promise<string> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

/**
 * What a scripted server answers every GetUserDetails call with: a response
 * or an error (code as Connect names it, e.g. "not_found"), with optional
 * buf.validate violations. "{token}" in any text is replaced by the
 * request's auth_token: a server that echoes the secret.
 */
export type Answer = {
  response?: { name: string; email: string; status: string };
  error?: { code: string; message: string; violations?: { field: string; rule: string; message: string }[] };
};

export type Fake = { addr: string; calls: () => number; requests: GetUserDetailsRequest[]; close: () => Promise<void> };

/**
 * startFake serves user.v1.UserService with Connect's Node.js server (gRPC
 * over plaintext HTTP/2) on a loopback port, answering every call with
 * answer. It enforces the gRPC wire rules as servers do, among them the
 * 8-digit limit of grpc-timeout.
 */
export async function startFake(answer: Answer): Promise<Fake> {
  const requests: GetUserDetailsRequest[] = [];
  const handler = connectNodeAdapter({
    grpc: true,
    connect: false,
    grpcWeb: false,
    routes: (router) =>
      router.service(UserService, {
        getUserDetails(req) {
          requests.push(req);
          const echo = (s: string) => s.replaceAll("{token}", req.authToken);
          if (answer.error) {
            const code = Code[codeName(answer.error.code)];
            const violations = (answer.error.violations ?? []).map((v) => ({
              field: { elements: [{ fieldName: v.field }] },
              ruleId: echo(v.rule),
              message: echo(v.message),
            }));
            throw new ConnectError(
              echo(answer.error.message),
              code,
              undefined,
              violations.length > 0 ? [{ desc: ViolationsSchema, value: create(ViolationsSchema, { violations }) }] : [],
            );
          }
          const r = answer.response ?? { name: "", email: "", status: "" };
          return { name: echo(r.name), email: echo(r.email), status: echo(r.status) };
        },
      }),
  });
  const server = createHttp2Server(handler);
  const open = new Set<ServerHttp2Session>();
  server.on("session", (s) => {
    open.add(s);
    s.on("close", () => open.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    addr: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls: () => requests.length,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle client sessions would hold close() open.
        for (const s of open) s.destroy();
      }),
  };
}

// codeName turns a gRPC code name ("not_found", "NOT_FOUND", "NotFound")
// into Connect's enum key.
function codeName(s: string): keyof typeof Code {
  const key = s
    .toLowerCase()
    .split("_")
    .map((w) => (w[0] ?? "").toUpperCase() + w.slice(1))
    .join("") as keyof typeof Code;
  if (typeof Code[key] !== "number") throw new Error(`unknown gRPC code ${s}`);
  return key;
}
