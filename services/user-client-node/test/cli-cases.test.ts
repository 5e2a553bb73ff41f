// The command-line table both clients run (testdata/cli/cases.json; the Go
// client's is services/user-client/cli_cases_test.go): the same arguments
// and environment give the same exit code and the same bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { closedAddr, repoFile, startFake, type Answer } from "../../user-client-node-lib/test/harness.js";
import { decodeBytes } from "../src/rawargs.js";
import { run } from "../src/run.js";

type Text = string | { hex: string };
type Case = {
  name: string;
  args: Text[];
  env?: Record<string, Text>;
  server?: Answer;
  exit: number;
  stdout: string;
  stderr: string;
};

const table = JSON.parse(readFileSync(repoFile("testdata/cli/cases.json"), "utf8")) as { cases: Case[] };

// text gives a table value as main.ts gives it to run: bytes that are not
// UTF-8 as lone surrogates (rawargs.ts).
const text = (t: Text) => (typeof t === "string" ? t : decodeBytes(Buffer.from(t.hex, "hex")));

test("the table holds at least 50 cases", () => {
  assert.ok(table.cases.length >= 50, `${table.cases.length} cases`);
});

for (const c of table.cases) {
  test(`cli: ${c.name}`, async () => {
    const fake = c.server ? await startFake(c.server) : undefined;
    try {
      const addr = fake?.addr ?? (await closedAddr());
      const sub = (t: Text) => text(t).replaceAll("{addr}", addr);
      const env: Record<string, string> = { USER_CLIENT_ADDR: addr };
      for (const [k, v] of Object.entries(c.env ?? {})) env[k] = sub(v);
      let stdout = "";
      let stderr = "";
      const exit = await run(c.args.map(sub), {
        getenv: (k) => env[k],
        stdout: (s) => (stdout += s),
        stderr: (s) => (stderr += s),
        signal: new AbortController().signal,
      });
      assert.deepEqual({ exit, stdout, stderr }, { exit: c.exit, stdout: c.stdout, stderr: c.stderr });
    } finally {
      await fake?.close();
    }
  });
}
