// Proof from outside the repository: the three packages, packed with `npm
// pack` as a registry would serve them, installed into a scratch project
// under the system's temporary directory with nothing else, and used from
// there: ESM and CommonJS imports, a strict type-check against their
// declarations, the reference call through the library against the real
// user-server, and the CLI's bin.
//
// Hermetic: `npm ci --offline`. The scratch project's lock is written here
// from the repository's package-lock.json (the same versions, resolved URLs
// and integrity hashes) plus the tarballs' own, so npm takes every package
// from the npm cache that the repository's own `npm ci` filled (the same
// cache: npm_config_cache is inherited) and never reaches a network. A
// dependency a tarball needs but does not declare is missing from the lock,
// so the install or the imports fail.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoFile, startServer, tempDir, type Server } from "./harness.js";

const root = repoFile("package-lock.json").replace(/package-lock\.json$/, "");
const workspaces = ["gen/es", "services/user-client-node-lib", "services/user-client-node"];
const reference = "Response:\nName: John Doe\nEmail: john123@example.com\nStatus: Success\n";

type Manifest = {
  name: string;
  version: string;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};
type LockEntry = Record<string, unknown> & { version?: string; link?: boolean; dependencies?: Record<string, string>; peerDependencies?: Record<string, string> };

// sh runs a command; npm's own messages are asked for (the repository's
// .npmrc silences them, and the scratch project is outside it anyway).
function sh(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(file, args, { cwd, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
}

function ok(r: { code: number; stdout: string; stderr: string }, what: string): string {
  assert.equal(r.code, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// The versions a consumer on Node.js 20 pins (2.14 and later need Node 22),
// and the compiler for the type-check, as the repository pins them.
const extra = { "@bufbuild/protobuf": "2.13.0", "@bufbuild/protovalidate": "1.3.0" };
const devExtra = { typescript: "5.9.3", "@types/node": "20.19.43" };

let dir: string;
let app: string;
let server: Server;

before(async () => {
  dir = tempDir();
  const tgz = join(dir, "tgz");
  app = join(dir, "app");
  mkdirSync(tgz);
  mkdirSync(app);
  const packed = JSON.parse(
    ok(await sh("npm", ["pack", "--json", "--loglevel=error", "--pack-destination", tgz, ...workspaces.flatMap((w) => ["-w", w])], root), "npm pack"),
  ) as { name: string; filename: string; files: { path: string }[] }[];
  assert.deepEqual(packed.map((p) => p.name).sort(), ["@acme/user-client", "@acme/user-proto", "user-client-node"]);
  for (const p of packed) {
    const stray = p.files.map((f) => f.path).filter((f) => /(^|\/)test\/|tsbuildinfo|node_modules/.test(f));
    assert.deepEqual(stray, [], `${p.name} packs test or build files`);
  }

  // The scratch project and its lock.
  const rootLock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };
  const manifests = new Map<string, Manifest>(
    workspaces.map((w) => {
      const m = JSON.parse(readFileSync(join(root, w, "package.json"), "utf8")) as Manifest;
      return [m.name, m];
    }),
  );
  const tarball = (name: string) => `file:../tgz/${packed.find((p) => p.name === name)?.filename ?? "missing"}`;
  const dependencies: Record<string, string> = { ...extra };
  for (const name of manifests.keys()) dependencies[name] = tarball(name);
  const packages: Record<string, LockEntry> = {
    "": { name: "scratch", dependencies, devDependencies: devExtra },
  };
  const queue = [...Object.keys(dependencies), ...Object.keys(devExtra)];
  while (queue.length > 0) {
    const name = queue.shift() ?? "";
    const key = `node_modules/${name}`;
    if (packages[key]) continue;
    const m = manifests.get(name);
    let entry: LockEntry;
    if (m) {
      const file = join(tgz, tarball(name).slice("file:../tgz/".length));
      const integrity = "sha512-" + createHash("sha512").update(readFileSync(file)).digest("base64");
      entry = { version: m.version, resolved: tarball(name), integrity };
      for (const k of ["bin", "engines", "dependencies", "peerDependencies"] as const) if (m[k]) entry[k] = m[k];
    } else {
      const e = rootLock.packages[key];
      assert.ok(e && !e.link, `${name} is not in the repository's package-lock.json`);
      entry = Object.fromEntries(Object.entries(e).filter(([k]) => !["dev", "peer", "optional", "devOptional"].includes(k)));
    }
    packages[key] = entry;
    queue.push(...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.peerDependencies ?? {}));
  }
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "scratch", private: true, dependencies, devDependencies: devExtra }, null, 2));
  writeFileSync(join(app, "package-lock.json"), JSON.stringify({ name: "scratch", lockfileVersion: 3, requires: true, packages }, null, 2));
  ok(await sh("npm", ["ci", "--offline", "--no-audit", "--no-fund", "--loglevel=error"], app), "npm ci --offline in the scratch project");
  server = await startServer();
});

after(async () => {
  if (server) assert.equal(await server.stop(), 0);
  rmSync(dir, { recursive: true, force: true });
});

