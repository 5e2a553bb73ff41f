// node-deps: does node_modules hold what package-lock.json says?
//
//   node tools/node-deps/node-deps.mjs [DIR...]     (default: .)
//
// For each DIR holding a package-lock.json (lockfileVersion 2 or 3), it
// exits 0 when every package the lock lists is installed at its version
// (workspace links included) and every manifest (DIR/package.json and each
// workspace's) still declares what the lock recorded for it; otherwise it
// prints what is wrong, one line each, and exits 1. The Makefile runs it
// before every target that needs the packages and runs `npm ci` in DIR when
// it fails.
//
// Why not a stamp file: `npm ci` in a workspace directory (as the Node
// client's README says to run) installs that workspace's packages only,
// removing the root's (protoc-gen-es), and rewrites the files a stamp would
// look at. Checking the installed packages themselves catches that, and
// any other partial install, whatever left it behind.
import { existsSync, lstatSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

// The manifest fields the lock records for the root and each workspace;
// npm ci refuses to install when they disagree.
const manifestFields = ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"];

/**
 * problems lists what keeps node_modules under dir from matching
 * dir/package-lock.json; empty when it matches.
 * @param {string} dir
 * @returns {string[]}
 */
export function problems(dir) {
  let lock;
  try {
    lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8"));
  } catch (err) {
    return [`package-lock.json: ${err.code === "ENOENT" ? "missing" : err.message}`];
  }
  if (!lock.packages || lock.lockfileVersion < 2) {
    return [`package-lock.json: lockfileVersion ${lock.lockfileVersion} has no "packages" (npm 7 or later writes it)`];
  }
  if (!existsSync(join(dir, "node_modules"))) {
    return ["node_modules: not installed"];
  }
  const out = [];
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === "" || !key.split("/").includes("node_modules")) {
      // The root project or a workspace folder: its manifest must still
      // say what the lock recorded.
      out.push(...manifestDrift(dir, key, entry));
    } else if (entry.link) {
      out.push(...linkProblem(dir, key, entry));
    } else {
      out.push(...installProblem(dir, key, entry));
    }
  }
  return out;
}

function manifestDrift(dir, key, entry) {
  const file = join(key || ".", "package.json");
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, file), "utf8"));
  } catch (err) {
    return [`${file}: ${err.code === "ENOENT" ? "missing" : err.message}`];
  }
  const out = [];
  for (const field of manifestFields) {
    if (!sameMap(manifest[field], entry[field])) {
      out.push(`${file}: ${field} differ from package-lock.json (changed since the lock was written: run npm install)`);
    }
  }
  if (key === "" && JSON.stringify(manifest.workspaces ?? []) !== JSON.stringify(entry.workspaces ?? [])) {
    out.push(`${file}: workspaces differ from package-lock.json (run npm install)`);
  }
  return out;
}

function sameMap(a = {}, b = {}) {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

function linkProblem(dir, key, entry) {
  let got;
  try {
    got = realpathSync(join(dir, key));
  } catch {
    return [`${key}: missing (a link to ${entry.resolved})`];
  }
  // npm's links are relative to where node_modules is; resolve the target
  // from there, so a node_modules shared through a symlink (as the gate
  // tests' scratch copies do) is judged by its own project.
  const base = dirname(realpathSync(join(dir, "node_modules")));
  let want = resolve(base, entry.resolved);
  try {
    want = realpathSync(want);
  } catch {
    // reported as the workspace's missing package.json
  }
  return got === want ? [] : [`${key}: links to ${got}, not ${entry.resolved}`];
}

function installProblem(dir, key, entry) {
  if (!platformMatches(entry)) {
    return []; // npm skips packages built for another platform
  }
  let installed;
  try {
    lstatSync(join(dir, key));
    installed = JSON.parse(readFileSync(join(dir, key, "package.json"), "utf8"));
  } catch {
    // npm leaves out an optional package that failed to install.
    return entry.optional ? [] : [`${key}: missing (lock: ${entry.version})`];
  }
  return installed.version === entry.version ? [] : [`${key}: ${installed.version} installed, lock: ${entry.version}`];
}

// platformMatches applies npm's os/cpu fields ("!x" excludes x).
function platformMatches(entry) {
  const ok = (list, value) => {
    if (!list?.length) return true;
    if (list.includes(`!${value}`)) return false;
    const allowed = list.filter((v) => !v.startsWith("!"));
    return allowed.length === 0 || allowed.includes(value);
  };
  return ok(entry.os, process.platform) && ok(entry.cpu, process.arch);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dirs = process.argv.length > 2 ? process.argv.slice(2) : ["."];
  const shown = 5;
  let failed = false;
  for (const dir of dirs) {
    const found = problems(dir);
    for (const p of found.slice(0, shown)) {
      console.error(`node-deps: ${dir === "." ? "" : `${dir}: `}${p}`);
    }
    if (found.length > shown) {
      console.error(`node-deps: ... and ${found.length - shown} more`);
    }
    failed ||= found.length > 0;
  }
  process.exit(failed ? 1 : 0);
}
