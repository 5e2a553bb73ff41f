// The `make lint` type-check gate (tsc --noEmit, strict) passes on the
// committed code and fails on a seeded type error against the generated types.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { repoFile, tempDir } from "./harness.js";

const tsc = repoFile("node_modules/typescript/bin/tsc");
const project = repoFile("services/user-client-node/tsconfig.json");

function typecheck(extra: string[]): Promise<{ code: number; output: string }> {
  // A config extending the project's, with its own file list.
  const dir = tempDir();
  const base = dirname(project);
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      extends: project,
      compilerOptions: { noEmit: true, rootDir: "/", typeRoots: [repoFile("node_modules/@types")] },
      include: [join(base, "src"), join(base, "../../gen/es"), ...extra],
    }),
  );
  return new Promise((resolve) =>
    execFile(process.execPath, [tsc, "-p", dir], (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, output: stdout + stderr }),
    ),
  );
}

test("tsc --noEmit passes on the client and gen/es, and fails on a seeded type error", async () => {
  const clean = await typecheck([]);
  assert.equal(clean.code, 0, clean.output);

  const bad = join(tempDir(), "seeded.ts");
  const gen = repoFile("gen/es/user/v1/user_pb.ts").replace(/\.ts$/, ".js");
  writeFileSync(
    bad,
    `import type { GetUserDetailsRequest } from ${JSON.stringify(gen)};\n` +
      `export const r: Pick<GetUserDetailsRequest, "userId"> = { userId: 42 };\n`,
  );
  const seeded = await typecheck([bad]);
  assert.notEqual(seeded.code, 0, "tsc accepted a number for the string field userId");
  assert.match(seeded.output, /TS2322/);
});
