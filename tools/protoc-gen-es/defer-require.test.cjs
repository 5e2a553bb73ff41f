// Unit tests of deferRequire (node --test; make test-node runs them).
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { createRequire } = require("node:module");
const { test } = require("node:test");
const { deferRequire } = require("./defer-require.cjs");

// fixture writes a package `name` into a new node_modules directory whose
// module counts its evaluations in globalThis.loads[name], and returns the
// directory to resolve it from.
function fixture(t, name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "defer-require-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pkg = path.join(dir, "node_modules", name);
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name, main: "index.js" }));
  fs.writeFileSync(
    path.join(pkg, "index.js"),
    `globalThis.loads ??= {};
globalThis.loads[${JSON.stringify(name)}] = (globalThis.loads[${JSON.stringify(name)}] ?? 0) + 1;
exports.answer = 42;
exports.greet = (who) => "hello " + who;
`,
  );
  return dir;
}

const loads = (name) => globalThis.loads?.[name] ?? 0;

test("the module is loaded on the first property read, once", (t) => {
  const dir = fixture(t, "deferred-once");
  deferRequire("deferred-once", dir);
  const m = createRequire(path.join(dir, "x.js"))("deferred-once");
  assert.equal(loads("deferred-once"), 0, "loaded at require");
  assert.equal(m.answer, 42);
  assert.equal(loads("deferred-once"), 1);
  assert.equal(m.greet("you"), "hello you");
  assert.equal(createRequire(path.join(dir, "y.js"))("deferred-once").answer, 42);
  assert.equal(loads("deferred-once"), 1, "loaded more than once");
});

test("compiled default imports work and do not load at import", (t) => {
  const dir = fixture(t, "deferred-default");
  deferRequire("deferred-default", dir);
  // What TypeScript compiles `import m from "..."` to in CommonJS.
  const importDefault = (mod) => (mod && mod.__esModule ? mod : { default: mod });
  const m = importDefault(createRequire(path.join(dir, "x.js"))("deferred-default"));
  assert.equal(loads("deferred-default"), 0, "the __esModule probe loaded the module");
  assert.equal(m.default.greet("there"), "hello there");
  assert.equal(loads("deferred-default"), 1);
});

test("a module that cannot be found fails at once", (t) => {
  const dir = fixture(t, "present");
  assert.throws(() => deferRequire("absent", dir), { code: "MODULE_NOT_FOUND" });
});