test("ESM: the message types, by either subpath", async () => {
  writeFileSync(
    join(app, "esm.mjs"),
    `import { create, toBinary, fromBinary } from "@bufbuild/protobuf";
import { GetUserDetailsRequestSchema, UserService } from "@acme/user-proto/user/v1/user_pb.js";
import * as bare from "@acme/user-proto/user/v1/user_pb";
const req = create(GetUserDetailsRequestSchema, { userId: "john123", authToken: "valid-token" });
const back = fromBinary(GetUserDetailsRequestSchema, toBinary(GetUserDetailsRequestSchema, req));
console.log(back.userId, UserService.typeName, bare.UserService === UserService);
`,
  );
  assert.equal(ok(await sh(process.execPath, ["esm.mjs"], app), "esm.mjs"), "john123 user.v1.UserService true\n");
});

test("CommonJS: require() of the packages (Node.js 20.19 and later)", async () => {
  writeFileSync(
    join(app, "cjs.cjs"),
    `const { create, toBinary, fromBinary } = require("@bufbuild/protobuf");
const { GetUserDetailsRequestSchema } = require("@acme/user-proto/user/v1/user_pb.js");
const { createUserServiceClient, exitCode, UsageError } = require("@acme/user-client");
const req = create(GetUserDetailsRequestSchema, { userId: "john123" });
const back = fromBinary(GetUserDetailsRequestSchema, toBinary(GetUserDetailsRequestSchema, req));
let code;
try { createUserServiceClient({ address: "::1:1" }); } catch (e) { code = exitCode(e); }
console.log(back.userId, typeof createUserServiceClient, code);
`,
  );
  assert.equal(ok(await sh(process.execPath, ["cjs.cjs"], app), "cjs.cjs"), "john123 function 2\n");
});

test("the generated code loads nothing Node.js-only (it goes into browser bundles)", async () => {
  // Every module that importing user_pb.js loads, recorded by a resolve hook.
  writeFileSync(
    join(app, "graph.mjs"),
    `import { register } from "node:module";
import { MessageChannel } from "node:worker_threads";
const { port1, port2 } = new MessageChannel();
const seen = [];
port1.on("message", (url) => seen.push(url));
const hook = "let port; export function initialize(d) { port = d.port; }" +
  "export async function resolve(s, c, next) { const r = await next(s, c); port.postMessage(r.url); return r; }";
register("data:text/javascript," + encodeURIComponent(hook), { data: { port: port2 }, transferList: [port2] });
await import("@acme/user-proto/user/v1/user_pb.js");
setTimeout(() => { port1.close(); console.log(JSON.stringify(seen)); }, 200);
`,
  );
  const seen = JSON.parse(ok(await sh(process.execPath, ["graph.mjs"], app), "graph.mjs")) as string[];
  assert.ok(seen.some((u) => u.endsWith("/@acme/user-proto/dist/user/v1/user_pb.js")), seen.join("\n"));
  assert.deepEqual(seen.filter((u) => !u.startsWith("file:")), [], "modules that are not files (Node.js built-ins)");
  assert.deepEqual(seen.filter((u) => /\/(cel|cel-spec|re2|connect[^/]*)\//.test(u)), [], "the CEL engine or Connect loaded with the types");
});

test("tsc: a strict program type-checks against the declarations (skipLibCheck off)", async () => {
  writeFileSync(
    join(app, "program.ts"),
    `import { create } from "@bufbuild/protobuf";
import { GetUserDetailsRequestSchema, type GetUserDetailsResponse } from "@acme/user-proto/user/v1/user_pb.js";
import { createUserServiceClient, exitCode, ExitCode, type ClientOptions } from "@acme/user-client";
const options: ClientOptions = { address: "127.0.0.1:50051", token: "valid-token", timeoutMs: 5000, retry: { maxAttempts: 2 } };
const req = create(GetUserDetailsRequestSchema, { userId: "john123" });
export async function main(): Promise<number> {
  const client = createUserServiceClient(options);
  try {
    const r: GetUserDetailsResponse = await client.getUserDetails({ userId: req.userId });
    return r.name.length > 0 ? ExitCode.OK : ExitCode.Other;
  } catch (err) {
    return exitCode(err);
  } finally {
    client.close();
  }
}
`,
  );
  const config = {
    compilerOptions: { strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, target: "es2022", module: "nodenext", moduleResolution: "nodenext", noEmit: true, skipLibCheck: false, types: ["node"] },
    files: ["program.ts"],
  };
  writeFileSync(join(app, "tsconfig.json"), JSON.stringify(config));
  ok(await sh(process.execPath, [join(app, "node_modules/typescript/bin/tsc"), "-p", "."], app), "tsc");
  // The same program with a type error fails: the declarations are checked.
  writeFileSync(join(app, "program.ts"), readFileSync(join(app, "program.ts"), "utf8").replace('userId: "john123"', "userId: 123"));
  const bad = await sh(process.execPath, [join(app, "node_modules/typescript/bin/tsc"), "-p", "."], app);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stdout, /TS2322/);
});

test("the reference call through the library, and through the CLI's bin", async () => {
  writeFileSync(
    join(app, "call.mjs"),
    `import { createUserServiceClient } from "@acme/user-client";
const client = createUserServiceClient({ address: process.argv[2], token: "valid-token" });
const r = await client.getUserDetails({ userId: "john123" });
client.close();
process.stdout.write(\`Response:\\nName: \${r.name}\\nEmail: \${r.email}\\nStatus: \${r.status}\\n\`);
`,
  );
  assert.equal(ok(await sh(process.execPath, ["call.mjs", server.addr], app), "call.mjs"), reference);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("USER_CLIENT_")));
  assert.equal(ok(await sh(join(app, "node_modules/.bin/user-client-node"), ["--addr", server.addr], app, env), "user-client-node"), reference);
});
