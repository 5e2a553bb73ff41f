// Tests of node-deps (node --test; make test-node runs them), on fixture
// projects written to temporary directories: no npm, no network.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { problems } from "./node-deps.mjs";

const script = join(dirname(fileURLToPath(import.meta.url)), "node-deps.mjs");

function write(dir, rel, value) {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), typeof value === "string" ? value : JSON.stringify(value, null, 2));
}

// project writes, in a new directory, the shape of this repository's npm
// project as `npm ci` at the root leaves it: a root with a dev dependency
// (the protoc-gen-es of make generate), a workspace "ws" with a dependency,
// a nested package, and an optional one for another platform.
function project(t) {
  const dir = mkdtempSync(join(tmpdir(), "node-deps-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = { name: "root", workspaces: ["ws"], devDependencies: { gen: "1.0.0" } };
  const ws = { name: "ws", dependencies: { lib: "2.0.0" } };
  write(dir, "package.json", root);
  write(dir, "ws/package.json", ws);
  write(dir, "package-lock.json", {
    name: "root",
    lockfileVersion: 3,
    packages: {
      "": root,
      "node_modules/gen": { version: "1.0.0", dev: true },
      "node_modules/gen/node_modules/helper": { version: "0.1.0", dev: true },
      "node_modules/lib": { version: "2.0.0" },
      "node_modules/native-elsewhere": { version: "3.0.0", optional: true, os: ["!" + process.platform] },
      "node_modules/ws": { resolved: "ws", link: true },
      ws: { name: "ws", dependencies: { lib: "2.0.0" } },
    },
  });
  write(dir, "node_modules/gen/package.json", { name: "gen", version: "1.0.0" });
  write(dir, "node_modules/gen/node_modules/helper/package.json", { name: "helper", version: "0.1.0" });
  write(dir, "node_modules/lib/package.json", { name: "lib", version: "2.0.0" });
  symlinkSync("../ws", join(dir, "node_modules/ws"));
  return dir;
}

test("a complete install has no problems", (t) => {
  assert.deepEqual(problems(project(t)), []);
});

test("what npm ci in a workspace directory leaves: the root's packages gone", (t) => {
  const dir = project(t);
  rmSync(join(dir, "node_modules/gen"), { recursive: true });
  assert.deepEqual(problems(dir), [
    "node_modules/gen: missing (lock: 1.0.0)",
    "node_modules/gen/node_modules/helper: missing (lock: 0.1.0)",
  ]);
});

test("another version installed", (t) => {
  const dir = project(t);
  write(dir, "node_modules/lib/package.json", { name: "lib", version: "2.0.1" });
  assert.deepEqual(problems(dir), ["node_modules/lib: 2.0.1 installed, lock: 2.0.0"]);
});

test("nothing installed", (t) => {
  const dir = project(t);
  rmSync(join(dir, "node_modules"), { recursive: true });
  assert.deepEqual(problems(dir), ["node_modules: not installed"]);
});

test("a workspace link missing or pointing elsewhere", (t) => {
  const dir = project(t);
  rmSync(join(dir, "node_modules/ws"));
  assert.deepEqual(problems(dir), ["node_modules/ws: missing (a link to ws)"]);
  mkdirSync(join(dir, "elsewhere"));
  symlinkSync("../elsewhere", join(dir, "node_modules/ws"));
  assert.match(problems(dir).join("\n"), /^node_modules\/ws: links to .*elsewhere, not ws$/);
});

test("node_modules shared from another copy of the project through a symlink", (t) => {
  const original = project(t);
  const copy = mkdtempSync(join(tmpdir(), "node-deps-copy-"));
  t.after(() => rmSync(copy, { recursive: true, force: true }));
  for (const f of ["package.json", "package-lock.json", "ws/package.json"]) {
    write(copy, f, readFileSync(join(original, f), "utf8"));
  }
  symlinkSync(join(original, "node_modules"), join(copy, "node_modules"));
  assert.deepEqual(problems(copy), []);
});

test("a manifest changed since the lock was written", (t) => {
  const dir = project(t);
  write(dir, "ws/package.json", { name: "ws", dependencies: { lib: "2.1.0" } });
  assert.deepEqual(problems(dir), [
    "ws/package.json: dependencies differ from package-lock.json (changed since the lock was written: run npm install)",
  ]);
  write(dir, "package.json", { name: "root", workspaces: ["ws", "more"], devDependencies: { gen: "1.0.0" } });
  assert.match(problems(dir).join("\n"), /^package\.json: workspaces differ/m);
});

test("an optional package that did not install is not a problem", (t) => {
  const dir = project(t);
  write(dir, "package-lock.json", {
    lockfileVersion: 3,
    packages: {
      "": { name: "root", workspaces: ["ws"], devDependencies: { gen: "1.0.0" } },
      "node_modules/gen": { version: "1.0.0", dev: true },
      "node_modules/gone": { version: "1.0.0", optional: true },
    },
  });
  assert.deepEqual(problems(dir), []);
});

test("a lock npm 6 wrote, or none", (t) => {
  const dir = project(t);
  write(dir, "package-lock.json", { lockfileVersion: 1, dependencies: {} });
  assert.match(problems(dir)[0], /lockfileVersion 1 has no "packages"/);
  rmSync(join(dir, "package-lock.json"));
  assert.deepEqual(problems(dir), ["package-lock.json: missing"]);
});

test("the command exits 1 naming the problems, 0 when there are none", (t) => {
  const dir = project(t);
  assert.equal(execFileSync(process.execPath, [script, dir], { encoding: "utf8", stdio: "pipe" }), "");
  rmSync(join(dir, "node_modules/gen"), { recursive: true });
  let err;
  try {
    execFileSync(process.execPath, [script, dir], { encoding: "utf8", stdio: "pipe" });
  } catch (e) {
    err = e;
  }
  assert.equal(err?.status, 1);
  assert.equal(err.stderr, `node-deps: ${dir}: node_modules/gen: missing (lock: 1.0.0)\n` +
    `node-deps: ${dir}: node_modules/gen/node_modules/helper: missing (lock: 0.1.0)\n`);
});
