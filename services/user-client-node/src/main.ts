#!/usr/bin/env node
// Command user-client-node calls user.v1.UserService; see --help.
import { rawArgs, rawGetenv } from "./rawargs.js";
import { run } from "./run.js";

const ac = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => ac.abort());

process.exitCode = await run(rawArgs(), {
  getenv: rawGetenv(),
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  signal: ac.signal,
});
