// Test harness: the real user-server binary (USER_SERVER_BIN, built by
// `make test-node`) on a free loopback port, and test certificates.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

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
