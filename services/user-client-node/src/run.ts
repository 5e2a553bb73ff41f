// The whole program: flags and environment in, results on stdout, a failure
// on stderr, and the exit code (the Go user-client's behaviour).
import { create } from "@bufbuild/protobuf";
import { GetUserDetailsRequestSchema } from "../../../gen/es/user/v1/user_pb.js";
import { HelpRequested, parse, usage } from "./config.js";
import { Channel, tlsOptions } from "./client.js";
import { exitCode } from "./exitcode.js";
import * as render from "./render.js";
import { check } from "./validation.js";

export type IO = {
  getenv: (name: string) => string | undefined;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  signal: AbortSignal;
};

/** run executes one command line and returns the process exit code. */
export async function run(args: string[], io: IO): Promise<number> {
  let redact = (s: string) => s;
  try {
    const cfg = parse(args, io.getenv);
    if (cfg.token !== "") redact = (s) => s.replaceAll(cfg.token, "[REDACTED]");
    const req = create(GetUserDetailsRequestSchema, { userId: cfg.user, authToken: cfg.token });
    // Checked before any connection: a request the server would reject
    // never leaves this process.
    const invalid = check(req);
    if (invalid) throw invalid;
    const channel = new Channel(cfg.addrs, cfg.tls ? await tlsOptions(cfg) : undefined);
    try {
      for (let i = 0; i < cfg.count; i++) {
        const resp = await channel.getUserDetails(req, cfg.timeoutMs, io.signal);
        io.stdout(render.response(cfg.output, resp));
      }
    } finally {
      channel.close();
    }
    return exitCode(undefined);
  } catch (err) {
    if (err instanceof HelpRequested) {
      io.stdout(usage());
      return exitCode(undefined);
    }
    io.stderr(render.error(err, redact));
    return exitCode(err);
  }
}
