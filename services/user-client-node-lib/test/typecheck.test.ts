// The type-check gate (strict tsc over gen/es and the packages built on it,
// `make lint-ts`) holds code to the generated types: a program using them
// right passes, the same program with a seeded type error fails.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoFile, tempDir } from "./harness.js";

const tsc = repoFile("node_modules/typescript/bin/tsc");

// typecheck type-checks source with the packages' strict settings, against
// the generated TypeScript in gen/es (the source, not a build of it).
function typecheck(source: string): Promise<{ code: number; output: string }> {
  const dir = tempDir();
  writeFileSync(join(dir, "program.ts"), source);
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      extends: repoFile("services/user-client-node-lib/tsconfig.base.json"),
      compilerOptions: {
        composite: false,
        noEmit: true,
        typeRoots: [repoFile("node_modules/@types")],
        paths: { "@acme/user-proto/*": [`${repoFile("gen/es/package.json").replace(/package\.json$/, "")}*`] },
      },
      files: ["program.ts"],
    }),
  );
  return new Promise((resolve) =>
    execFile(process.execPath, [tsc, "-p", dir], (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, output: stdout + stderr }),
    ),
  );
}

const program = (userId: string) =>
  `import type { GetUserDetailsRequest } from "@acme/user-proto/user/v1/user_pb.js";\n` +
  `export const r: Pick<GetUserDetailsRequest, "userId"> = { userId: ${userId} };\n`;

test("tsc passes a program using the generated types, and fails it with a seeded type error", async () => {
  const clean = await typecheck(program(`"john123"`));
  assert.equal(clean.code, 0, clean.output);
  const seeded = await typecheck(program("42"));
  assert.notEqual(seeded.code, 0, "tsc accepted a number for the string field userId");
  assert.match(seeded.output, /TS2322/);
});
